// SRTP unprotection of incoming RTP (RFC 3711, AES_CM_128_HMAC_SHA1_80) with a context that
// lives as long as the session, for what publishers send us. werift made an AES and an HMAC
// object per packet. Here the packet is copied once, after the HMAC key's pad (./hmac-sha1.ts),
// authenticated there, decrypted in place with keystream made ahead per SSRC
// (./keystream-ahead.ts: arrivals are mostly in order), and copied out.
//
// The rollover counter of each SSRC is guessed as RFC 3711 §3.3.1 and appendix A say: the index
// closest to the highest one received so far. The state moves only for packets that
// authenticate, so a forged or damaged packet cannot shift it.
//
// Replayed packets are refused (RFC 3711 §3.3.2): an index already received, or one more than
// REPLAY_WINDOW behind the highest, is dropped before it is authenticated or decrypted. A sender
// never uses an index twice (libsrtp refuses to), so only a copy made on the path is lost.
import { HMAC_MESSAGE_OFFSET, type HmacSha1, tagMatches } from './hmac-sha1.js';
import type { SessionKeystream } from './keystream-ahead.js';
import { cmSessionCrypto, deriveSessionKeys, HMAC_TAG, MAX_RTP_PACKET, RTP_LABELS } from './srtp.js';

const RTP_HEADER = 12;
/** SSRCs whose rollover state one context keeps (a publisher sends a handful). */
const MAX_SSRCS = 256;
/** Indexes this far behind the highest received are still accepted once (Chromium's window). */
export const REPLAY_WINDOW = 1024;

/** Why a packet was refused; the caller drops it. */
export class SrtpUnprotectError extends Error {}

/** Per SSRC: rollover counter and highest sequence number received (RFC 3711 s_l) ... */
interface ReceiveState {
  roc: number;
  highest: number;
  /** ... and the replay list: the index last received in each slot (index modulo REPLAY_WINDOW). */
  received: Float64Array;
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
    const index = roc * 0x10000 + seq;
    if (state !== undefined) {
      const behind = state.roc * 0x10000 + state.highest - index;
      if (behind >= REPLAY_WINDOW) throw new SrtpUnprotectError('SRTP packet too old (outside the replay window)');
      if (behind >= 0 && state.received[index % REPLAY_WINDOW] === index) throw new SrtpUnprotectError('SRTP packet replayed');
    }

    const hmac = this.hmac;
    const buf = hmac.buffer;
    const start = HMAC_MESSAGE_OFFSET;
    packet.copy(buf, start, 0, length);
    buf.writeUInt32BE(roc, start + length);
    if (!tagMatches(hmac.digest(length + 4), packet, length, HMAC_TAG)) throw new SrtpUnprotectError('SRTP authentication failed');

    if (state === undefined) {
      if (this.states.size >= MAX_SSRCS) this.states.clear();
      const received = new Float64Array(REPLAY_WINDOW).fill(-1);
      received[index % REPLAY_WINDOW] = index;
      this.states.set(ssrc, { roc, highest: seq, received });
    } else {
      if (roc > state.roc || (roc === state.roc && seq > state.highest)) {
        state.roc = roc;
        state.highest = seq;
      }
      state.received[index % REPLAY_WINDOW] = index;
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
