// The real RoomAudioBridge: an answered phone leg joins the visit room through our own
// signaling as a participant (PhoneBridge: G.711 ⇄ Opus, mixing everyone but the phone). When
// the room ends or drops the leg, the phone call is hung up; when the call ends, the leg leaves.
import type { Logger } from 'pino';
import { PhoneBridge } from '../telephony/bridge/index.js';
import type { RoomAudioBridge } from './phone-calls.js';

export function phoneRoomAudio(signalingUrl: () => string, log: Logger): RoomAudioBridge {
  return {
    async join(call, roomSid, _identity, token) {
      const bridge = await PhoneBridge.join({ call: call.sip, wsServer: signalingUrl(), token, roomSid, log });
      const hangUp = () => {
        call.hangup().catch((err: unknown) => log.warn({ err }, 'hanging up after the room ended failed'));
      };
      bridge.on('roomEnded', hangUp);
      bridge.on('disconnected', hangUp);
      return {
        async close() {
          bridge.off('roomEnded', hangUp);
          bridge.off('disconnected', hangUp);
          await bridge.close();
        },
      };
    },
  };
}
