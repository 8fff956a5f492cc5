// Puts our SRTP/SRTCP contexts (./srtp-receive.ts, ./srtcp.ts) under werift's DTLS transports:
// werift decrypts every incoming packet and encrypts every RTCP packet it sends with an AES and
// an HMAC object made per packet, which cost more than the rest of its receive path. After
// werift derives a transport's session (RTCDtlsTransport.updateSrtpSession, at each DTLS
// handshake), its SRTP decrypt and SRTCP decrypt/encrypt are replaced by ours, for
// AES_CM_128_HMAC_SHA1_80. Other profiles (AEAD_AES_128_GCM) keep werift's. werift's SRTP encrypt
// (its own senders; the SFU's forwarding has its own send path) is left as it is.
//
// This changes werift process-wide, once: every RTCDtlsTransport in the process uses our
// contexts. werift's callers expect an SrtpAuthenticationError for a packet to drop, so that is
// what ours throw for any packet they refuse.
import { RTCDtlsTransport, SrtpAuthenticationError } from 'werift';
import { SRTP_AES128_CM_HMAC_SHA1_80 } from './srtp.js';
import { SrtpReceiveContext } from './srtp-receive.js';
import { SrtcpContext } from './srtcp.js';

interface SessionKeys {
  localMasterKey: Buffer;
  localMasterSalt: Buffer;
  remoteMasterKey: Buffer;
  remoteMasterSalt: Buffer;
}
interface WeriftSession {
  config: { keys: SessionKeys; profile: number };
  decrypt: (packet: Buffer) => Buffer;
  encrypt: (...args: never[]) => Buffer;
}
interface DtlsTransportSessions {
  srtp?: WeriftSession;
  srtcp?: WeriftSession;
}

let installed = false;

export function useOwnSrtpContexts(): void {
  if (installed) return;
  installed = true;
  const proto = RTCDtlsTransport.prototype as unknown as { updateSrtpSession: (this: DtlsTransportSessions) => void };
  const update = proto.updateSrtpSession;
  proto.updateSrtpSession = function (this: DtlsTransportSessions) {
    update.call(this);
    if (this.srtp && this.srtcp) replaceContexts(this.srtp, this.srtcp);
  };
}

function replaceContexts(srtp: WeriftSession, srtcp: WeriftSession): void {
  const { keys, profile } = srtp.config;
  if (profile !== SRTP_AES128_CM_HMAC_SHA1_80) return;
  const rtpIn = new SrtpReceiveContext(keys.remoteMasterKey, keys.remoteMasterSalt);
  const rtcpIn = new SrtcpContext(keys.remoteMasterKey, keys.remoteMasterSalt);
  const rtcpOut = new SrtcpContext(keys.localMasterKey, keys.localMasterSalt);
  srtp.decrypt = refusingAsWerift((packet) => rtpIn.unprotect(packet));
  srtcp.decrypt = refusingAsWerift((packet) => rtcpIn.unprotect(packet));
  // An RTCP packet longer than srtcp.ts accepts (1,500 bytes) throws, and werift's callers drop
  // it: it would not fit a datagram on any path anyway, and werift's own context cannot take over
  // without reusing indexes (and so keystream) of ours.
  srtcp.encrypt = ((rtcp: Buffer) => rtcpOut.protect(rtcp)) as never;
}

/** werift drops a packet on an SrtpAuthenticationError (and only on that): ours say so for any refusal. */
function refusingAsWerift(unprotect: (packet: Buffer) => Buffer): (packet: Buffer) => Buffer {
  return (packet) => {
    try {
      return unprotect(packet);
    } catch (error) {
      throw new SrtpAuthenticationError((error as Error).message);
    }
  };
}
