// Does an RTP payload start a keyframe? Needed to switch simulcast layers cleanly.

/** Where the VP8 payload (frame header) starts after the payload descriptor, or -1. */
function vp8HeaderOffset(payload: Uint8Array): number {
  if (payload.length < 1) return -1;
  const b0 = payload[0]!;
  let i = 1;
  if (b0 & 0x80) {
    if (payload.length < 2) return -1;
    const x = payload[1]!;
    i = 2;
    if (x & 0x80) {
      if (payload.length <= i) return -1;
      i += payload[i]! & 0x80 ? 2 : 1;
    }
    if (x & 0x40) i += 1;
    if (x & 0x30) i += 1;
  }
  return payload.length > i ? i : -1;
}

/** A VP8 keyframe's coded size (from its frame header), or null. */
export function vp8KeyframeSize(payload: Uint8Array): { width: number; height: number } | null {
  if (!isVp8Keyframe(payload)) return null;
  const i = vp8HeaderOffset(payload);
  // 3-byte frame tag, 3-byte start code 9d 01 2a, then 14-bit width and height (2 scale bits each).
  if (i < 0 || payload.length < i + 10 || payload[i + 3] !== 0x9d || payload[i + 4] !== 0x01 || payload[i + 5] !== 0x2a) return null;
  const width = (payload[i + 6]! | (payload[i + 7]! << 8)) & 0x3fff;
  const height = (payload[i + 8]! | (payload[i + 9]! << 8)) & 0x3fff;
  return { width, height };
}

/** VP8 (RFC 7741): the payload descriptor, then the frame header's P bit (0 = keyframe). */
export function isVp8Keyframe(payload: Uint8Array): boolean {
  if (payload.length < 1) return false;
  const b0 = payload[0]!;
  const start = (b0 & 0x10) !== 0;
  const partition = b0 & 0x07;
  if (!start || partition !== 0) return false;
  let i = 1;
  if (b0 & 0x80) {
    if (payload.length < 2) return false;
    const x = payload[1]!;
    i = 2;
    if (x & 0x80) {
      if (payload.length <= i) return false;
      i += payload[i]! & 0x80 ? 2 : 1; // picture id, 7 or 15 bits
    }
    if (x & 0x40) i += 1; // TL0PICIDX
    if (x & 0x30) i += 1; // TID/KEYIDX
  }
  if (payload.length <= i) return false;
  return (payload[i]! & 0x01) === 0;
}

/** H.264 (RFC 6184): an IDR or SPS NAL unit, alone, in a STAP-A, or starting an FU-A. */
export function isH264Keyframe(payload: Uint8Array): boolean {
  if (payload.length < 1) return false;
  const type = payload[0]! & 0x1f;
  if (type === 5 || type === 7) return true;
  if (type === 24) {
    let i = 1;
    while (i + 2 < payload.length) {
      const size = (payload[i]! << 8) | payload[i + 1]!;
      const nal = payload[i + 2]! & 0x1f;
      if (nal === 5 || nal === 7) return true;
      i += 2 + size;
    }
    return false;
  }
  if (type === 28 && payload.length > 1) {
    const fu = payload[1]!;
    return (fu & 0x80) !== 0 && ((fu & 0x1f) === 5 || (fu & 0x1f) === 7);
  }
  return false;
}
