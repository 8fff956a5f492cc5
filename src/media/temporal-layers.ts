// VP8 temporal layers: which packets of a simulcast layer a subscriber gets when even that
// layer's full frame rate does not fit its downlink. Chromium encodes each VP8 simulcast layer
// with three temporal layers (TID 0: a quarter of the frames, about a third of the bits; TID 1:
// another quarter; TID 2: the other half). Frames above the base layer are never referenced by
// lower ones, so leaving out TID 2 (half the frame rate) or TID 1 and 2 (a quarter) needs no
// keyframe: down at any frame, up at a layer-sync frame (Y bit: it references only the base
// layer). The send path closes up the sequence numbers and picture IDs over what is left out.

/** All temporal layers (no thinning). */
export const ALL_TEMPORAL_LAYERS = 2;

/** A packet's temporal layer and frame position from its VP8 payload descriptor (RFC 7741 §4.2). */
export interface Vp8Temporal {
  /** TID; -1 if the descriptor carries none (then the stream has no temporal layers). */
  tid: number;
  /** Layer sync (Y bit). */
  sync: boolean;
  /** The packet starts a frame (S bit, partition 0). */
  frameStart: boolean;
}

/** Reads `out` from a VP8 payload; false if the payload is too short to hold its descriptor. */
export function readVp8Temporal(payload: Uint8Array, out: Vp8Temporal): boolean {
  out.tid = -1;
  out.sync = false;
  if (payload.length < 1) return false;
  const b0 = payload[0]!;
  out.frameStart = (b0 & 0x10) !== 0 && (b0 & 0x07) === 0;
  if ((b0 & 0x80) === 0) return true;
  if (payload.length < 2) return false;
  const x = payload[1]!;
  let i = 2;
  if (x & 0x80) {
    if (payload.length <= i) return false;
    i += payload[i]! & 0x80 ? 2 : 1;
  }
  if (x & 0x40) i += 1;
  if (x & 0x20) {
    if (payload.length <= i) return false;
    out.tid = payload[i]! >> 6;
    out.sync = ((payload[i]! >> 5) & 1) === 1;
  }
  return true;
}

/**
 * One forwarder's temporal-layer filter. `target` is what the allocation wants (0–2); the layer in
 * force follows it down at the next frame and up at the next sync frame of the layer above.
 */
export class TemporalFilter {
  target = ALL_TEMPORAL_LAYERS;
  private current = ALL_TEMPORAL_LAYERS;
  private readonly info: Vp8Temporal = { tid: -1, sync: false, frameStart: false };
  /** Frames and packets left out, for stats. */
  droppedPackets = 0;

  /** The temporal layer in force (2 = all). */
  get layer(): number {
    return this.current;
  }

  /** Nothing to filter: every layer wanted and in force (the per-packet path skips the parse). */
  get idle(): boolean {
    return this.target === ALL_TEMPORAL_LAYERS && this.current === ALL_TEMPORAL_LAYERS;
  }

  /** A new stretch starts at a keyframe (base layer): the target is in force from it on. */
  restart(): void {
    this.current = this.target;
  }

  /** Whether to forward this VP8 packet. */
  admits(payload: Uint8Array): boolean {
    const t = this.info;
    if (!readVp8Temporal(payload, t) || t.tid < 0) return true;
    if (t.frameStart) {
      if (this.target < this.current) this.current = this.target;
      else if (this.target > this.current && t.tid === this.current + 1 && t.sync) this.current = t.tid;
    }
    if (t.tid <= this.current) return true;
    this.droppedPackets++;
    return false;
  }
}
