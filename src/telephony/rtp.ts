// The media side of a call, for now: one UDP socket per call from the configured RTP range.
// It counts what arrives and sends RFC 4733 telephone-events (DTMF for IVRs). The audio bridge
// (G.711 <-> Opus into the room) plugs in at `onAudio` (what the far end says) and `sendAudio`
// (what the room says, already encoded as the negotiated G.711 codec, 20 ms = 160 bytes).
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { RemoteMedia } from './sdp.js';

const CLOCK_RATE = 8000;
const RTP_HEADER = 12;
/** One telephone-event packet every 20 ms. */
const EVENT_PACKET_MS = 20;

export type AudioHandler = (payload: Buffer, payloadType: number, rtp?: { sequence: number; timestamp: number; ssrc: number }) => void;

export interface DtmfTiming {
  /** Tone length of one digit (default 100 ms). */
  toneMs: number;
  /** Silence after each digit (default 100 ms). */
  gapMs: number;
  /** `w` waits this long (Twilio: half a second); `W` twice as long. */
  waitMs: number;
  /** RFC 4733 volume, 0 to -63 dBm0 given as 0..63 (default 10). */
  volume: number;
}

export const DEFAULT_DTMF: DtmfTiming = { toneMs: 100, gapMs: 100, waitMs: 500, volume: 10 };

const EVENT_CODES: Record<string, number> = {
  '0': 0, '1': 1, '2': 2, '3': 3, '4': 4, '5': 5, '6': 6, '7': 7, '8': 8, '9': 9,
  '*': 10, '#': 11, A: 12, B: 13, C: 14, D: 15,
};
const EVENT_CHARS = Object.fromEntries(Object.entries(EVENT_CODES).map(([k, v]) => [v, k])) as Record<number, string>;

/** Twilio's SendDigits alphabet: digits, * and #, A-D, and w/W pauses. */
export function validDigits(digits: string): boolean {
  return /^[0-9*#A-Dw]*$/i.test(digits) && digits.length <= 32;
}

export interface RtpPacket {
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

export function parseRtp(buf: Buffer): RtpPacket | null {
  if (buf.length < RTP_HEADER || buf[0]! >> 6 !== 2) return null;
  const cc = buf[0]! & 0x0f;
  let offset = RTP_HEADER + cc * 4;
  if (buf[0]! & 0x10) {
    if (buf.length < offset + 4) return null;
    offset += 4 + buf.readUInt16BE(offset + 2) * 4;
  }
  let end = buf.length;
  if (buf[0]! & 0x20) end -= buf[buf.length - 1]!;
  if (offset > end) return null;
  const pt = buf[1]! & 0x7f;
  // RTCP multiplexed on the port (PT 72-76 with the marker bit) is not media.
  if (pt >= 72 && pt <= 76) return null;
  return {
    marker: (buf[1]! & 0x80) !== 0,
    payloadType: pt,
    sequence: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    payload: buf.subarray(offset, end),
  };
}

export function buildRtp(p: RtpPacket): Buffer {
  const buf = Buffer.alloc(RTP_HEADER + p.payload.length);
  buf[0] = 0x80;
  buf[1] = (p.marker ? 0x80 : 0) | (p.payloadType & 0x7f);
  buf.writeUInt16BE(p.sequence & 0xffff, 2);
  buf.writeUInt32BE(p.timestamp >>> 0, 4);
  buf.writeUInt32BE(p.ssrc >>> 0, 8);
  p.payload.copy(buf, RTP_HEADER);
  return buf;
}

export interface TelephoneEvent {
  event: number;
  end: boolean;
  volume: number;
  duration: number;
}

export function parseTelephoneEvent(payload: Buffer): TelephoneEvent | null {
  if (payload.length < 4) return null;
  return { event: payload[0]!, end: (payload[1]! & 0x80) !== 0, volume: payload[1]! & 0x3f, duration: payload.readUInt16BE(2) };
}

export function telephoneEventPayload(e: TelephoneEvent): Buffer {
  const b = Buffer.alloc(4);
  b[0] = e.event;
  b[1] = (e.end ? 0x80 : 0) | (e.volume & 0x3f);
  b.writeUInt16BE(Math.min(e.duration, 0xffff), 2);
  return b;
}

export interface RtpStats {
  packetsReceived: number;
  bytesReceived: number;
  /** Payload type of the last packet received; null before any. */
  lastPayloadType: number | null;
  packetsSent: number;
  /** Datagrams from an address other than the negotiated one, or not RTP. */
  packetsDropped: number;
}

/** Binds a UDP socket on an even port of `range` (tries random ports, then gives up). */
async function bindInRange(host: string, range: [number, number]): Promise<dgram.Socket> {
  const [min, max] = range;
  const evens = Math.floor((max - min) / 2) + 1;
  const tries = Math.min(evens, 64);
  const first = randomInt(evens);
  for (let i = 0; i < tries; i++) {
    const port = min + (((first + i) % evens) * 2);
    const socket = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      return socket;
    } catch (err) {
      socket.close();
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  throw new Error(`no free RTP port between ${min} and ${max}`);
}

export class RtpSession extends EventEmitter {
  /** The audio bridge's input: every audio packet from the far end (payload and payload type). */
  /** What the far end says; `rtp` lets a jitter buffer order packets and see losses. */
  onAudio: AudioHandler | null = null;
  readonly stats: RtpStats = { packetsReceived: 0, bytesReceived: 0, lastPayloadType: null, packetsSent: 0, packetsDropped: 0 };
  private remote: RemoteMedia | null = null;
  private readonly ssrc = randomInt(2 ** 32 - 1);
  private sequence = randomInt(0x10000);
  private readonly tsBase = randomInt(2 ** 32 - 1);
  private readonly t0 = performance.now();
  private lastAudioAt = -Infinity;
  private nextAudioTs = 0;
  private dtmfBusy = false;
  private dtmfChain: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  private lastEventTs: number | null = null;
  private closed = false;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly address: string,
    readonly port: number,
    private readonly log: Logger,
  ) {
    super();
    socket.on('message', (msg, rinfo) => this.receive(msg, rinfo));
    socket.on('error', (err) => this.log.warn({ err }, 'rtp socket error'));
  }

  static async open(host: string, range: [number, number], log: Logger): Promise<RtpSession> {
    const socket = await bindInRange(host, range);
    return new RtpSession(socket, host, socket.address().port, log);
  }

  get remoteMedia(): RemoteMedia | null {
    return this.remote;
  }

  /** Called once the SDP answer (or a re-INVITE's offer) says where to send. */
  setRemote(media: RemoteMedia): void {
    this.remote = media;
  }

  private receive(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    try {
      const remote = this.remote;
      const packet = remote && rinfo.address === remote.address ? parseRtp(msg) : null;
      if (!packet) {
        this.stats.packetsDropped++;
        return;
      }
      this.stats.packetsReceived++;
      this.stats.bytesReceived += msg.length;
      this.stats.lastPayloadType = packet.payloadType;
      if (packet.payloadType === remote!.telephoneEvent) {
        const ev = parseTelephoneEvent(packet.payload);
        if (ev?.end && this.lastEventTs !== packet.timestamp) {
          this.lastEventTs = packet.timestamp;
          this.emit('digit', EVENT_CHARS[ev.event] ?? `event-${ev.event}`);
        }
        return;
      }
      if (packet.payloadType === remote!.codec.payloadType) this.onAudio?.(packet.payload, packet.payloadType, { sequence: packet.sequence, timestamp: packet.timestamp, ssrc: packet.ssrc });
    } catch (err) {
      this.log.warn({ err }, 'rtp packet handling failed');
    }
  }

  /** Current media time in RTP timestamp units (8 kHz), from the wall clock. */
  private mediaTs(): number {
    return (this.tsBase + Math.round((performance.now() - this.t0) * (CLOCK_RATE / 1000))) >>> 0;
  }

  private send(payloadType: number, marker: boolean, timestamp: number, payload: Buffer): boolean {
    const remote = this.remote;
    if (!remote || this.closed || remote.port === 0) return false;
    const packet = buildRtp({ marker, payloadType, sequence: this.sequence, timestamp, ssrc: this.ssrc, payload });
    this.sequence = (this.sequence + 1) & 0xffff;
    this.stats.packetsSent++;
    this.socket.send(packet, remote.port, remote.address, (err) => {
      if (err) this.log.debug({ err }, 'rtp send failed');
    });
    return true;
  }

  /**
   * Sends one frame of encoded audio in the negotiated codec (1 byte per sample for G.711).
   * Frames are expected every ptime; a gap of over 100 ms starts a new talkspurt (marker bit).
   * Dropped (false) before answer, after hangup and while digits are being sent.
   */
  sendAudio(payload: Buffer): boolean {
    if (!this.remote || this.dtmfBusy) return false;
    const now = performance.now();
    const talkspurt = now - this.lastAudioAt > 100;
    const ts = talkspurt ? this.mediaTs() : this.nextAudioTs;
    this.lastAudioAt = now;
    this.nextAudioTs = (ts + payload.length) >>> 0;
    return this.send(this.remote.codec.payloadType, talkspurt, ts, payload);
  }

  /**
   * Sends digits as RFC 4733 events: per digit, a packet every 20 ms with growing duration (the
   * first with the marker bit), the last one (end bit) three times, then a gap; `w` pauses.
   * Calls queue behind each other. Rejects if the far end did not accept telephone-event.
   */
  sendDigits(digits: string, timing: Partial<DtmfTiming> = {}): Promise<void> {
    if (!validDigits(digits)) return Promise.reject(new Error('digits may only hold 0-9, *, #, A-D and w'));
    const t = { ...DEFAULT_DTMF, ...timing };
    const run = this.dtmfChain.then(() => this.playDigits(digits, t));
    this.dtmfChain = run.catch(() => undefined);
    return run;
  }

  private async playDigits(digits: string, t: DtmfTiming): Promise<void> {
    const signal = this.abort.signal;
    for (const ch of digits) {
      if (this.closed) throw new Error('call ended');
      if (ch === 'w' || ch === 'W') {
        await sleep(ch === 'W' ? t.waitMs * 2 : t.waitMs, undefined, { signal });
        continue;
      }
      const remote = this.remote;
      if (!remote) throw new Error('no media negotiated yet');
      if (remote.telephoneEvent === null) throw new Error('the far end did not accept telephone-event');
      const pt = remote.telephoneEvent;
      const event = EVENT_CODES[ch.toUpperCase()]!;
      this.dtmfBusy = true;
      try {
        const ts = this.mediaTs();
        const start = performance.now();
        const packets = Math.max(1, Math.round(t.toneMs / EVENT_PACKET_MS));
        for (let i = 0; i < packets; i++) {
          const last = i === packets - 1;
          const payload = telephoneEventPayload({ event, end: last, volume: t.volume, duration: (i + 1) * EVENT_PACKET_MS * (CLOCK_RATE / 1000) });
          // The final packet goes out three times (RFC 4733 section 2.5.1.4), each with its own sequence number.
          for (let r = 0; r < (last ? 3 : 1); r++) this.send(pt, i === 0 && r === 0, ts, payload);
          const wait = start + (i + 1) * EVENT_PACKET_MS - performance.now();
          if (wait > 0) await sleep(wait, undefined, { signal });
        }
      } finally {
        this.dtmfBusy = false;
      }
      await sleep(t.gapMs, undefined, { signal });
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.onAudio = null;
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}
