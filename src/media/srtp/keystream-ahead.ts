// AES-CM keystream (RFC 3711 §4.1.1) made ahead for the next packets of one SSRC. The send path
// numbers its own packets, so the next indexes are known; one AES-ECB call over the counter
// blocks of KEYSTREAM_AHEAD packets costs about what one call for a single packet did (the call,
// not the AES work, was most of the cost), and allocates one buffer instead of one per packet.
import type { Cipher } from 'node:crypto';

/** SSRCs whose keystream one session keeps ahead (a transport has a few dozen). */
const MAX_AHEAD_SSRCS = 64;

/** Packets whose keystream one cipher call makes. */
export const KEYSTREAM_AHEAD = 16;
const BLOCK = 16;

/** The keystream of consecutive packet indexes (ROC·2¹⁶ + SEQ) of one SSRC, in equal slots. */
export class KeystreamAhead {
  /** Index of the packet in slot 0; -1 before the first call. */
  base = -1;
  /** Slots made. */
  count = 0;
  /** Keystream bytes per slot (a multiple of 16): the longest payload seen so far. */
  slotBytes = 0;
  keystream: Buffer = Buffer.alloc(0);
  /** The keystream as 32-bit words, for the XOR (slots start at multiples of 16 bytes). */
  words: Int32Array = new Int32Array(0);

  /** Byte offset of the keystream for `length` bytes of packet `index`, or -1 if not made. */
  offsetOf(index: number, length: number): number {
    const slot = index - this.base;
    if (this.base < 0 || slot < 0 || slot >= this.count || length > this.slotBytes) return -1;
    return slot * this.slotBytes;
  }

  /**
   * Makes the keystream of `count` packets of `ssrc` from `index` on, each at least `length`
   * bytes long. `salt` is the 14-byte session salt; `counters` a scratch buffer of at least
   * count × slot bytes.
   */
  make(ecb: Cipher, salt: Buffer, ssrc: number, counters: Buffer, index: number, length: number, count: number): void {
    const slotBytes = Math.max(this.slotBytes, (length + BLOCK - 1) & ~(BLOCK - 1));
    const bytes = slotBytes * count;
    const blocks = slotBytes / BLOCK;
    for (let i = 0; i < count; i++) {
      const at = i * slotBytes;
      const packet = index + i;
      const seq = packet % 0x10000;
      const roc = Math.floor(packet / 0x10000) >>> 0;
      // IV = (k_s · 2¹⁶) ⊕ (SSRC · 2⁶⁴) ⊕ (index · 2¹⁶); the block counter fills the low 16 bits.
      salt.copy(counters, at, 0, 14);
      counters.writeUInt32BE((counters.readUInt32BE(at + 4) ^ ssrc) >>> 0, at + 4);
      counters.writeUInt32BE((counters.readUInt32BE(at + 8) ^ roc) >>> 0, at + 8);
      counters.writeUInt16BE(counters.readUInt16BE(at + 12) ^ seq, at + 12);
      counters[at + 14] = 0;
      counters[at + 15] = 0;
      // Blocks 1…: the same IV, copied by doubling, then each its own counter.
      for (let filled = BLOCK; filled < slotBytes; filled *= 2) counters.copyWithin(at + filled, at, at + Math.min(filled, slotBytes - filled));
      for (let b = 1; b < blocks; b++) {
        counters[at + b * BLOCK + 14] = b >> 8;
        counters[at + b * BLOCK + 15] = b & 0xff;
      }
    }
    const keystream = ecb.update(counters.subarray(0, bytes));
    this.keystream = keystream;
    this.words = (keystream.byteOffset & 3) === 0 ? new Int32Array(keystream.buffer, keystream.byteOffset, bytes >> 2) : new Int32Array(0);
    this.base = index;
    this.count = count;
    this.slotBytes = slotBytes;
  }
}

/**
 * The keystream of one session key (SRTP or SRTCP, one direction), kept ahead per SSRC, and
 * XORed into packets in place.
 */
export class SessionKeystream {
  private readonly ahead = new Map<number, KeystreamAhead>();
  /** Counter blocks of the packets whose keystream is made in one call. */
  private readonly counters: Buffer;

  /** `ecb`: AES-128-ECB with the session key, no padding; `salt`: the 14-byte session salt. */
  constructor(
    private readonly ecb: Cipher,
    private readonly salt: Buffer,
    maxLength: number,
  ) {
    this.counters = Buffer.alloc(KEYSTREAM_AHEAD * (maxLength + BLOCK));
  }

  /**
   * XORs the keystream of packet `index` (ROC·2¹⁶ + SEQ, or the SRTCP index) of `ssrc` into
   * `buf[start, start + length)`. `words` views the same memory as `buf`, from its start; with
   * `start` a multiple of 4, the XOR goes four bytes at a time.
   */
  xor(buf: Buffer, words: Int32Array, start: number, length: number, ssrc: number, index: number): void {
    if (length <= 0) return;
    let ahead = this.ahead.get(ssrc);
    if (ahead === undefined) {
      if (this.ahead.size >= MAX_AHEAD_SSRCS) this.ahead.clear();
      ahead = new KeystreamAhead();
      this.ahead.set(ssrc, ahead);
    }
    let at = ahead.offsetOf(index, length);
    if (at < 0) {
      if (ahead.base >= 0 && index < ahead.base) {
        // Older than those made ahead (sent or received late): its own keystream, the rest kept.
        ahead = new KeystreamAhead();
        ahead.make(this.ecb, this.salt, ssrc, this.counters, index, length, 1);
      } else {
        ahead.make(this.ecb, this.salt, ssrc, this.counters, index, length, KEYSTREAM_AHEAD);
      }
      at = 0;
    }
    const keystream = ahead.keystream;
    const end = start + length;
    let i = start;
    if (ahead.words.length > 0 && (start & 3) === 0) {
      const ks = ahead.words;
      const n = length >> 2;
      const base = start >> 2;
      const from = at >> 2;
      for (let k = 0; k < n; k++) words[base + k]! ^= ks[from + k]!;
      i = start + (n << 2);
    }
    for (; i < end; i++) buf[i]! ^= keystream[at + i - start]!;
  }
}
