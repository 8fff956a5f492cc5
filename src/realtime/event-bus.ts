// Real-time fan-out between the parts of the server, and between server processes. The
// embedded default delivers in-process; a Redis-backed bus with the same interface carries
// events between nodes (e.g. a room completed by REST on node A reaches the signaling of the
// room on node B).
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

export interface BusMessage {
  type: string;
  [key: string]: unknown;
}

export interface EventBus {
  publish(channel: string, message: BusMessage): Promise<void>;
  /** Returns an unsubscribe function. */
  subscribe(channel: string, handler: (message: BusMessage) => void): () => void;
  close(): Promise<void>;
}

export class InProcessBus implements EventBus {
  private readonly emitter = new EventEmitter();

  /** A handler that throws is logged (to `log`, else the console) and does not stop the others. */
  constructor(private readonly log?: Pick<Logger, 'error'>) {
    this.emitter.setMaxListeners(0);
  }

  async publish(channel: string, message: BusMessage): Promise<void> {
    // Deliver asynchronously, as a networked bus would, so publishers never depend on
    // subscribers running inside their call.
    const copy = structuredClone(message);
    queueMicrotask(() => this.emitter.emit(channel, copy));
  }

  subscribe(channel: string, handler: (message: BusMessage) => void): () => void {
    const guarded = (message: BusMessage) => {
      try {
        handler(message);
      } catch (err) {
        if (this.log) this.log.error({ err, channel }, 'event bus handler threw');
        else console.error('event bus handler threw', err);
      }
    };
    this.emitter.on(channel, guarded);
    return () => this.emitter.off(channel, guarded);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}
