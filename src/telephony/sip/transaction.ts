// Client transactions over UDP (RFC 3261 section 17.1): retransmission until a response, a
// timeout when none comes, and the ACK for a non-2xx final response to an INVITE.
//   INVITE:     timer A (T1, doubling) retransmits, timer B (64*T1) gives up while no response;
//               3xx-6xx are ACKed here and absorbed for timer D; 2xx goes to the UA (it ACKs).
//   non-INVITE: timer E (T1 doubling up to T2) retransmits, timer F (64*T1) gives up;
//               retransmitted finals are absorbed for timer K (T4).
import { cseqOf, type SipRequest, type SipResponse, SipHeaders } from './message.js';
import type { Peer } from './transport.js';

export interface Timers {
  t1: number;
  t2: number;
  t4: number;
}

export const DEFAULT_TIMERS: Timers = { t1: 500, t2: 4000, t4: 5000 };

export interface TransactionUser {
  onResponse(res: SipResponse): void;
  /** No final response in 64*T1 (timer B or F). */
  onTimeout(): void;
}

export interface TransactionHost {
  timers: Timers;
  send(msg: SipRequest, to: Peer): void;
  /** Removes the transaction from the table once it is terminated. */
  remove(tx: ClientTransaction): void;
}

export class ClientTransaction {
  readonly key: string;
  readonly isInvite: boolean;
  private state: 'calling' | 'proceeding' | 'completed' | 'terminated' = 'calling';
  private retransmit: NodeJS.Timeout | null = null;
  private timeout: NodeJS.Timeout | null = null;
  private linger: NodeJS.Timeout | null = null;
  private ack: SipRequest | null = null;

  constructor(
    private readonly host: TransactionHost,
    readonly request: SipRequest,
    readonly destination: Peer,
    private readonly user: TransactionUser,
  ) {
    this.isInvite = request.method === 'INVITE';
    this.key = transactionKey(branchOf(request), request.method);
  }

  start(): void {
    this.host.send(this.request, this.destination);
    const { t1, t2 } = this.host.timers;
    let interval = t1;
    const tick = () => {
      if (this.state !== 'calling' && !(this.state === 'proceeding' && !this.isInvite)) return;
      this.host.send(this.request, this.destination);
      interval = this.isInvite ? interval * 2 : this.state === 'proceeding' ? t2 : Math.min(interval * 2, t2);
      this.retransmit = setTimeout(tick, interval);
    };
    this.retransmit = setTimeout(tick, interval);
    this.timeout = setTimeout(() => {
      if (this.state === 'completed' || this.state === 'terminated') return;
      // An INVITE that got a provisional response waits for the UA (ring timeout, CANCEL).
      if (this.isInvite && this.state === 'proceeding') return;
      this.terminate();
      this.user.onTimeout();
    }, 64 * t1);
  }

  receive(res: SipResponse): void {
    if (this.state === 'terminated') return;
    if (this.state === 'completed') {
      // A retransmitted final response: the INVITE's ACK was lost.
      if (this.isInvite && res.status >= 300 && this.ack) this.host.send(this.ack, this.destination);
      return;
    }
    if (res.status < 200) {
      if (this.state === 'calling') {
        this.state = 'proceeding';
        if (this.isInvite) this.clearRetransmit();
      }
      this.user.onResponse(res);
      return;
    }
    this.clearRetransmit();
    if (this.timeout) clearTimeout(this.timeout);
    if (this.isInvite && res.status < 300) {
      this.terminate();
      this.user.onResponse(res);
      return;
    }
    this.state = 'completed';
    if (this.isInvite) {
      this.ack = ackForNon2xx(this.request, res);
      this.host.send(this.ack, this.destination);
    }
    this.user.onResponse(res);
    // Timer D (32 s on UDP) for an INVITE, timer K (T4) otherwise.
    this.linger = setTimeout(() => this.terminate(), this.isInvite ? Math.max(32_000, 64 * this.host.timers.t1) : this.host.timers.t4);
  }

  private clearRetransmit(): void {
    if (this.retransmit) clearTimeout(this.retransmit);
    this.retransmit = null;
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.clearRetransmit();
    if (this.timeout) clearTimeout(this.timeout);
    if (this.linger) clearTimeout(this.linger);
    this.host.remove(this);
  }
}

export function branchOf(msg: SipRequest | SipResponse): string {
  const via = msg.headers.get('via') ?? '';
  return /;\s*branch=([^;,\s]+)/i.exec(via)?.[1] ?? '';
}

export function transactionKey(branch: string, method: string): string {
  return `${branch}|${method === 'ACK' ? 'INVITE' : method}`;
}

/** RFC 3261 section 17.1.1.3: the ACK a client transaction sends for a 3xx-6xx answer. */
function ackForNon2xx(invite: SipRequest, res: SipResponse): SipRequest {
  const h = new SipHeaders();
  h.add('Via', invite.headers.get('via')!);
  for (const route of invite.headers.getAll('route')) h.add('Route', route);
  h.add('Max-Forwards', '70');
  h.add('From', invite.headers.get('from')!);
  h.add('To', res.headers.get('to')!);
  h.add('Call-ID', invite.headers.get('call-id')!);
  h.add('CSeq', `${cseqOf(invite).seq} ACK`);
  return { kind: 'request', method: 'ACK', uri: invite.uri, headers: h, body: '' };
}
