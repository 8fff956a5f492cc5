// A lightweight subscriber for the SFU benchmark: a Node WebRTC peer (werift) that speaks the
// twilio-video signaling protocol itself, subscribes to everything in the room and counts the
// RTP packets it receives. It decodes nothing. The participant itself is the phone bridge's
// RoomClient (src/telephony/bridge/room-client.ts), here publishing nothing and receiving audio
// and video, with Chromium's codecs, header extensions, transport-cc feedback and SRTP profile.
import { RoomClient, SRTP_PROFILES, type SrtpProfileName, type SubscriberCounts } from '../../src/telephony/bridge/room-client.js';
import { useOwnSrtpContexts } from '../../src/media/srtp/werift-sessions.js';

// The subscribers decrypt with our SRTP contexts, as the server's transports do: werift's own
// made two OpenSSL objects per packet, and a dozen subscribers kept the clients' core near 100 %.
useOwnSrtpContexts();

export { SRTP_PROFILES };
export type { SrtpProfileName, SubscriberCounts };

export class WeriftSubscriber extends RoomClient {
  constructor(
    readonly identity: string,
    wsUrl: string,
    token: string,
    roomName: string,
    srtp: SrtpProfileName = 'AES_CM_128_HMAC_SHA1_80',
  ) {
    super({ wsServer: wsUrl, token, room: roomName, label: identity, srtp, receiveVideo: true });
  }
}
