// SIP over UDP (RFC 3261 section 18): one socket for every call. Datagrams that do not parse
// are dropped with a warning (rate-limited) and never reach the UA; handler errors are caught.
import dgram from 'node:dgram';
import type { Logger } from 'pino';
import { parseMessage, serialize, SipParseError, type SipMessage } from './message.js';

export interface Peer {
  host: string;
  port: number;
}

export type TraceFn = (direction: 'in' | 'out', data: Buffer, peer: Peer) => void;

export class UdpTransport {
  private socket: dgram.Socket | null = null;
  private dropped = 0;
  private lastDropLog = 0;
  onMessage: (msg: SipMessage, from: Peer) => void = () => undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly log: Logger,
    private readonly trace?: TraceFn,
  ) {}

  async listen(): Promise<Peer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.port, this.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => this.log.warn({ err }, 'sip socket error'));
    socket.on('message', (data, rinfo) => this.receive(data, { host: rinfo.address, port: rinfo.port }));
    this.socket = socket;
    return this.address();
  }

  address(): Peer {
    if (!this.socket) throw new Error('SIP transport is not listening');
    const a = this.socket.address();
    return { host: a.address, port: a.port };
  }

  /** Datagrams dropped as unparseable since start. */
  get droppedCount(): number {
    return this.dropped;
  }

  private receive(data: Buffer, from: Peer): void {
    this.trace?.('in', data, from);
    let msg: SipMessage;
    try {
      msg = parseMessage(data);
    } catch (err) {
      if (err instanceof SipParseError && err.message === 'keep-alive') return;
      this.dropped++;
      const now = Date.now();
      if (now - this.lastDropLog > 1000) {
        this.lastDropLog = now;
        this.log.warn({ from: `${from.host}:${from.port}`, bytes: data.length, reason: (err as Error).message, dropped: this.dropped }, 'malformed SIP datagram dropped');
      }
      return;
    }
    try {
      this.onMessage(msg, from);
    } catch (err) {
      this.log.error({ err }, 'SIP message handling failed');
    }
  }

  send(msg: SipMessage, to: Peer): void {
    const socket = this.socket;
    if (!socket) return;
    const data = serialize(msg);
    this.trace?.('out', data, to);
    socket.send(data, to.port, to.host, (err) => {
      if (err) this.log.warn({ err, to: `${to.host}:${to.port}` }, 'SIP send failed');
    });
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
