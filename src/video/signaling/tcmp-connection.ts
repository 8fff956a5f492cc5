// The transport layer twilio-video speaks over its WebSocket ("TCMP" v2 in the SDK's
// lib/twilioconnection.js): hello/welcome handshake with a negotiated heartbeat timeout,
// heartbeats both ways, `msg` frames carrying room-protocol bodies, `bye`, `bad` and `busy`.
// This class knows nothing about rooms: it hands message bodies up and sends bodies down.
import type { WebSocket } from 'ws';

export const TCMP_VERSION = 2;
/** Longest heartbeat timeout we agree to, whatever the client asks (ms). */
const MAX_TIMEOUT_MS = 30_000;
const MIN_TIMEOUT_MS = 1_000;
/** The client gives up after this many missed heartbeats; so do we. */
const MISSED_HEARTBEATS = 3;
/** Largest frame we parse; a connect message with a big SDP fits easily. */
export const MAX_FRAME_BYTES = 256 * 1024;

export interface TcmpHandlers {
  /** A room-protocol body, from `hello.body` or a `msg`. */
  onBody(body: Record<string, unknown>): void;
  /** The socket is gone (bye, close, heartbeat timeout, protocol error). */
  onClose(reason: string): void;
}

export class TcmpConnection {
  private handlers: TcmpHandlers | null = null;
  private state: 'awaiting-hello' | 'open' | 'closed' = 'awaiting-hello';
  private negotiatedTimeout = MAX_TIMEOUT_MS;
  private sendTimer: NodeJS.Timeout | null = null;
  private receiveTimer: NodeJS.Timeout | null = null;
  private helloTimer: NodeJS.Timeout | null;

  constructor(private readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary));
    ws.on('close', () => this.closed('socket closed'));
    ws.on('error', () => this.closed('socket error'));
    this.helloTimer = setTimeout(() => this.close(4000, 'no hello'), 10_000);
  }

  attach(handlers: TcmpHandlers): void {
    this.handlers = handlers;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Sends a room-protocol body. */
  send(body: unknown): void {
    this.sendFrame({ type: 'msg', body });
  }

  /** Tells the client the server is busy; it retries after `retryAfter` ms (negative: never). */
  busy(retryAfterMs: number): void {
    this.sendFrame({ type: 'busy', keepAlive: false, retryAfter: retryAfterMs });
    this.close(3002, 'busy');
  }

  /** Drops the socket without a close handshake, as a network failure would (tests, shutdown). */
  drop(): void {
    this.ws.terminate();
  }

  close(code = 1000, reason = 'Normal'): void {
    if (this.state === 'closed') return;
    if (this.state === 'open' && code === 1000) this.sendFrame({ type: 'bye' });
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
    this.closed(reason);
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (this.state === 'closed') return;
    if (isBinary || data.length > MAX_FRAME_BYTES) {
      this.bad('frames must be JSON text under 256 KiB');
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString('utf8'));
    } catch {
      this.bad('frame is not JSON');
      return;
    }
    if (!frame || typeof frame !== 'object' || Array.isArray(frame)) {
      this.bad('frame is not an object');
      return;
    }
    const f = frame as Record<string, unknown>;
    this.resetReceiveTimer();
    switch (f.type) {
      case 'hello':
        this.hello(f);
        return;
      case 'heartbeat':
        return;
      case 'msg':
        if (this.state !== 'open') return this.bad('msg before hello');
        if (!f.body || typeof f.body !== 'object' || Array.isArray(f.body)) return this.bad('msg without a body object');
        this.deliver(f.body as Record<string, unknown>);
        return;
      case 'bye':
        this.closed('bye');
        this.ws.close(1000, 'bye');
        return;
      default:
        this.bad(`unknown frame type ${JSON.stringify(f.type)}`);
    }
  }

  private hello(f: Record<string, unknown>): void {
    if (this.state !== 'awaiting-hello') return this.bad('hello twice');
    if (f.version !== TCMP_VERSION) {
      this.bad(`protocol version ${String(f.version)} is not supported; use ${TCMP_VERSION}`);
      this.close(3003, 'version');
      return;
    }
    const requested = typeof f.timeout === 'number' && Number.isFinite(f.timeout) ? f.timeout : MAX_TIMEOUT_MS;
    this.negotiatedTimeout = Math.max(MIN_TIMEOUT_MS, Math.min(MAX_TIMEOUT_MS, requested));
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.state = 'open';
    this.sendFrame({ type: 'welcome', id: typeof f.id === 'string' ? f.id : undefined, negotiatedTimeout: this.negotiatedTimeout });
    this.resetReceiveTimer();
    if (f.body && typeof f.body === 'object' && !Array.isArray(f.body)) this.deliver(f.body as Record<string, unknown>);
  }

  private deliver(body: Record<string, unknown>): void {
    try {
      this.handlers?.onBody(body);
    } catch {
      // A handler bug must not take the socket (or the process) down with it.
      this.bad('message could not be handled');
    }
  }

  private bad(reason: string): void {
    this.sendFrame({ type: 'bad', reason });
  }

  private sendFrame(frame: unknown): void {
    if (this.state === 'closed' || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify(frame));
    this.resetSendTimer();
  }

  /** Every frame we send counts as a heartbeat; send one when we have been quiet too long. */
  private resetSendTimer(): void {
    if (this.state !== 'open') return;
    if (this.sendTimer) clearTimeout(this.sendTimer);
    this.sendTimer = setTimeout(() => this.sendFrame({ type: 'heartbeat' }), Math.max(200, this.negotiatedTimeout - 500));
  }

  private resetReceiveTimer(): void {
    if (this.state !== 'open') return;
    if (this.receiveTimer) clearTimeout(this.receiveTimer);
    this.receiveTimer = setTimeout(() => this.close(3001, 'heartbeats missed'), this.negotiatedTimeout * MISSED_HEARTBEATS);
  }

  private closed(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const t of [this.sendTimer, this.receiveTimer, this.helloTimer]) if (t) clearTimeout(t);
    this.handlers?.onClose(reason);
  }
}
