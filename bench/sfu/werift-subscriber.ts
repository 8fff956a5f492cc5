// A lightweight subscriber for the SFU benchmark: a Node WebRTC peer (werift) that speaks the
// twilio-video signaling protocol itself (docs/twilio-signaling-protocol.md), subscribes to
// everything in the room and counts the RTP packets it receives. It decodes nothing.
//
//   hello{body: connect{token, name, participant{revision 1, tracks []},
//                       peer_connections[{id, offer rev 1 (recvonly audio + video)}]}}
//   <- welcome, msg{connected (answer rev 1)}
//   <- msg{update (server offer rev N, adding the forwarded tracks)}
//   -> msg{update (answer rev N)}
//   -> heartbeat every 4 s; on stop: msg{disconnect}, bye, close.
//
// Its codecs and header extensions mirror Chromium's (opus/111; VP8/96 + RTX/97 with NACK, PLI
// and transport-cc), so the server does the same per-subscriber work as for a browser: TWCC
// feedback and receiver reports come back from every subscriber. werift's own transport-cc
// feedback is per m-line and malformed (a stray byte after the packet, which makes the server's
// RTCP parser throw and drop the compound), so, like the server, it is switched off and one
// feedback per transport is sent every 100 ms with Televisit's TransportCcFeedback (Chromium
// reports every 50-250 ms depending on the bitrate). werift prefers AEAD_AES_128_GCM for SRTP,
// but Chromium and this server settle on AES_CM_128_HMAC_SHA1_80 (the publisher's transport
// stats say so), and the two cost the server differently; so by default the subscriber offers
// only the latter in its DTLS handshake.
import { randomBytes, randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import {
  RTCPeerConnection,
  RTCRtpCodecParameters,
  useAbsSendTime,
  useAudioLevelIndication,
  useNACK,
  usePLI,
  useFIR,
  useSdesMid,
  useTransportWideCC,
  useTWCC,
} from 'werift';
import { TransportCcFeedback } from '../../src/media/rtcp/transport-cc-feedback.js';

const HEARTBEAT_MS = 4000;
/** DTLS-SRTP protection profiles (RFC 5764 / RFC 7714 code points; werift does not export them). */
export const SRTP_PROFILES = { AES_CM_128_HMAC_SHA1_80: 1, AEAD_AES_128_GCM: 7 } as const;
export type SrtpProfileName = keyof typeof SRTP_PROFILES;
const TWCC_FEEDBACK_MS = 100;
const TWCC_URI = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';

export interface SubscriberCounts {
  audio: number;
  video: number;
}

export class WeriftSubscriber {
  readonly counts: SubscriberCounts = { audio: 0, video: 0 };
  /** Performance-clock time of the first video RTP packet (ms), or null. */
  firstVideoAt: number | null = null;
  error: string | null = null;
  private readonly pcId = randomUUID();
  private ws: WebSocket | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private queue: Promise<void> = Promise.resolve();
  private readonly pc: RTCPeerConnection;
  private connectedResolve: (() => void) | null = null;
  private connectedReject: ((err: Error) => void) | null = null;
  private readonly rtcpSsrc = randomBytes(4).readUInt32BE(0);
  private lastMediaSsrc = 0;
  private readonly twcc = new TransportCcFeedback(this.rtcpSsrc, () => this.lastMediaSsrc);
  private twccId = -1;
  private twccTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly identity: string,
    private readonly wsUrl: string,
    private readonly token: string,
    private readonly roomName: string,
    private readonly srtp: SrtpProfileName = 'AES_CM_128_HMAC_SHA1_80',
  ) {
    this.pc = new RTCPeerConnection({
      iceServers: [],
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceUseIpv6: false,
      iceUseTcp: false,
      bundlePolicy: 'max-bundle',
      codecs: {
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111, parameters: 'minptime=10;useinbandfec=1', rtcpFeedback: [useTWCC()] })],
        video: [
          new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96, rtcpFeedback: [useNACK(), usePLI(), useFIR(), useTWCC()] }),
          new RTCRtpCodecParameters({ mimeType: 'video/rtx', clockRate: 90000, payloadType: 97, parameters: 'apt=96' }),
        ],
      },
      headerExtensions: {
        audio: [useAudioLevelIndication(), useTransportWideCC(), useSdesMid()],
        video: [useAbsSendTime(), useTransportWideCC(), useSdesMid()],
      },
    });
    this.pc.onTrack.subscribe((track) => {
      const kind = track.kind === 'video' ? 'video' : 'audio';
      track.onReceiveRtp.subscribe(() => {
        this.counts[kind]++;
        if (kind === 'video' && this.firstVideoAt === null) this.firstVideoAt = performance.now();
      });
    });
  }

  get received(): number {
    return this.counts.audio + this.counts.video;
  }

  /** The SRTP profile the DTLS handshake settled on, once connected. */
  get srtpProfile(): SrtpProfileName | null {
    const dtls = this.pc.getTransceivers()[0]?.receiver.dtlsTransport as unknown as { srtp?: { config?: { profile?: number } } } | undefined;
    const code = dtls?.srtp?.config?.profile;
    return (Object.keys(SRTP_PROFILES) as SrtpProfileName[]).find((n) => SRTP_PROFILES[n] === code) ?? null;
  }

  /** Opens the signaling socket and joins; resolves on `connected` (media follows later). */
  async connect(timeoutMs = 15_000): Promise<void> {
    this.pc.addTransceiver('audio', { direction: 'recvonly' });
    this.pc.addTransceiver('video', { direction: 'recvonly' });
    await this.pc.setLocalDescription(await this.pc.createOffer());
    // Before the DTLS handshake (it starts once the answer is applied and ICE is up).
    for (const t of this.pc.getTransceivers()) {
      const dtls = t.receiver.dtlsTransport as unknown as { srtpProfiles: number[] } | undefined;
      if (dtls) dtls.srtpProfiles = [SRTP_PROFILES[this.srtp]];
    }
    await new Promise<void>((resolve) => {
      if (this.pc.iceGatheringState === 'complete') return resolve();
      const timer = setTimeout(resolve, 3000);
      this.pc.iceGatheringStateChange.subscribe((s) => {
        if (s === 'complete') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const offer = this.pc.localDescription!.sdp;
    const ws = new WebSocket(this.wsUrl);
    this.ws = ws;
    const connected = new Promise<void>((resolve, reject) => {
      this.connectedResolve = resolve;
      this.connectedReject = reject;
    });
    const timer = setTimeout(() => this.connectedReject?.(new Error(`${this.identity}: no 'connected' within ${timeoutMs} ms`)), timeoutMs);
    ws.on('message', (data) => this.onFrame(String(data)));
    ws.on('close', () => {
      this.connectedReject?.(new Error(`${this.identity}: signaling socket closed before 'connected'`));
      this.stopHeartbeat();
    });
    ws.on('error', (err) => this.connectedReject?.(err));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    this.sendFrame({
      id: randomUUID(),
      timeout: 5000,
      type: 'hello',
      version: 2,
      body: {
        type: 'connect',
        version: 2,
        token: this.token,
        name: this.roomName,
        ice_servers: 'overrode',
        format: 'unified',
        publisher: { name: 'televisit-sfu-bench', sdk_version: '0', user_agent: 'werift' },
        participant: { revision: 1, tracks: [] },
        peer_connections: [{ id: this.pcId, description: { type: 'offer', revision: 1, sdp: offer } }],
      },
    });
    this.heartbeat = setInterval(() => this.sendFrame({ type: 'heartbeat' }), HEARTBEAT_MS);
    try {
      await connected;
    } finally {
      clearTimeout(timer);
      this.connectedResolve = this.connectedReject = null;
    }
  }

  /** Leaves the room as twilio-video does, then closes the PeerConnection. */
  async close(): Promise<void> {
    this.stopHeartbeat();
    if (this.twccTimer) clearInterval(this.twccTimer);
    this.twccTimer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: 'msg', body: { type: 'disconnect', version: 2 } }));
      ws.send(JSON.stringify({ type: 'bye' }));
      ws.close(1000);
    } else ws?.terminate();
    await this.pc.close().catch(() => undefined);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private sendFrame(frame: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private onFrame(text: string): void {
    let frame: Record<string, any>;
    try {
      frame = JSON.parse(text) as Record<string, any>;
    } catch {
      return;
    }
    if (frame.type !== 'msg' || !frame.body) return;
    const body = frame.body as Record<string, any>;
    // Descriptions are applied strictly in order.
    this.queue = this.queue
      .then(() => this.onBody(body))
      .catch((err: unknown) => {
        this.error = `${this.identity}: ${err instanceof Error ? err.message : String(err)}`;
        this.connectedReject?.(new Error(this.error));
      });
  }

  private async onBody(body: Record<string, any>): Promise<void> {
    if (body.type === 'error') throw new Error(`server error ${body.code}: ${body.message}`);
    if (body.type === 'disconnected') throw new Error(`server disconnected us (${body.status})`);
    if (body.type !== 'connected' && body.type !== 'update' && body.type !== 'synced') return;
    for (const pc of (body.peer_connections ?? []) as Record<string, any>[]) {
      if (pc.id !== this.pcId || !pc.description) continue;
      const d = pc.description as { type: string; revision: number; sdp?: string };
      if (d.type === 'answer' && d.sdp && this.pc.signalingState === 'have-local-offer') {
        await this.pc.setRemoteDescription({ type: 'answer', sdp: d.sdp });
        this.ownTwcc(d.sdp);
      } else if (d.type === 'offer' && d.sdp) {
        await this.pc.setRemoteDescription({ type: 'offer', sdp: d.sdp });
        this.ownTwcc(d.sdp);
        const answer = await this.pc.createAnswer();
        await this.pc.setLocalDescription(answer);
        this.sendFrame({
          type: 'msg',
          body: { type: 'update', version: 2, peer_connections: [{ id: this.pcId, description: { type: 'answer', revision: d.revision, sdp: this.pc.localDescription!.sdp } }] },
        });
      }
    }
    if (body.type === 'connected') this.connectedResolve?.();
  }

  /** Replaces werift's per-m-line transport-cc feedback with one feedback per transport. */
  private ownTwcc(remoteSdp: string): void {
    for (const t of this.pc.getTransceivers()) {
      const r = t.receiver as unknown as { receiverTWCC?: unknown; __noTwcc?: boolean };
      if (r.__noTwcc) continue;
      Object.defineProperty(r, 'twccEnabled', { get: () => false, configurable: true });
      r.receiverTWCC = undefined;
      r.__noTwcc = true;
    }
    const id = new RegExp(`a=extmap:(\\d+)(?:/\\w+)? ${TWCC_URI.replace(/[.]/g, '\\.')}`).exec(remoteSdp)?.[1];
    if (id) this.twccId = Number(id);
    if (this.twccTimer) return;
    const dtls = this.pc.getTransceivers()[0]?.receiver.dtlsTransport;
    if (!dtls) return;
    dtls.onRtp.subscribe((rtp) => {
      for (const e of rtp.header.extensions) {
        if (e.id === this.twccId && e.payload.length >= 2) {
          this.twcc.onPacket(e.payload.readUInt16BE(0), performance.now() * 1000);
          this.lastMediaSsrc = rtp.header.ssrc;
          break;
        }
      }
    });
    this.twccTimer = setInterval(() => {
      const packet = this.twcc.build();
      if (packet) dtls.sendRtcp([{ serialize: () => packet } as never]).catch(() => undefined);
    }, TWCC_FEEDBACK_MS);
  }
}
