// VP8 picture IDs and TL0PICIDX, continued across simulcast layer switches.
//
// Each simulcast layer is its own VP8 stream with its own picture ID (15 bits) and TL0PICIDX
// (8 bits) counters. A receiver treats what we forward as one stream: Chromium's VP8 reference
// finder keeps per-TL0PICIDX state and picture IDs it has not yet seen. Forwarded unchanged, a
// switch makes both jump to unrelated values; when the new layer's TL0PICIDX later runs into
// values the old layer used, the receiver takes the stale state for the new frames and stashes
// or drops every frame until the next keyframe (a freeze of seconds, with no sequence gap to
// NACK). So, like sequence numbers and timestamps, both are rewritten to continue from the last
// ones sent: offset at the first packet of each stretch, then carried through.

/** Where one packet's VP8 payload descriptor (RFC 7741 §4.2) holds its picture ID and TL0PICIDX. */
export class Vp8Ids {
  /** Offset of the picture ID in the payload; -1 = absent. */
  pidAt = -1;
  /** The picture ID has 15 bits (M bit set); otherwise 7. */
  wide = false;
  pid = 0;
  /** Offset of TL0PICIDX in the payload; -1 = absent. */
  tl0At = -1;
  tl0 = 0;

  /** Reads the descriptor; false if it holds neither field (or is cut short). */
  read(payload: Uint8Array): boolean {
    this.pidAt = -1;
    this.tl0At = -1;
    if (payload.length < 2 || (payload[0]! & 0x80) === 0) return false;
    const x = payload[1]!;
    let i = 2;
    if (x & 0x80) {
      if (payload.length <= i) return false;
      this.wide = (payload[i]! & 0x80) !== 0;
      if (this.wide) {
        if (payload.length <= i + 1) return false;
        this.pid = ((payload[i]! & 0x7f) << 8) | payload[i + 1]!;
      } else {
        this.pid = payload[i]! & 0x7f;
      }
      this.pidAt = i;
      i += this.wide ? 2 : 1;
    }
    if (x & 0x40) {
      if (payload.length <= i) {
        this.pidAt = -1;
        return false;
      }
      this.tl0At = i;
      this.tl0 = payload[i]!;
    }
    return this.pidAt >= 0 || this.tl0At >= 0;
  }

  /** Writes `pid` and `tl0` into a copy of the payload that starts at `at` in `b`. */
  write(b: Buffer, at: number): void {
    if (this.pidAt >= 0) {
      if (this.wide) {
        b[at + this.pidAt] = 0x80 | ((this.pid >> 8) & 0x7f);
        b[at + this.pidAt + 1] = this.pid & 0xff;
      } else {
        b[at + this.pidAt] = this.pid & 0x7f;
      }
    }
    if (this.tl0At >= 0) b[at + this.tl0At] = this.tl0 & 0xff;
  }
}

/** Offset changes kept for late values (a retransmission of a packet from before them). */
const MAX_CHANGES = 128;

/**
 * One counter (modulo `mask + 1`) continued across stretches: output = input + offset. Values can
 * also be left out (skip: a packet or frame not forwarded), and every newer one then moves down by
 * one, so that what is sent stays contiguous; a late value keeps the offset of its time.
 */
export class ContinuedCounter {
  private offset = 0;
  /** The newest value sent; -1 = none yet. */
  private last = -1;
  /** The newest input seen (mapped or skipped); -1 = none yet. */
  private newestIn = -1;
  /** Inputs older than `from` had offset `before` (newest change last). */
  private readonly changes: { from: number; before: number }[] = [];
  pending = false;

  constructor(private readonly mask: number) {}

  /** `a` is older than `b` (serial-number order). */
  private older(a: number, b: number): boolean {
    const d = (b - a) & this.mask;
    return d !== 0 && d <= this.mask >> 1;
  }

  map(value: number): number {
    if (this.pending) {
      if (this.last >= 0) this.offset = (this.last + 1 - value) & this.mask;
      this.pending = false;
      this.changes.length = 0;
      this.newestIn = value;
    }
    let offset = this.offset;
    if (this.newestIn < 0 || !this.older(value, this.newestIn)) this.newestIn = value;
    else for (let i = this.changes.length - 1; i >= 0 && this.older(value, this.changes[i]!.from); i--) offset = this.changes[i]!.before;
    const out = (value + offset) & this.mask;
    // A late packet (a retransmission from the publisher) does not move the newest back.
    if (this.last < 0 || ((out - this.last) & this.mask) <= this.mask >> 1) this.last = out;
    return out;
  }

  /** Leaves `value` out: newer values move down by one. A value not newer than the newest seen changes nothing. */
  skip(value: number): void {
    if (this.pending || (this.newestIn >= 0 && !this.older(this.newestIn, value))) return;
    this.newestIn = value;
    const from = (value + 1) & this.mask;
    const lastChange = this.changes[this.changes.length - 1];
    // A run of skipped values is one change.
    if (lastChange && lastChange.from === value) lastChange.from = from;
    else {
      this.changes.push({ from, before: this.offset });
      if (this.changes.length > MAX_CHANGES) this.changes.shift();
    }
    this.offset = (this.offset - 1) & this.mask;
  }
}

/** One forwarding sender's picture ID / TL0PICIDX mapping. */
export class Vp8Numbering {
  private readonly pid = new ContinuedCounter(0x7fff);
  private readonly tl0 = new ContinuedCounter(0xff);

  /** The next packet starts a new stretch (another layer, or after a pause). */
  scheduleContinuity(): void {
    this.pid.pending = true;
    this.tl0.pending = true;
  }

  /** Rewrites `ids.pid` and `ids.tl0` (those present) to our numbering. */
  map(ids: Vp8Ids): void {
    if (ids.pidAt >= 0) ids.pid = this.pid.map(ids.pid);
    if (ids.tl0At >= 0) ids.tl0 = this.tl0.map(ids.tl0);
  }

  /**
   * A packet not forwarded (a frame of a temporal layer the subscriber does not get): its picture
   * ID is left out, so the ones sent stay contiguous. Chromium's VP8 reference finder waits for
   * every picture ID it has not seen before it decodes a frame above the base temporal layer.
   * (TL0PICIDX counts base-layer frames, which are always forwarded.)
   */
  skip(ids: Vp8Ids): void {
    if (ids.pidAt >= 0) this.pid.skip(ids.pid);
  }
}
