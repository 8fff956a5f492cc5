// G.711 (ITU-T, 1972) μ-law (PCMU, payload type 0) and A-law (PCMA, payload type 8): one byte per
// 8 kHz sample. Decoding is a 256-entry table to 16-bit linear; encoding a table indexed by the
// linear sample's top bits (14 for μ-law, 13 for A-law), built once from the reference algorithm
// (the segment/quantization of G.711 table 1a/2a, as in the ITU's and Sun's g711.c).

export type G711Codec = 'PCMU' | 'PCMA';

export const PAYLOAD_TYPE: Record<G711Codec, number> = { PCMU: 0, PCMA: 8 };

const BIAS = 0x84;
/** Upper ends of the μ-law segments, on the 14-bit magnitude plus bias. */
const SEG_UEND = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];

/** The reference μ-law encoder for one 14-bit sample (the 16-bit sample >> 2). */
function ulawEncodeRef(v14: number): number {
  let v = v14;
  let mask: number;
  if (v < 0) {
    v = -v;
    mask = 0x7f;
  } else {
    mask = 0xff;
  }
  if (v > 8159) v = 8159;
  v += BIAS >> 2;
  let seg = 0;
  while (seg < 8 && v > SEG_UEND[seg]!) seg++;
  if (seg >= 8) return 0x7f ^ mask;
  return ((seg << 4) | ((v >> (seg + 1)) & 0x0f)) ^ mask;
}

function ulawDecodeRef(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  return u & 0x80 ? -magnitude : magnitude;
}

/** The reference A-law encoder for one 16-bit sample (13-bit magnitude). */
function alawEncodeRef(sample: number): number {
  let s = sample >> 3; // 13-bit signed
  let mask: number;
  if (s >= 0) {
    mask = 0xd5; // sign bit set (positive), even bits inverted
  } else {
    mask = 0x55;
    s = -s - 1;
  }
  if (s > 0xfff) s = 0xfff;
  let seg = 0;
  if (s >= 0x20) {
    seg = 1;
    for (let v = s >> 6; v > 0 && seg < 7; v >>= 1) seg++;
  }
  const aval = seg < 1 ? (s >> 1) & 0x0f : (s >> seg) & 0x0f;
  return ((seg << 4) | aval) ^ mask;
}

function alawDecodeRef(byte: number): number {
  const a = byte ^ 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else {
    t += 0x108;
    t <<= seg - 1;
  }
  return a & 0x80 ? t : -t;
}

const ULAW_DECODE = new Int16Array(256);
const ALAW_DECODE = new Int16Array(256);
for (let i = 0; i < 256; i++) {
  ULAW_DECODE[i] = ulawDecodeRef(i);
  ALAW_DECODE[i] = alawDecodeRef(i);
}
/** Indexed by (sample >> 2) + 8192. */
const ULAW_ENCODE = new Uint8Array(16384);
for (let i = 0; i < 16384; i++) ULAW_ENCODE[i] = ulawEncodeRef(i - 8192);
/** Indexed by (sample >> 3) + 4096. */
const ALAW_ENCODE = new Uint8Array(8192);
for (let i = 0; i < 8192; i++) ALAW_ENCODE[i] = alawEncodeRef((i - 4096) << 3);

export function ulawEncodeSample(sample: number): number {
  return ULAW_ENCODE[(sample >> 2) + 8192]!;
}

export function ulawDecodeSample(byte: number): number {
  return ULAW_DECODE[byte & 0xff]!;
}

export function alawEncodeSample(sample: number): number {
  return ALAW_ENCODE[(sample >> 3) + 4096]!;
}

export function alawDecodeSample(byte: number): number {
  return ALAW_DECODE[byte & 0xff]!;
}

/** G.711 bytes → 16-bit linear samples (one per byte). */
export function g711Decode(codec: G711Codec, payload: Uint8Array, out: Int16Array = new Int16Array(payload.length)): Int16Array {
  const table = codec === 'PCMU' ? ULAW_DECODE : ALAW_DECODE;
  for (let i = 0; i < payload.length; i++) out[i] = table[payload[i]!]!;
  return out;
}

/** 16-bit linear samples → G.711 bytes. */
export function g711Encode(codec: G711Codec, pcm: Int16Array, out: Buffer = Buffer.allocUnsafe(pcm.length)): Buffer {
  if (codec === 'PCMU') for (let i = 0; i < pcm.length; i++) out[i] = ULAW_ENCODE[(pcm[i]! >> 2) + 8192]!;
  else for (let i = 0; i < pcm.length; i++) out[i] = ALAW_ENCODE[(pcm[i]! >> 3) + 4096]!;
  return out;
}

/** The codec of a static G.711 payload type, or null. */
export function codecForPayloadType(pt: number): G711Codec | null {
  return pt === 0 ? 'PCMU' : pt === 8 ? 'PCMA' : null;
}
