// The SIP user agent: one UDP socket, the client transaction table, the live calls, and the
// UAS side we need during a call (BYE, re-INVITE, OPTIONS, INFO from the far end). Responses to
// requests are cached per transaction so a retransmitted request gets the same answer, and
// final responses to an INVITE are retransmitted until its ACK arrives (RFC 3261 13.3.1.4).
import { isIPv4 } from 'node:net';
import type { Logger } from 'pino';
import { cseqOf, parseSipUri, SipHeaders, tagOf, type SipMessage, type SipRequest, type SipResponse } from './message.js';
import { branchOf, ClientTransaction, DEFAULT_TIMERS, transactionKey, type Timers } from './transaction.js';
import { UdpTransport, type Peer, type TraceFn } from './transport.js';
import type { DigestCredentials } from './digest.js';
import { newTag, SipCall, type CallHost, type RequestOutcome, type SipCallOptions } from './call.js';

export interface SipUserAgentOptions {
  /** Address we bind and announce (Via, Contact, SDP). */
  localHost: string;
  /** 0 = a random free port. */
  localPort: number;
  trunk: Peer;
  credentials: DigestCredentials | null;
  rtpPortRange: [number, number];
  log: Logger;
  timers?: Partial<Timers>;
  userAgent?: string;
  /** Sees every datagram in and out (tests, debugging). */
  trace?: TraceFn;
}

interface CachedResponse {
  response: SipResponse;
  to: Peer;
  timer: NodeJS.Timeout;
}

interface PendingInviteResponse {
  response: SipResponse;
  to: Peer;
  retransmit: NodeJS.Timeout | null;
  giveUp: NodeJS.Timeout;
}

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE';

export class SipUserAgent implements CallHost {
  readonly timers: Timers;
  readonly trunk: Peer;
  readonly credentials: DigestCredentials | null;
  readonly rtpPortRange: [number, number];
  readonly userAgent: string;
  readonly log: Logger;
  private readonly transport: UdpTransport;
  private readonly transactions = new Map<string, ClientTransaction>();
  private readonly calls = new Map<string, SipCall>();
  private readonly lingering = new Set<NodeJS.Timeout>();
  private readonly responses = new Map<string, CachedResponse>();
  private readonly inviteResponses = new Map<string, PendingInviteResponse>();
  private localPeer: Peer | null = null;

  constructor(private readonly options: SipUserAgentOptions) {
    if (!isIPv4(options.localHost) || options.localHost === '0.0.0.0') {
      throw new Error('the SIP local host must be the IPv4 address the trunk reaches us at');
    }
    this.timers = { ...DEFAULT_TIMERS, ...options.timers };
    this.trunk = options.trunk;
    this.credentials = options.credentials;
    this.rtpPortRange = options.rtpPortRange;
    this.userAgent = options.userAgent ?? 'Televisit';
    this.log = options.log;
    this.transport = new UdpTransport(options.localHost, options.localPort, options.log, options.trace);
    this.transport.onMessage = (msg, from) => this.receive(msg, from);
  }

  async start(): Promise<Peer> {
    this.localPeer = await this.transport.listen();
    this.log.info({ sip: `${this.localPeer.host}:${this.localPeer.port}`, trunk: `${this.trunk.host}:${this.trunk.port}` }, 'SIP user agent listening');
    return this.localPeer;
  }

  get local(): Peer {
    if (!this.localPeer) throw new Error('the SIP user agent is not started');
    return this.localPeer;
  }

  /** Datagrams dropped as malformed since start. */
  get droppedDatagrams(): number {
    return this.transport.droppedCount;
  }

  get liveCalls(): SipCall[] {
    return [...this.calls.values()].filter((c) => c.ended === null);
  }

  /** Creates and starts an outbound call. */
  call(options: SipCallOptions): SipCall {
    const call = new SipCall(this, options);
    this.calls.set(call.callId, call);
    call.start().catch((err: unknown) => {
      this.log.error({ err }, 'starting a call failed');
      call.abort();
    });
    return call;
  }

  /** Ends every call (BYE/CANCEL sent, not awaited) and closes the socket. */
  async stop(): Promise<void> {
    for (const call of [...this.calls.values()]) call.abort();
    // Let the last BYE/CANCEL datagrams leave before the socket closes.
    await new Promise((r) => setTimeout(r, 20));
    for (const tx of [...this.transactions.values()]) tx.terminate();
    for (const t of this.lingering) clearTimeout(t);
    this.lingering.clear();
    for (const c of this.responses.values()) clearTimeout(c.timer);
    this.responses.clear();
    for (const p of this.inviteResponses.values()) {
      if (p.retransmit) clearTimeout(p.retransmit);
      clearTimeout(p.giveUp);
    }
    this.inviteResponses.clear();
    this.calls.clear();
    await this.transport.close();
  }

  // --- CallHost ----------------------------------------------------------------------------

  startTransaction(req: SipRequest, to: Peer, user: { onResponse(res: SipResponse): void; onTimeout(): void }): ClientTransaction {
    const tx = new ClientTransaction(
      { timers: this.timers, send: (m, p) => this.transport.send(m, p), remove: (t) => this.transactions.get(t.key) === t && this.transactions.delete(t.key) },
      req,
      to,
      {
        onResponse: (res) => this.guard(() => user.onResponse(res)),
        onTimeout: () => this.guard(() => user.onTimeout()),
      },
    );
    this.transactions.set(tx.key, tx);
    tx.start();
    return tx;
  }

  sendStateless(req: SipRequest, to: Peer): void {
    this.transport.send(req, to);
  }

  resolveUri(uri: string): Peer {
    const u = parseSipUri(uri);
    const host = u.host.replace(/^\[|\]$/g, '');
    return { host, port: u.port ?? (u.scheme === 'sips' ? 5061 : 5060) };
  }

  callEnded(call: SipCall): void {
    // Keep the call a while to re-ACK a retransmitted 2xx and answer late requests.
    const t = setTimeout(() => {
      this.lingering.delete(t);
      if (this.calls.get(call.callId) === call) this.calls.delete(call.callId);
    }, 64 * this.timers.t1);
    t.unref();
    this.lingering.add(t);
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, 'SIP call handler failed');
    }
  }

  // --- incoming ----------------------------------------------------------------------------

  private receive(msg: SipMessage, from: Peer): void {
    if (msg.kind === 'response') this.receiveResponse(msg);
    else this.receiveRequest(msg, from);
  }

  private receiveResponse(res: SipResponse): void {
    const cseq = cseqOf(res);
    const tx = this.transactions.get(transactionKey(branchOf(res), cseq.method));
    if (tx) {
      tx.receive(res);
      return;
    }
    if (cseq.method === 'INVITE' && res.status >= 200 && res.status < 300) {
      // A 2xx retransmission after the transaction ended: the call re-sends its ACK.
      const call = this.calls.get(res.headers.get('call-id')!);
      if (call) {
        this.guard(() => call.handleLate2xx(res));
        return;
      }
    }
    this.log.debug({ status: res.status, method: cseq.method }, 'response matching no transaction dropped');
  }

  private receiveRequest(req: SipRequest, from: Peer): void {
    const callId = req.headers.get('call-id')!;
    const seq = cseqOf(req).seq;
    if (req.method === 'ACK') {
      const pending = this.inviteResponses.get(`${callId}|${seq}`);
      if (pending) this.stopInviteResponse(`${callId}|${seq}`);
      const call = this.calls.get(callId);
      if (call && pending && pending.response.status < 300) this.guard(() => call.handleAck(req));
      return;
    }
    const key = `${transactionKey(branchOf(req), req.method)}|${callId}|${seq}`;
    const cached = this.responses.get(key);
    if (cached) {
      // A retransmitted request: the same answer again.
      this.transport.send(cached.response, cached.to);
      return;
    }
    let outcome: RequestOutcome;
    const toTag = tagOf(req.headers.get('to')!);
    const call = this.calls.get(callId);
    const unsupported = (req.headers.getAll('require').join(',') || '').split(',').map((s) => s.trim()).filter(Boolean);
    if (unsupported.length > 0 && req.method !== 'CANCEL') {
      outcome = { status: 420, reason: 'Bad Extension', headers: [['Unsupported', unsupported.join(', ')]] };
    } else if (req.method === 'CANCEL') {
      // We answer every INVITE at once, so there is never anything left to cancel.
      outcome = call ? { status: 200, reason: 'OK' } : { status: 481, reason: 'Call/Transaction Does Not Exist' };
    } else if (toTag) {
      outcome = call && call.localTag === toTag ? this.safeHandle(call, req) : { status: 481, reason: 'Call/Transaction Does Not Exist' };
    } else if (req.method === 'OPTIONS') {
      outcome = { status: 200, reason: 'OK', headers: [['Allow', ALLOW], ['Accept', 'application/sdp']] };
    } else if (req.method === 'INVITE') {
      outcome = { status: 603, reason: 'Decline' };
    } else if (['BYE', 'INFO', 'UPDATE', 'PRACK'].includes(req.method)) {
      outcome = { status: 481, reason: 'Call/Transaction Does Not Exist' };
    } else {
      outcome = { status: 501, reason: 'Not Implemented', headers: [['Allow', ALLOW]] };
    }
    const response = this.buildResponse(req, outcome, toTag ?? newTag());
    this.transport.send(response, from);
    const timer = setTimeout(() => this.responses.delete(key), 64 * this.timers.t1);
    timer.unref();
    this.responses.set(key, { response, to: from, timer });
    if (req.method === 'INVITE') this.retransmitUntilAck(`${callId}|${seq}`, response, from);
  }

  private safeHandle(call: SipCall, req: SipRequest): RequestOutcome {
    try {
      return call.handleRequest(req);
    } catch (err) {
      this.log.error({ err, method: req.method }, 'in-dialog request handling failed');
      return { status: 500, reason: 'Server Internal Error' };
    }
  }

  private buildResponse(req: SipRequest, outcome: RequestOutcome, localTag: string): SipResponse {
    const h = new SipHeaders();
    for (const via of req.headers.getAll('via')) h.add('Via', via);
    h.add('From', req.headers.get('from')!);
    const to = req.headers.get('to')!;
    h.add('To', tagOf(to) ? to : `${to};tag=${localTag}`);
    h.add('Call-ID', req.headers.get('call-id')!);
    h.add('CSeq', req.headers.get('cseq')!);
    h.add('Server', this.userAgent);
    for (const [k, v] of outcome.headers ?? []) h.add(k, v);
    return { kind: 'response', status: outcome.status, reason: outcome.reason, headers: h, body: outcome.body ?? '' };
  }

  /** Timer G/H style: re-send a final INVITE response (T1 doubling, at most T2) until the ACK. */
  private retransmitUntilAck(key: string, response: SipResponse, to: Peer): void {
    this.stopInviteResponse(key);
    let interval = this.timers.t1;
    const pending: PendingInviteResponse = {
      response,
      to,
      retransmit: null,
      giveUp: setTimeout(() => {
        this.log.warn({ status: response.status }, 'no ACK for our response to an INVITE');
        this.stopInviteResponse(key);
      }, 64 * this.timers.t1),
    };
    const tick = () => {
      this.transport.send(response, to);
      interval = Math.min(interval * 2, this.timers.t2);
      pending.retransmit = setTimeout(tick, interval);
    };
    pending.retransmit = setTimeout(tick, interval);
    this.inviteResponses.set(key, pending);
  }

  private stopInviteResponse(key: string): void {
    const p = this.inviteResponses.get(key);
    if (!p) return;
    if (p.retransmit) clearTimeout(p.retransmit);
    clearTimeout(p.giveUp);
    this.inviteResponses.delete(key);
  }
}
