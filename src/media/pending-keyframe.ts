// The packets of one layer from the first packet of a keyframe on, held by a forwarder until the
// keyframe is complete: every packet from its first to its last (the marker bit, same timestamp)
// is here. A publisher on a lossy uplink sends few keyframes whole; the holes are filled by
// retransmissions a round trip later. A subscriber switched onto a keyframe with holes could not
// get them from us (they were never sent, so they are not in our history) and stayed frozen
// until its own keyframe request, seconds later. Held first, the keyframe goes out whole, and the
// subscriber keeps the layer it had until then.
import type { RtpPacket } from 'werift';

/** Most packets held for one keyframe (with the frames after it); more and the wait is given up. */
export const MAX_HELD_PACKETS = 600;

export class PendingKeyframe {
  /** Held packets by offset from the keyframe's first sequence number. */
  private readonly held = new Map<number, RtpPacket>();
  private startSeq = -1;
  private timestamp = 0;
  /** Offset of the keyframe's last packet, once seen; -1 before. */
  private endOffset = -1;
  /** Every offset from 0 to this one is held. */
  private contiguous = -1;
  /** When the keyframe's first packet came (ms). */
  since = 0;

  get active(): boolean {
    return this.startSeq >= 0;
  }

  get size(): number {
    return this.held.size;
  }

  /** Starts holding at a keyframe's first packet. */
  start(rtp: RtpPacket, now: number): void {
    this.clear();
    this.startSeq = rtp.header.sequenceNumber;
    this.timestamp = rtp.header.timestamp;
    this.since = now;
    this.add(rtp);
  }

  /**
   * Holds a later packet of the layer (a retransmission fills a hole); false if it is older than
   * the keyframe (it belongs to frames before it), a repeat, or the hold is full.
   */
  add(rtp: RtpPacket): boolean {
    const offset = (rtp.header.sequenceNumber - this.startSeq) & 0xffff;
    if (offset >= 0x8000 || this.held.has(offset) || this.held.size >= MAX_HELD_PACKETS) return false;
    this.held.set(offset, rtp);
    if (rtp.header.marker && rtp.header.timestamp === this.timestamp && (this.endOffset < 0 || offset < this.endOffset)) this.endOffset = offset;
    while (this.held.has(this.contiguous + 1)) this.contiguous++;
    return true;
  }

  /** The whole keyframe is held (never while not active: clear() resets the end). */
  get complete(): boolean {
    return this.endOffset >= 0 && this.contiguous >= this.endOffset;
  }

  /** Whether the hold cannot take more packets. */
  get full(): boolean {
    return this.held.size >= MAX_HELD_PACKETS;
  }

  /** Everything held, in sequence order, and stops holding. */
  drain(): RtpPacket[] {
    const out = [...this.held.entries()].sort((a, b) => a[0] - b[0]).map(([, p]) => p);
    this.clear();
    return out;
  }

  clear(): void {
    this.held.clear();
    this.startSeq = -1;
    this.endOffset = -1;
    this.contiguous = -1;
  }
}
