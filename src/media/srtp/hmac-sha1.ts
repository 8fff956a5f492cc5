// HMAC-SHA1 (RFC 2104) for SRTP and SRTCP authentication tags, without an HMAC object per packet:
// the message is written after the key's inner pad in one long-lived buffer, and the HMAC is two
// one-shot SHA-1 hashes, (K ⊕ ipad) ‖ message, then (K ⊕ opad) ‖ inner digest. The digests come
// back as latin1 ('binary') strings, one char per byte: about half the cost of a digest Buffer,
// which Node backs with memory of its own.
import { hash } from 'node:crypto';

const SHA1_BLOCK = 64;
const SHA1_BYTES = 20;
/** Where callers write the message in `HmacSha1.buffer`. */
export const HMAC_MESSAGE_OFFSET = SHA1_BLOCK;

export class HmacSha1 {
  /** (K ⊕ ipad) ‖ message; the message is written at HMAC_MESSAGE_OFFSET. A new one after renew(). */
  buffer: Buffer;
  /** `buffer` as 32-bit words, for XORing keystream into the message in place. */
  words: Int32Array;
  /** (K ⊕ opad) ‖ inner digest. */
  private readonly outer = Buffer.alloc(SHA1_BLOCK + SHA1_BYTES);

  /** `key` at most 64 bytes (SRTP's are 20); `maxMessage` the longest message to authenticate. */
  constructor(key: Buffer, maxMessage: number) {
    if (key.length > SHA1_BLOCK) throw new RangeError('HMAC key longer than one SHA-1 block');
    // A multiple of 4 bytes with room to spare, so the words view covers every message byte.
    this.buffer = Buffer.alloc(SHA1_BLOCK + ((maxMessage + 7) & ~3));
    this.words = new Int32Array(this.buffer.buffer, this.buffer.byteOffset, this.buffer.length >> 2);
    this.buffer.fill(0x36, 0, SHA1_BLOCK);
    this.outer.fill(0x5c, 0, SHA1_BLOCK);
    for (let i = 0; i < key.length; i++) {
      this.buffer[i]! ^= key[i]!;
      this.outer[i]! ^= key[i]!;
    }
  }

  /** Leaves the current buffer to whoever holds a view of it, and works in a new one from now on. */
  renew(): void {
    const next = Buffer.alloc(this.buffer.length);
    this.buffer.copy(next, 0, 0, SHA1_BLOCK);
    this.buffer = next;
    this.words = new Int32Array(next.buffer, next.byteOffset, next.length >> 2);
  }

  /** The HMAC of the `length` bytes written at HMAC_MESSAGE_OFFSET, as 20 latin1 chars. */
  digest(length: number): string {
    this.outer.write(hash('sha1', this.buffer.subarray(0, SHA1_BLOCK + length), 'binary'), SHA1_BLOCK, SHA1_BYTES, 'latin1');
    return hash('sha1', this.outer, 'binary');
  }
}

/**
 * Whether the first `length` chars of a digest string equal `bytes[at, at + length)`; every byte
 * is compared whatever the result, so the time taken does not say where a forged tag differs.
 */
export function tagMatches(digest: string, bytes: Buffer, at: number, length: number): boolean {
  let diff = 0;
  for (let i = 0; i < length; i++) diff |= digest.charCodeAt(i) ^ bytes[at + i]!;
  return diff === 0;
}
