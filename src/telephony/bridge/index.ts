// The phone leg's audio in the visit room (issue 7): G.711 ⇄ Opus through a werift participant.
export { PhoneBridge, FRAME_MS, PHONE_FRAME } from './phone-bridge.js';
export type { PhoneBridgeOptions, PhoneBridgeStats, PhoneBridgeEvents, DirectionStats, PhoneLeg } from './phone-bridge.js';
export { RoomClient, SRTP_PROFILES } from './room-client.js';
export type { RoomClientOptions, RoomClientEvents, RemoteAudioPacket, RemoteParticipantInfo, SrtpProfileName, SubscribeRule } from './room-client.js';
export { g711Decode, g711Encode, codecForPayloadType } from './g711.js';
export type { G711Codec } from './g711.js';
