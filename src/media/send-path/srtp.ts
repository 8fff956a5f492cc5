// SRTP protection of outgoing RTP (RFC 3711, RFC 7714) with contexts that live as long as the
// session: the send path protects every forwarded packet once per subscriber, and creating
// OpenSSL cipher and HMAC objects per packet (as werift does) was the largest single cost of
// forwarding.
//
// AES_CM_128_HMAC_SHA1_80 (what Chromium and our server settle on): the AES counter-mode
// keystream comes from one persistent AES-128-ECB context, and is made ahead for the next
// KEYSTREAM_AHEAD packets of each SSRC in one call (./keystream-ahead.ts: a call costs about ten
// times the AES work of one packet), then XORed into the payload. HMAC-SHA1 is computed as two one-shot
// SHA-1 hashes over buffers that already hold the padded key ((K ⊕ ipad) ‖ packet ‖ ROC, then
// (K ⊕ opad) ‖ inner), so no HMAC object is made per packet.
// AEAD_AES_128_GCM: Node has no reusable GCM context, so that profile still makes one
// cipher per packet (but writes in place, with no other allocation than OpenSSL's).
import { createCipheriv, hash, type Cipher } from 'node:crypto';
import { KEYSTREAM_AHEAD, KeystreamAhead } from './keystream-ahead.js';

export const SRTP_AES128_CM_HMAC_SHA1_80 = 0x0001;
export const SRTP_AEAD_AES_128_GCM = 0x0007;
export type SrtpProfile = typeof SRTP_AES128_CM_HMAC_SHA1_80 | typeof SRTP_AEAD_AES_128_GCM;

/** Bytes that follow the packet's payload. */
export function srtpTagLength(profile: SrtpProfile): number {
  return profile === SRTP_AEAD_AES_128_GCM ? 16 : 10;
}

/** Largest RTP packet (header and payload) we protect; longer ones are refused. */
export const MAX_RTP_PACKET = 1500;
const SHA1_BLOCK = 64;
const HMAC_TAG = 10;
/** SSRCs whose keystream is kept ahead per context (a subscriber's transport has a few dozen). */
const MAX_AHEAD_SSRCS = 64;

// RFC 3711 §4.3.1 labels for SRTP (SRTCP keys are not derived: RTCP stays with werift).
const LABEL_RTP_ENCRYPTION = 0x00;
const LABEL_RTP_AUTH = 0x01;
const LABEL_RTP_SALT = 0x02;

function aesEcb(key: Buffer): Cipher {
  const c = createCipheriv('aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return c;
}

/**
 * The SRTP key derivation function (RFC 3711 §4.3.1 with key_derivation_rate 0, and the same
 * for AEAD profiles, RFC 7714 §11): AES-CM of the master key over (label ⊕ master salt).
 */
export function deriveSessionKey(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  const ecb = aesEcb(masterKey);
  const blocks = Math.ceil(length / 16);
  const input = Buffer.alloc(blocks * 16);
  for (let b = 0; b < blocks; b++) {
    // x = (label ‖ 0⁴⁸) ⊕ master salt, as a 112-bit value; the salt is zero-padded on the right
    // to 14 bytes (the 12-byte salts of AEAD profiles, as libsrtp does), then × 2¹⁶ + block.
    const off = b * 16;
    masterSalt.copy(input, off, 0, Math.min(14, masterSalt.length));
    input[off + 7]! ^= label;
    input.writeUInt16BE(b, off + 14);
  }
  return Buffer.concat([ecb.update(input), ecb.final()]).subarray(0, length);
}

/**
 * One direction of an SRTP session, for protecting RTP only. The caller keeps the rollover
 * counter of each SSRC (it knows the order of its own sequence numbers) and passes it in.
 */
export class SrtpSendContext {
  readonly tagLength: number;
  readonly profile: SrtpProfile;
  private readonly sessionKey: Buffer;
  private readonly sessionSalt: Buffer;
  // AES-CM
  private readonly ecb: Cipher | null = null;
  /** Counter blocks of the packets whose keystream is made in one call. */
  private readonly counters = Buffer.alloc(KEYSTREAM_AHEAD * (MAX_RTP_PACKET + 16));
  /** Per SSRC, the keystream of its next packets. */
  private readonly ahead = new Map<number, KeystreamAhead>();
  /** (K ⊕ ipad) ‖ packet ‖ ROC: the inner hash's input, packet written at SHA1_BLOCK. */
  private readonly inner = Buffer.alloc(SHA1_BLOCK + MAX_RTP_PACKET + 4 + 16);
  private readonly innerWords: Int32Array;
  /** (K ⊕ opad) ‖ inner digest. */
  private readonly outer = Buffer.alloc(SHA1_BLOCK + 20);
  // AEAD
  private readonly nonce = Buffer.alloc(12);

  constructor(masterKey: Buffer, masterSalt: Buffer, profile: SrtpProfile);
  /** With session keys given directly (test vectors): `masterSalt` is then the session salt. */
  constructor(sessionKeys: { key: Buffer; salt: Buffer; auth?: Buffer }, profile: SrtpProfile);
  constructor(a: Buffer | { key: Buffer; salt: Buffer; auth?: Buffer }, b: Buffer | SrtpProfile, c?: SrtpProfile) {
    const profile = (Buffer.isBuffer(a) ? c : b) as SrtpProfile;
    this.profile = profile;
    if (profile !== SRTP_AES128_CM_HMAC_SHA1_80 && profile !== SRTP_AEAD_AES_128_GCM) throw new Error(`unsupported SRTP profile ${profile as number}`);
    const cm = profile === SRTP_AES128_CM_HMAC_SHA1_80;
    this.tagLength = srtpTagLength(profile);
    let authKey: Buffer | undefined;
    if (Buffer.isBuffer(a)) {
      const masterSalt = b as Buffer;
      if (a.length !== 16) throw new Error(`SRTP master key must be 16 bytes, got ${a.length}`);
      this.sessionKey = deriveSessionKey(a, masterSalt, LABEL_RTP_ENCRYPTION, 16);
      this.sessionSalt = deriveSessionKey(a, masterSalt, LABEL_RTP_SALT, cm ? 14 : 12);
      if (cm) authKey = deriveSessionKey(a, masterSalt, LABEL_RTP_AUTH, 20);
    } else {
      this.sessionKey = a.key;
      this.sessionSalt = a.salt;
      authKey = a.auth;
    }
    if (cm) {
      this.ecb = aesEcb(this.sessionKey);
      this.inner.fill(0x36, 0, SHA1_BLOCK);
      this.outer.fill(0x5c, 0, SHA1_BLOCK);
      const k = authKey ?? Buffer.alloc(20);
      for (let i = 0; i < k.length; i++) {
        this.inner[i]! ^= k[i]!;
        this.outer[i]! ^= k[i]!;
      }
    }
    this.innerWords = new Int32Array(this.inner.buffer, this.inner.byteOffset, this.inner.length >> 2);
  }

  /**
   * Protects one RTP packet: `headerLength` bytes of header (a multiple of 4) then `payloadLength`
   * bytes of payload, written by the caller at `packetOffset` of the buffer `packetBuffer()`
   * returns. Returns a new Buffer with the SRTP packet (header, encrypted payload, tag), for the
   * socket to keep until it is sent.
   */
  protect(headerLength: number, payloadLength: number, ssrc: number, seq: number, roc: number): Buffer {
    const total = headerLength + payloadLength;
    if (total > MAX_RTP_PACKET || (headerLength & 3) !== 0) throw new RangeError(`RTP packet too long or header unaligned (${headerLength}+${payloadLength})`);
    return this.ecb ? this.protectCm(headerLength, payloadLength, ssrc, seq, roc) : this.protectGcm(headerLength, payloadLength, ssrc, seq, roc);
  }

  /** Where the caller writes the plaintext packet (header then payload) before protect(). */
  packetBuffer(): Buffer {
    return this.inner;
  }

  /** Offset of the packet in packetBuffer(). */
  get packetOffset(): number {
    return SHA1_BLOCK;
  }

  private protectCm(headerLength: number, payloadLength: number, ssrc: number, seq: number, roc: number): Buffer {
    const buf = this.inner;
    const total = headerLength + payloadLength;
    if (payloadLength > 0) {
      const index = roc * 0x10000 + seq;
      let ahead = this.ahead.get(ssrc);
      if (ahead === undefined) {
        if (this.ahead.size >= MAX_AHEAD_SSRCS) this.ahead.clear();
        ahead = new KeystreamAhead();
        this.ahead.set(ssrc, ahead);
      }
      let at = ahead.offsetOf(index, payloadLength);
      if (at < 0) {
        if (ahead.base >= 0 && index < ahead.base) {
          // A packet older than those made ahead (sent late): its own keystream, the rest kept.
          ahead = new KeystreamAhead();
          ahead.make(this.ecb!, this.sessionSalt, ssrc, this.counters, index, payloadLength, 1);
        } else {
          ahead.make(this.ecb!, this.sessionSalt, ssrc, this.counters, index, payloadLength, KEYSTREAM_AHEAD);
        }
        at = 0;
      }
      // XOR the keystream into the payload, four bytes at a time where both are aligned.
      const keystream = ahead.keystream;
      const start = SHA1_BLOCK + headerLength;
      const end = start + payloadLength;
      let i = start;
      if (ahead.words.length > 0) {
        const ks = ahead.words;
        const w = this.innerWords;
        const words = payloadLength >> 2;
        const base = start >> 2;
        const from = at >> 2;
        for (let k = 0; k < words; k++) w[base + k]! ^= ks[from + k]!;
        i = start + (words << 2);
      }
      for (; i < end; i++) buf[i]! ^= keystream[at + i - start]!;
    }
    // Authentication tag: HMAC-SHA1(k_a, packet ‖ ROC), first 80 bits.
    const rocAt = SHA1_BLOCK + total;
    buf.writeUInt32BE(roc >>> 0, rocAt);
    // The digests come back as latin1 ('binary') strings (one char per byte): about half the cost of a
    // Buffer, which Node backs with memory of its own for each digest.
    this.outer.write(hash('sha1', buf.subarray(0, rocAt + 4), 'binary'), SHA1_BLOCK, 20, 'latin1');
    const tag = hash('sha1', this.outer, 'binary');
    const out = Buffer.allocUnsafe(total + HMAC_TAG);
    buf.copy(out, 0, SHA1_BLOCK, rocAt);
    out.write(tag, total, HMAC_TAG, 'latin1');
    return out;
  }

  private protectGcm(headerLength: number, payloadLength: number, ssrc: number, seq: number, roc: number): Buffer {
    // RFC 7714 §8.1: IV = (00 00 ‖ SSRC ‖ ROC ‖ SEQ) ⊕ salt; AAD = the header.
    const n = this.nonce;
    n.writeUInt16BE(0, 0);
    n.writeUInt32BE(ssrc >>> 0, 2);
    n.writeUInt32BE(roc >>> 0, 6);
    n.writeUInt16BE(seq, 10);
    for (let i = 0; i < 12; i++) n[i]! ^= this.sessionSalt[i]!;
    const buf = this.inner;
    const start = SHA1_BLOCK;
    const cipher = createCipheriv('aes-128-gcm', this.sessionKey, n);
    cipher.setAAD(buf.subarray(start, start + headerLength));
    const enc = cipher.update(buf.subarray(start + headerLength, start + headerLength + payloadLength));
    cipher.final();
    const out = Buffer.allocUnsafe(headerLength + payloadLength + 16);
    buf.copy(out, 0, start, start + headerLength);
    enc.copy(out, headerLength);
    cipher.getAuthTag().copy(out, headerLength + payloadLength);
    return out;
  }
}

/**
 * The rollover counter of one outgoing SSRC (RFC 3711 §3.3.1): the index of a packet is the one
 * of ROC−1, ROC, ROC+1 closest to the highest index sent, so a packet sent late (a
 * retransmission forwarded after newer ones) keeps the index the receiver will guess.
 */
export class RolloverCounter {
  private roc = 0;
  private highest = -1;

  /** The ROC for this sequence number, advancing the state if it is the newest. */
  next(seq: number): number {
    if (this.highest < 0) {
      this.highest = seq;
      return this.roc;
    }
    const s = this.highest;
    let v = this.roc;
    if (s < 0x8000) {
      if (seq - s > 0x8000) v = this.roc - 1;
    } else if (s - 0x8000 > seq) {
      v = this.roc + 1;
    }
    if (v < 0) return 0; // before the first packet: cannot be expressed, use 0
    if (v > this.roc || (v === this.roc && seq > s)) {
      this.roc = v >>> 0;
      this.highest = seq;
    }
    return v >>> 0;
  }

  reset(): void {
    this.roc = 0;
    this.highest = -1;
  }
}
