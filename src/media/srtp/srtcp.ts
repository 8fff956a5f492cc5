// SRTCP (RFC 3711 §3.4, AES_CM_128_HMAC_SHA1_80) in both directions, with contexts that live as
// long as the session. Every subscriber sends transport-cc feedback many times a second and
// every sender sends reports; werift made an AES and an HMAC object, and several buffers, for
// each. Layout: the first 8 bytes (header and sender SSRC) in the clear, the rest encrypted,
// then E‖SRTCP index (4 bytes) and the 80-bit tag over everything before it.
import { HMAC_MESSAGE_OFFSET, type HmacSha1, tagMatches } from './hmac-sha1.js';
import type { SessionKeystream } from './keystream-ahead.js';
import { cmSessionCrypto, deriveSessionKeys, HMAC_TAG, RTCP_LABELS } from './srtp.js';

/** Longest compound RTCP packet we protect or unprotect here. */
const MAX_RTCP_PACKET = 1500;
const CLEAR = 8;
const INDEX = 4;
const E_BIT = 0x80000000;
const MAX_INDEX = 0x7fffffff;
/** Sender SSRCs whose index one context keeps. */
const MAX_SSRCS = 256;
/** SRTCP indexes this far behind the highest received are still accepted once (RFC 3711 §3.3.2). */
export const SRTCP_REPLAY_WINDOW = 128;

/** Per sender SSRC, for unprotect: the highest index received and the replay list (index by slot). */
interface ReceivedIndexes {
  highest: number;
  slots: Int32Array;
}

export class SrtcpUnprotectError extends Error {}

/** One direction of an SRTCP session. Protect for what we send, unprotect for what we receive. */
export class SrtcpContext {
  private readonly hmac: HmacSha1;
  private readonly keystream: SessionKeystream;
  /** Per sender SSRC, the last SRTCP index used (protect). */
  private readonly sent = new Map<number, number>();
  /** Per sender SSRC, what was received (unprotect): a replayed packet is refused. */
  private readonly received = new Map<number, ReceivedIndexes>();

  constructor(masterKey: Buffer, masterSalt: Buffer) {
    // The tagged message is the packet and its 4-byte E‖index: cmSessionCrypto leaves room for it.
    ({ keystream: this.keystream, hmac: this.hmac } = cmSessionCrypto(deriveSessionKeys(masterKey, masterSalt, RTCP_LABELS, 14), MAX_RTCP_PACKET));
  }

  /** Protects a (compound) RTCP packet of 8 to MAX_RTCP_PACKET bytes with the sender SSRC's next index. */
  protect(rtcp: Buffer): Buffer {
    const length = rtcp.length;
    if (length < CLEAR || length > MAX_RTCP_PACKET) throw new RangeError(`RTCP packet of ${length} bytes`);
    const ssrc = rtcp.readUInt32BE(4);
    // The first index is 1, as werift and libsrtp count.
    const index = ((this.sent.get(ssrc) ?? 0) + 1) & MAX_INDEX;
    if (!this.sent.has(ssrc) && this.sent.size >= MAX_SSRCS) this.sent.clear();
    this.sent.set(ssrc, index);
    const hmac = this.hmac;
    const buf = hmac.buffer;
    const start = HMAC_MESSAGE_OFFSET;
    rtcp.copy(buf, start);
    this.keystream.xor(buf, hmac.words, start + CLEAR, length - CLEAR, ssrc, index);
    buf.writeUInt32BE((E_BIT | index) >>> 0, start + length);
    const tag = hmac.digest(length + INDEX);
    const out = Buffer.allocUnsafe(length + INDEX + HMAC_TAG);
    buf.copy(out, 0, start, start + length + INDEX);
    out.write(tag, length + INDEX, HMAC_TAG, 'latin1');
    return out;
  }

  /**
   * Authenticates and decrypts one SRTCP packet; returns the RTCP packet. Throws
   * SrtcpUnprotectError for a packet that is too short, too long, not authentic, or replayed (its
   * sender's index already received, or more than SRTCP_REPLAY_WINDOW behind the highest).
   */
  unprotect(packet: Buffer): Buffer {
    const authenticated = packet.length - HMAC_TAG;
    const length = authenticated - INDEX;
    if (length < CLEAR) throw new SrtcpUnprotectError('SRTCP packet too short');
    if (length > MAX_RTCP_PACKET) throw new SrtcpUnprotectError('SRTCP packet too long');
    const ssrc = packet.readUInt32BE(4);
    const word = packet.readUInt32BE(length);
    const index = word & MAX_INDEX;
    const seen = this.received.get(ssrc);
    if (seen !== undefined) {
      const behind = seen.highest - index;
      if (behind >= SRTCP_REPLAY_WINDOW) throw new SrtcpUnprotectError('SRTCP packet too old (outside the replay window)');
      if (behind >= 0 && seen.slots[index % SRTCP_REPLAY_WINDOW] === index) throw new SrtcpUnprotectError('SRTCP packet replayed');
    }
    const hmac = this.hmac;
    const buf = hmac.buffer;
    const start = HMAC_MESSAGE_OFFSET;
    packet.copy(buf, start, 0, authenticated);
    if (!tagMatches(hmac.digest(authenticated), packet, authenticated, HMAC_TAG)) throw new SrtcpUnprotectError('SRTCP authentication failed');
    if (seen === undefined) {
      if (this.received.size >= MAX_SSRCS) this.received.clear();
      const slots = new Int32Array(SRTCP_REPLAY_WINDOW).fill(-1);
      slots[index % SRTCP_REPLAY_WINDOW] = index;
      this.received.set(ssrc, { highest: index, slots });
    } else {
      if (index > seen.highest) seen.highest = index;
      seen.slots[index % SRTCP_REPLAY_WINDOW] = index;
    }
    if (word & E_BIT) this.keystream.xor(buf, hmac.words, start + CLEAR, length - CLEAR, packet.readUInt32BE(4), word & MAX_INDEX);
    const out = Buffer.allocUnsafe(length);
    buf.copy(out, 0, start, start + length);
    return out;
  }
}
