// SRTP protection of outgoing RTP (RFC 3711, RFC 7714) with contexts that live as long as the
// session: the send path protects every forwarded packet once per subscriber, and creating
// OpenSSL cipher and HMAC objects per packet (as werift does) was the largest single cost of
// forwarding. Also the SRTP key derivation and profile constants the receive side and SRTCP
// (./srtp-receive.ts, ./srtcp.ts) share.
//
// AES_CM_128_HMAC_SHA1_80 (what Chromium and our server settle on): the AES counter-mode
// keystream comes from one persistent AES-128-ECB context, and is made ahead for the next
// KEYSTREAM_AHEAD packets of each SSRC in one call (./keystream-ahead.ts: a call costs about ten
// times the AES work of one packet), then XORed into the payload. HMAC-SHA1 is two one-shot
// SHA-1 hashes over a buffer that already holds the padded key (./hmac-sha1.ts), so no HMAC
// object is made per packet.
// AEAD_AES_128_GCM: Node has no reusable GCM context, so that profile still makes one
// cipher per packet (but writes in place, with no other allocation than OpenSSL's).
import { createCipheriv, type Cipher } from 'node:crypto';
import { SessionKeystream } from './keystream-ahead.js';
import { HMAC_MESSAGE_OFFSET, HmacSha1 } from './hmac-sha1.js';

export const SRTP_AES128_CM_HMAC_SHA1_80 = 0x0001;
export const SRTP_AEAD_AES_128_GCM = 0x0007;
export type SrtpProfile = typeof SRTP_AES128_CM_HMAC_SHA1_80 | typeof SRTP_AEAD_AES_128_GCM;

/** Bytes that follow the packet's payload. */
export function srtpTagLength(profile: SrtpProfile): number {
  return profile === SRTP_AEAD_AES_128_GCM ? 16 : 10;
}

/** Largest RTP packet (header and payload) we protect; longer ones are refused. */
export const MAX_RTP_PACKET = 1500;
/** Bytes of an AES_CM_128_HMAC_SHA1_80 authentication tag. */
export const HMAC_TAG = 10;

/** RFC 3711 §4.3.1 key derivation labels of one kind of session. */
export interface SessionLabels {
  encryption: number;
  auth: number;
  salt: number;
}
export const RTP_LABELS: SessionLabels = { encryption: 0x00, auth: 0x01, salt: 0x02 };
export const RTCP_LABELS: SessionLabels = { encryption: 0x03, auth: 0x04, salt: 0x05 };

/** One direction's session keys: encryption key, salt, and (for AES-CM) the HMAC key. */
export interface SessionKeys {
  key: Buffer;
  salt: Buffer;
  auth?: Buffer;
}

/** AES-128-ECB without padding: the keystream's block cipher. */
export function aesEcb(key: Buffer): Cipher {
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

/** The session keys of one direction, derived from its master key and salt with `labels`. */
export function deriveSessionKeys(masterKey: Buffer, masterSalt: Buffer, labels: SessionLabels, saltLength: 12 | 14): Required<SessionKeys> {
  if (masterKey.length !== 16) throw new Error(`SRTP master key must be 16 bytes, got ${masterKey.length}`);
  return {
    key: deriveSessionKey(masterKey, masterSalt, labels.encryption, 16),
    salt: deriveSessionKey(masterKey, masterSalt, labels.salt, saltLength),
    auth: deriveSessionKey(masterKey, masterSalt, labels.auth, 20),
  };
}

/**
 * The AES-CM keystream and HMAC-SHA1 (AES_CM_128_HMAC_SHA1_80) of one direction of an SRTP or
 * SRTCP session, for packets up to `maxLength` bytes.
 */
export function cmSessionCrypto(keys: SessionKeys, maxLength: number): { keystream: SessionKeystream; hmac: HmacSha1 } {
  return {
    keystream: new SessionKeystream(aesEcb(keys.key), keys.salt, maxLength),
    // The tagged message is the packet and 4 more bytes (the ROC, or E‖SRTCP index); the room
    // for the tag lets SrtpSendContext write it in place of the ROC.
    hmac: new HmacSha1(keys.auth ?? Buffer.alloc(20), maxLength + Math.max(4, HMAC_TAG)),
  };
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
  // AES-CM: the keystream per SSRC, and the HMAC whose buffer holds packet ‖ ROC.
  private readonly keystream: SessionKeystream | null = null;
  private readonly hmac: HmacSha1 | null = null;
  // AEAD: the packet is written at the same offset of a plain buffer.
  private readonly plain: Buffer | null = null;
  private readonly nonce = Buffer.alloc(12);

  constructor(masterKey: Buffer, masterSalt: Buffer, profile: SrtpProfile);
  /** With session keys given directly (test vectors): `masterSalt` is then the session salt. */
  constructor(sessionKeys: SessionKeys, profile: SrtpProfile);
  constructor(a: Buffer | SessionKeys, b: Buffer | SrtpProfile, c?: SrtpProfile) {
    const profile = (Buffer.isBuffer(a) ? c : b) as SrtpProfile;
    this.profile = profile;
    if (profile !== SRTP_AES128_CM_HMAC_SHA1_80 && profile !== SRTP_AEAD_AES_128_GCM) throw new Error(`unsupported SRTP profile ${profile as number}`);
    const cm = profile === SRTP_AES128_CM_HMAC_SHA1_80;
    this.tagLength = srtpTagLength(profile);
    const keys = Buffer.isBuffer(a) ? deriveSessionKeys(a, b as Buffer, RTP_LABELS, cm ? 14 : 12) : a;
    this.sessionKey = keys.key;
    this.sessionSalt = keys.salt;
    if (cm) {
      ({ keystream: this.keystream, hmac: this.hmac } = cmSessionCrypto(keys, MAX_RTP_PACKET));
    } else {
      this.plain = Buffer.alloc(HMAC_MESSAGE_OFFSET + MAX_RTP_PACKET);
    }
  }

  /**
   * Protects one RTP packet: `headerLength` bytes of header (a multiple of 4) then `payloadLength`
   * bytes of payload, written by the caller at `packetOffset` of the buffer `packetBuffer()`
   * returns. Returns the SRTP packet (header, encrypted payload, tag). With AES-CM that is a view
   * of the context's own buffer, protected in place and valid until the next protect(): a caller
   * whose socket keeps it longer (a send that was queued) calls keepLastPacket().
   */
  protect(headerLength: number, payloadLength: number, ssrc: number, seq: number, roc: number): Buffer {
    const total = headerLength + payloadLength;
    if (total > MAX_RTP_PACKET || (headerLength & 3) !== 0) throw new RangeError(`RTP packet too long or header unaligned (${headerLength}+${payloadLength})`);
    return this.hmac ? this.protectCm(headerLength, payloadLength, ssrc, seq, roc) : this.protectGcm(headerLength, payloadLength, ssrc, seq, roc);
  }

  /** Where the caller writes the plaintext packet (header then payload) before protect(). */
  packetBuffer(): Buffer {
    return this.hmac ? this.hmac.buffer : this.plain!;
  }

  /** The packet protect() returned last stays as it is: later packets are written elsewhere. */
  keepLastPacket(): void {
    this.hmac?.renew();
  }

  /** Offset of the packet in packetBuffer(). */
  get packetOffset(): number {
    return HMAC_MESSAGE_OFFSET;
  }

  private protectCm(headerLength: number, payloadLength: number, ssrc: number, seq: number, roc: number): Buffer {
    const hmac = this.hmac!;
    const buf = hmac.buffer;
    const total = headerLength + payloadLength;
    const start = HMAC_MESSAGE_OFFSET;
    this.keystream!.xor(buf, hmac.words, start + headerLength, payloadLength, ssrc, roc * 0x10000 + seq);
    // Authentication tag: HMAC-SHA1(k_a, packet ‖ ROC), first 80 bits.
    buf.writeUInt32BE(roc >>> 0, start + total);
    const tag = hmac.digest(total + 4);
    // The tag takes the place of the ROC, which is authenticated but not sent.
    buf.write(tag, start + total, HMAC_TAG, 'latin1');
    return buf.subarray(start, start + total + HMAC_TAG);
  }

  private protectGcm(headerLength: number, payloadLength: number, ssrc: number, seq: number, roc: number): Buffer {
    // RFC 7714 §8.1: IV = (00 00 ‖ SSRC ‖ ROC ‖ SEQ) ⊕ salt; AAD = the header.
    const n = this.nonce;
    n.writeUInt16BE(0, 0);
    n.writeUInt32BE(ssrc >>> 0, 2);
    n.writeUInt32BE(roc >>> 0, 6);
    n.writeUInt16BE(seq, 10);
    for (let i = 0; i < 12; i++) n[i]! ^= this.sessionSalt[i]!;
    const buf = this.plain!;
    const start = HMAC_MESSAGE_OFFSET;
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
