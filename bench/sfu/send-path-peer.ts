// The receiving side of bench/sfu-send-path.bench.ts: a child process (pinned to the other core)
// holding K werift peers that answer the server's offers, count the RTP they receive per peer
// and check every payload against the pattern the bench sends. Driven over IPC:
//   { type: 'answer', id, sdp }  → { type: 'answer', id, sdp }
//   { type: 'counts' }           → { type: 'counts', peers: [{ received, bad, profile }] }
//   { type: 'quit' }
import { RTCPeerConnection, RTCRtpCodecParameters, useNACK, usePLI, useFIR, useTWCC, useAbsSendTime, useTransportWideCC, useSdesMid, useAudioLevelIndication } from 'werift';
import { checkPayload } from './send-path-payload.js';
import { TransportCcFeedback } from '../../src/media/rtcp/transport-cc-feedback.js';

/** As bench/sfu's subscribers (and Chromium): transport-cc feedback every 100 ms, id 3 as in Chromium. */
const TWCC_ID = 3;
const TWCC_FEEDBACK_MS = 100;
const feedbackOn = process.env.SEND_PATH_FEEDBACK !== '0';

interface Peer {
  pc: RTCPeerConnection;
  received: number;
  bad: number;
  lastSeq: number;
  gaps: number;
}

const peers = new Map<number, Peer>();
const send = (m: unknown) => process.send?.(m);

process.on('message', async (msg: { type: string; id?: number; sdp?: string }) => {
  if (msg.type === 'answer') {
    const pc = new RTCPeerConnection({
      iceServers: [],
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceUseIpv6: false,
      iceUseTcp: false,
      bundlePolicy: 'max-bundle',
      codecs: {
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111, rtcpFeedback: [useTWCC()] })],
        video: [
          new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96, rtcpFeedback: [useNACK(), usePLI(), useFIR(), useTWCC()] }),
          new RTCRtpCodecParameters({ mimeType: 'video/rtx', clockRate: 90000, payloadType: 97, parameters: 'apt=96' }),
        ],
      },
      headerExtensions: { audio: [useAudioLevelIndication(), useTransportWideCC(), useSdesMid()], video: [useAbsSendTime(), useTransportWideCC(), useSdesMid()] },
    });
    let lastSsrc = 0;
    const twcc = new TransportCcFeedback(Math.floor(Math.random() * 0xffffffff) >>> 0, () => lastSsrc);
    const peer: Peer = { pc, received: 0, bad: 0, lastSeq: -1, gaps: 0 };
    peers.set(msg.id!, peer);
    pc.ontrack = (e) => {
      e.track.onReceiveRtp.subscribe((rtp) => {
        peer.received++;
        if (!checkPayload(rtp.payload)) peer.bad++;
        if (peer.lastSeq >= 0 && ((peer.lastSeq + 1) & 0xffff) !== rtp.header.sequenceNumber) peer.gaps++;
        peer.lastSeq = rtp.header.sequenceNumber;
      });
    };
    await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp! });
    for (const t of pc.getTransceivers()) {
      // Chromium's choice with our server; werift's own transport-cc feedback (malformed) and
      // NACKs off: Televisit's TransportCcFeedback stands in, as in bench/sfu's subscribers.
      const dtls = t.receiver.dtlsTransport as unknown as { srtpProfiles: number[] } | undefined;
      if (dtls) dtls.srtpProfiles = [1];
      const r = t.receiver as unknown as Record<string, unknown>;
      Object.defineProperty(r, 'twccEnabled', { get: () => false, configurable: true });
      Object.defineProperty(r, 'nackEnabled', { get: () => false, configurable: true });
      r.receiverTWCC = undefined;
    }
    const dtls = pc.getTransceivers()[0]?.receiver.dtlsTransport;
    if (dtls && feedbackOn) {
      dtls.onRtp.subscribe((rtp) => {
        for (const e of rtp.header.extensions) {
          if (e.id === TWCC_ID && e.payload.length >= 2) {
            twcc.onPacket(e.payload.readUInt16BE(0), performance.now() * 1000);
            lastSsrc = rtp.header.ssrc;
            break;
          }
        }
      });
      setInterval(() => {
        const packet = twcc.build();
        if (packet && dtls.state === 'connected') dtls.sendRtcp([{ serialize: () => packet } as never]).catch(() => undefined);
      }, TWCC_FEEDBACK_MS).unref();
    }
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await new Promise((r) => setTimeout(r, 300)); // candidates gathered
    send({ type: 'answer', id: msg.id, sdp: pc.localDescription!.sdp });
  } else if (msg.type === 'counts') {
    send({
      type: 'counts',
      peers: [...peers.values()].map((p) => {
        const dtls = p.pc.getTransceivers()[0]?.receiver.dtlsTransport as unknown as { srtp?: { config?: { profile?: number } } } | undefined;
        return { received: p.received, bad: p.bad, gaps: p.gaps, profile: dtls?.srtp?.config?.profile ?? null };
      }),
    });
  } else if (msg.type === 'quit') {
    await Promise.all([...peers.values()].map((p) => p.pc.close().catch(() => undefined)));
    process.exit(0);
  }
});
send({ type: 'ready' });
