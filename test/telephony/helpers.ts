// Shared pieces of the telephony tests: a user agent pointed at a SIPp instance with its SIP
// traffic and logs captured, and waiting for call events.
import { Writable } from 'node:stream';
import type { EventEmitter } from 'node:events';
import { createLogger } from '../../src/log.js';
import { SipUserAgent } from '../../src/telephony/sip/user-agent.js';
import type { Peer } from '../../src/telephony/sip/transport.js';

export const CREDENTIALS = { username: 'interp', password: 's3cret-pass' };
export const RTP_RANGE: [number, number] = [42000, 42999];

export interface Captured {
  /** Every SIP datagram in and out, as text. */
  sip: Array<{ dir: 'in' | 'out'; text: string; peer: Peer }>;
  logs: Array<Record<string, unknown>>;
}

export function capture(): { captured: Captured; logger: ReturnType<typeof createLogger> } {
  const captured: Captured = { sip: [], logs: [] };
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) captured.logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { captured, logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'debug', stream) };
}

export async function startUa(trunkPort: number, opts: { credentials?: typeof CREDENTIALS | null; timers?: { t1: number } } = {}): Promise<{ ua: SipUserAgent; captured: Captured }> {
  const { captured, logger } = capture();
  const ua = new SipUserAgent({
    localHost: '127.0.0.1',
    localPort: 0,
    trunk: { host: '127.0.0.1', port: trunkPort },
    credentials: opts.credentials === undefined ? CREDENTIALS : opts.credentials,
    rtpPortRange: RTP_RANGE,
    log: logger,
    timers: opts.timers,
    trace: (dir, data, peer) => captured.sip.push({ dir, text: data.toString('utf8'), peer }),
  });
  await ua.start();
  return { ua, captured };
}

/** Start lines of the SIP messages we sent (`INVITE`, `ACK`, `SIP/2.0 200 OK`...). */
export function sent(c: Captured, filter?: RegExp): string[] {
  return c.sip.filter((m) => m.dir === 'out' && (!filter || filter.test(m.text))).map((m) => m.text);
}

export function waitEvent<T = unknown>(emitter: EventEmitter, event: string, timeoutMs = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${event}"`)), timeoutMs);
    emitter.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}
