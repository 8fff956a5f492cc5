// SRTP unprotection of incoming RTP (RFC 3711, AES_CM_128_HMAC_SHA1_80) with a context that
// lives as long as the session, for what publishers send us. werift made an AES and an HMAC
// object per packet. Here the packet is copied once, after the HMAC key's pad (./hmac-sha1.ts),
// authenticated there, decrypted in place with keystream made ahead per SSRC
// (./keystream-ahead.ts: arrivals are mostly in order), and copied out.
//
// The rollover counter of each SSRC is guessed as RFC 3711 §3.3.1 and appendix A say: the index
// closest to the highest one received so far. The state moves only for packets that
// authenticate, so a forged or damaged packet cannot shift it.
import { HMAC_MESSAGE_OFFSET, type HmacSha1, tagMatches } from './hmac-sha1.js';
import type { SessionKeystream } from './keystream-ahead.js';
import { cmSessionCrypto, deriveSessionKeys, HMAC_TAG, MAX_RTP_PACKET, RTP_LABELS } from './srtp.js';

const RTP_HEADER = 12;
/** SSRCs whose rollover state one context keeps (a publisher sends a handful). */
const MAX_SSRCS = 256;

/** Why a packet was refused; the caller drops it. */
export class SrtpUnprotectError extends Error {}

/** Per SSRC: rollover counter and highest sequence number received (RFC 3711 s_l). */
interface ReceiveState {
  roc: number;
  highest: number;
}

/** One direction of an SRTP session (AES_CM_128_HMAC_SHA1_80), for RTP that we receive. */
export class SrtpReceiveContext {
  private readonly hmac: HmacSha1;
  private readonly keystream: SessionKeystream;
  private readonly states = new Map<number, ReceiveState>();

  constructor(masterKey: Buffer, masterSalt: Buffer) {
    ({ keystream: this.keystream, hmac: this.hmac } = cmSessionCrypto(deriveSessionKeys(masterKey, masterSalt, RTP_LABELS, 14), MAX_RTP_PACKET));
  }

  /**
   * Authenticates and decrypts one SRTP packet. Returns a new Buffer with the RTP packet (header
   * and payload, padding included); throws SrtpUnprotectError for a packet that is too short,
   * too long, malformed or not authentic.
   */
  unprotect(packet: Buffer): Buffer {
    const length = packet.length - HMAC_TAG;
    if (length < RTP_HEADER) throw new SrtpUnprotectError('SRTP packet too short');
    if (length > MAX_RTP_PACKET) throw new SrtpUnprotectError('SRTP packet too long');
    if (packet[0]! >> 6 !== 2) throw new SrtpUnprotectError('not RTP version 2');
    let headerLength = RTP_HEADER + 4 * (packet[0]! & 0x0f);
    if (packet[0]! & 0x10) {
      if (headerLength + 4 > length) throw new SrtpUnprotectError('RTP header extension cut short');
      headerLength += 4 + 4 * packet.readUInt16BE(headerLength + 2);
    }
    if (headerLength > length) throw new SrtpUnprotectError('RTP header longer than the packet');
    const seq = packet.readUInt16BE(2);
    const ssrc = packet.readUInt32BE(8);
    const state = this.states.get(ssrc);
    const roc = state === undefined ? 0 : guessRoc(state, seq);
    if (roc < 0) throw new SrtpUnprotectError('SRTP packet from before the first one received');

    const hmac = this.hmac;
    const buf = hmac.buffer;
    const start = HMAC_MESSAGE_OFFSET;
    packet.copy(buf, start, 0, length);
    buf.writeUInt32BE(roc, start + length);
    if (!tagMatches(hmac.digest(length + 4), packet, length, HMAC_TAG)) throw new SrtpUnprotectError('SRTP authentication failed');

    if (state === undefined) {
      if (this.states.size >= MAX_SSRCS) this.states.clear();
      this.states.set(ssrc, { roc, highest: seq });
    } else if (roc > state.roc || (roc === state.roc && seq > state.highest)) {
      state.roc = roc;
      state.highest = seq;
    }
    this.keystream.xor(buf, hmac.words, start + headerLength, length - headerLength, ssrc, roc * 0x10000 + seq);
    const out = Buffer.allocUnsafe(length);
    buf.copy(out, 0, start, start + length);
    return out;
  }
}

/** RFC 3711 appendix A: the ROC that puts `seq` closest to the highest index received. */
function guessRoc(state: ReceiveState, seq: number): number {
  const s = state.highest;
  if (s < 0x8000) return seq - s > 0x8000 ? state.roc - 1 : state.roc;
  return s - 0x8000 > seq ? state.roc + 1 : state.roc;
}
