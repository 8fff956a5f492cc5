// Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01),
// generated per transport (not per m-line, werift's defect): every packet's transport-wide
// sequence number and arrival time, reported back every interval so the publisher's bandwidth
// estimator ramps up (and backs off) as Chromium expects.

const SYMBOL_NOT_RECEIVED = 0;
const SYMBOL_SMALL_DELTA = 1;
const SYMBOL_LARGE_DELTA = 2;
/** Most packets described by one feedback message. */
const MAX_STATUS_COUNT = 2000;

export class TransportCcFeedback {
  /** Unwrapped sequence number → arrival time in µs. */
  private readonly arrivals = new Map<number, number>();
  private nextToReport: number | null = null;
  private highest = -1;
  private lastRaw = -1;
  private cycles = 0;
  private feedbackCount = 0;

  constructor(
    private readonly senderSsrc: number,
    private readonly mediaSsrc: () => number,
  ) {}

  /** Records a packet's transport-wide sequence number (16 bits) and its arrival (µs). */
  onPacket(rawSeq: number, arrivalUs: number): void {
    if (this.lastRaw !== -1) {
      const diff = (rawSeq - this.lastRaw) & 0xffff;
      if (diff < 0x8000) {
        if (rawSeq < this.lastRaw) this.cycles += 0x10000;
        this.lastRaw = rawSeq;
      }
    } else {
      this.lastRaw = rawSeq;
    }
    // Unwrap relative to the current cycle; a late packet from before a wrap lands in the previous one.
    let seq = this.cycles + rawSeq;
    if (seq - this.highest > 0x8000 && this.highest >= 0) seq -= 0x10000;
    if (this.nextToReport !== null && seq < this.nextToReport) return; // already reported as lost
    if (!this.arrivals.has(seq)) this.arrivals.set(seq, arrivalUs);
    if (seq > this.highest) this.highest = seq;
    if (this.nextToReport === null) this.nextToReport = seq;
  }

  /** The next feedback packet (serialized RTCP), or null when there is nothing new. */
  build(): Buffer | null {
    if (this.nextToReport === null || this.arrivals.size === 0) return null;
    let base = this.nextToReport;
    // Skip ahead if a gap is larger than we can describe (a long outage).
    if (this.highest - base + 1 > MAX_STATUS_COUNT) base = this.highest - MAX_STATUS_COUNT + 1;
    while (!this.arrivals.has(base) && base < this.highest) base++;
    const first = this.arrivals.get(base);
    if (first === undefined) return null;
    const count = this.highest - base + 1;

    const referenceTime = Math.floor(first / 64_000); // units of 64 ms
    let previous = referenceTime * 64_000;
    const symbols: number[] = new Array(count);
    const deltas: number[] = [];
    for (let i = 0; i < count; i++) {
      const arrival = this.arrivals.get(base + i);
      if (arrival === undefined) {
        symbols[i] = SYMBOL_NOT_RECEIVED;
        continue;
      }
      let delta = Math.round((arrival - previous) / 250);
      if (delta >= 0 && delta <= 0xff) symbols[i] = SYMBOL_SMALL_DELTA;
      else {
        delta = Math.max(-0x8000, Math.min(0x7fff, delta));
        symbols[i] = SYMBOL_LARGE_DELTA;
      }
      deltas.push(delta);
      previous += delta * 250;
    }

    // Status chunks: two-bit status vectors, seven symbols each.
    const chunks: number[] = [];
    for (let i = 0; i < count; i += 7) {
      let chunk = 0xc000;
      for (let j = 0; j < 7; j++) chunk |= (symbols[i + j] ?? 0) << (12 - 2 * j);
      chunks.push(chunk);
    }
    const deltaBytes = symbols.reduce((n, s) => n + (s === SYMBOL_SMALL_DELTA ? 1 : s === SYMBOL_LARGE_DELTA ? 2 : 0), 0);
    const bodyLength = 8 + 8 + chunks.length * 2 + deltaBytes;
    const padded = Math.ceil(bodyLength / 4) * 4 + 0;
    const buf = Buffer.alloc(4 + padded);
    buf[0] = 0x80 | 15; // V=2, FMT=15
    buf[1] = 205; // RTPFB
    buf.writeUInt16BE((buf.length >> 2) - 1, 2);
    buf.writeUInt32BE(this.senderSsrc >>> 0, 4);
    buf.writeUInt32BE(this.mediaSsrc() >>> 0, 8);
    buf.writeUInt16BE(base & 0xffff, 12);
    buf.writeUInt16BE(count, 14);
    buf.writeUIntBE(referenceTime & 0xffffff, 16, 3);
    buf[19] = this.feedbackCount++ & 0xff;
    let o = 20;
    for (const c of chunks) {
      buf.writeUInt16BE(c, o);
      o += 2;
    }
    let d = 0;
    for (const s of symbols) {
      if (s === SYMBOL_SMALL_DELTA) buf[o++] = deltas[d++]!;
      else if (s === SYMBOL_LARGE_DELTA) {
        buf.writeInt16BE(deltas[d++]!, o);
        o += 2;
      }
    }
    if (buf.length > o) {
      // RTCP padding: last byte holds the padding count, P bit set.
      buf[0] |= 0x20;
      buf[buf.length - 1] = buf.length - o;
    }
    for (let s = base; s <= this.highest; s++) this.arrivals.delete(s);
    for (const s of this.arrivals.keys()) if (s < base) this.arrivals.delete(s);
    this.nextToReport = this.highest + 1;
    return buf;
  }
}
