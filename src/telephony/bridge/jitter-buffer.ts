// A fixed-delay jitter buffer for one RTP audio stream of 20 ms packets, pulled once per 20 ms
// by the bridge's clock. Packets are ordered by (unwrapped) RTP sequence number; playout starts
// once the oldest packet has waited `delayMs` (or that much audio is buffered), then takes one
// packet per pull. A missing packet with later ones present is a loss (to conceal); an empty
// buffer is an underrun (concealed too; after `idleAfterMs` of nothing the stream is idle and
// playout re-primes on the next packet, as after a pause or DTX). If the buffer grows well past
// the delay (a burst after a stall, or a sender clock faster than ours), the oldest packets are
// dropped back to the delay, so latency stays bounded and clock drift never accumulates. A new
// SSRC (the sender restarted) or a big sequence jump resets the buffer.
//
// Concealment (PCM domain, after decoding): the last good frame repeated with a falling gain,
// then silence.

export interface JitterPacket {
  sequence: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

export type Playout =
  | { kind: 'frame'; payload: Buffer; sequence: number; timestamp: number }
  /** A packet is missing here (later ones arrived): conceal one frame. */
  | { kind: 'lost' }
  /** Playing, but nothing buffered: conceal one frame. */
  | { kind: 'underrun' }
  /** Not playing (nothing received yet, priming, or the stream went quiet). */
  | { kind: 'idle' };

export interface JitterBufferOptions {
  /** Playout delay (default 60 ms). */
  delayMs?: number;
  /** Frame length (default 20 ms). */
  frameMs?: number;
  /** Drop the oldest packets when more than this much is buffered (default delay + 80 ms). */
  maxDelayMs?: number;
  /** Underruns lasting this long make the stream idle (default 200 ms). */
  idleAfterMs?: number;
}

export interface JitterStats {
  received: number;
  played: number;
  lost: number;
  underruns: number;
  /** Arrived after their turn (already played past, or concealed). */
  late: number;
  duplicates: number;
  /** Dropped to bring the delay back down. */
  dropped: number;
  /** SSRC changes and sequence jumps. */
  resets: number;
  /** Packets buffered now. */
  depth: number;
}

const SEQ_MOD = 0x10000;
/** A sequence jump larger than this (either way) is a new stream. */
const MAX_SEQ_JUMP = 3000;

export class JitterBuffer {
  readonly delayMs: number;
  readonly frameMs: number;
  private readonly delayFrames: number;
  private readonly maxFrames: number;
  private readonly idleFrames: number;
  private readonly packets = new Map<number, { p: JitterPacket; at: number }>();
  private ssrc: number | null = null;
  /** Highest unwrapped sequence number seen. */
  private highest: number | null = null;
  /** Unwrapped sequence number to play next; null while idle. */
  private playhead: number | null = null;
  /** Everything below this was played (or given up on); later arrivals below it are late. */
  private floor: number | null = null;
  private underrunRun = 0;
  private readonly counters = { received: 0, played: 0, lost: 0, underruns: 0, late: 0, duplicates: 0, dropped: 0, resets: 0 };

  constructor(opts: JitterBufferOptions = {}) {
    this.delayMs = opts.delayMs ?? 60;
    this.frameMs = opts.frameMs ?? 20;
    this.delayFrames = Math.max(1, Math.round(this.delayMs / this.frameMs));
    this.maxFrames = Math.max(this.delayFrames + 1, Math.round((opts.maxDelayMs ?? this.delayMs + 80) / this.frameMs));
    this.idleFrames = Math.max(1, Math.round((opts.idleAfterMs ?? 200) / this.frameMs));
  }

  get stats(): JitterStats {
    return { ...this.counters, depth: this.packets.size };
  }

  /** True while playing out (primed and not idle). */
  get playing(): boolean {
    return this.playhead !== null;
  }

  /** Forgets everything buffered and waits to prime again (the counters stay). */
  reset(): void {
    this.packets.clear();
    this.highest = null;
    this.playhead = null;
    this.floor = null;
    this.underrunRun = 0;
  }

  /** Unwraps a 16-bit sequence number next to the highest one seen. */
  private unwrap(seq: number): number {
    if (this.highest === null) return seq;
    const base = this.highest - (this.highest % SEQ_MOD + SEQ_MOD) % SEQ_MOD;
    let ext = base + seq;
    if (ext - this.highest > SEQ_MOD / 2) ext -= SEQ_MOD;
    else if (this.highest - ext > SEQ_MOD / 2) ext += SEQ_MOD;
    return ext;
  }

  push(p: JitterPacket, now: number): void {
    this.counters.received++;
    if (this.ssrc !== p.ssrc) {
      if (this.ssrc !== null) this.counters.resets++;
      this.ssrc = p.ssrc;
      this.reset();
    }
    let ext = this.unwrap(p.sequence & 0xffff);
    if (this.highest !== null && Math.abs(ext - this.highest) > MAX_SEQ_JUMP) {
      this.counters.resets++;
      this.reset();
      ext = p.sequence & 0xffff;
    }
    const floor = this.playhead ?? this.floor;
    if (floor !== null && ext < floor) {
      this.counters.late++;
      return;
    }
    if (this.packets.has(ext)) {
      this.counters.duplicates++;
      return;
    }
    this.packets.set(ext, { p, at: now });
    if (this.highest === null || ext > this.highest) this.highest = ext;
  }

  private oldest(): number | null {
    let min: number | null = null;
    for (const k of this.packets.keys()) if (min === null || k < min) min = k;
    return min;
  }

  /** The next 20 ms of this stream (one call per frame, on the bridge's clock). */
  pop(now: number): Playout {
    if (this.playhead === null) {
      const first = this.oldest();
      if (first === null) return { kind: 'idle' };
      const waited = now - this.packets.get(first)!.at;
      if (this.packets.size < this.delayFrames && waited < this.delayMs) return { kind: 'idle' };
      this.playhead = first;
      this.underrunRun = 0;
    }
    // Too much buffered: skip the oldest back down to the nominal delay.
    if (this.highest !== null && this.highest - this.playhead + 1 > this.maxFrames) {
      const target = this.highest - this.delayFrames + 1;
      for (let s = this.playhead; s < target; s++) if (this.packets.delete(s)) this.counters.dropped++;
      this.playhead = target;
    }
    const entry = this.packets.get(this.playhead);
    if (entry) {
      this.packets.delete(this.playhead);
      this.playhead++;
      this.underrunRun = 0;
      this.counters.played++;
      return { kind: 'frame', payload: entry.p.payload, sequence: entry.p.sequence, timestamp: entry.p.timestamp };
    }
    if (this.packets.size > 0) {
      // This one is missing but later ones are here: lost (or so late it no longer matters).
      this.playhead++;
      this.underrunRun = 0;
      this.counters.lost++;
      return { kind: 'lost' };
    }
    // Nothing buffered. The playhead stays: the packet may just be late (a network hiccup or
    // the sender's clock running slow), and is then played in turn. A long run means a pause.
    this.counters.underruns++;
    if (++this.underrunRun >= this.idleFrames) {
      this.floor = this.playhead;
      this.playhead = null;
      this.underrunRun = 0;
      return { kind: 'idle' };
    }
    return { kind: 'underrun' };
  }
}

/**
 * Packet-loss concealment in the PCM domain: a lost frame is the last good frame again, faded
 * by `decay` per lost frame (and ramped within the frame so there is no step), silence after
 * `maxFrames` lost in a row.
 */
export class Concealer {
  private last: Float32Array;
  private gain = 1;
  private run = 0;
  concealed = 0;

  constructor(
    readonly samples: number,
    private readonly decay = 0.5,
    private readonly maxFrames = 5,
  ) {
    this.last = new Float32Array(samples);
  }

  /** Remembers a good frame (returned as is). */
  good(frame: Int16Array): Int16Array {
    if (this.run > 0 && this.gain < 1) {
      // Coming back from concealment: fade in from where concealment left off.
      const from = this.gain;
      for (let i = 0; i < frame.length; i++) frame[i] = Math.round(frame[i]! * (from + ((1 - from) * i) / frame.length));
    }
    this.last = Float32Array.from(frame);
    this.gain = 1;
    this.run = 0;
    return frame;
  }

  /** One frame to stand in for a missing one. */
  conceal(out: Int16Array = new Int16Array(this.samples)): Int16Array {
    this.concealed++;
    this.run++;
    if (this.run > this.maxFrames) {
      out.fill(0);
      this.gain = 0;
      return out;
    }
    const from = this.gain;
    const to = this.run === this.maxFrames ? 0 : this.gain * this.decay;
    const n = out.length;
    for (let i = 0; i < n; i++) out[i] = Math.round(this.last[i % this.last.length]! * (from + ((to - from) * i) / n));
    this.gain = to;
    return out;
  }
}
