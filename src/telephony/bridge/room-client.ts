// A Node participant of a Televisit room: a werift PeerConnection that speaks the twilio-video
// signaling protocol itself (docs/twilio-signaling-protocol.md). It can publish one Opus audio
// track (RTP packets built by the caller, e.g. the phone bridge) and receives what the server
// forwards to it, reporting every audio packet with the participant it comes from. The SFU
// benchmark's subscribers are this class too (bench/sfu/werift-subscriber.ts): they publish
// nothing, receive audio and video, and count packets.
//
//   hello{body: connect{token, name, participant{revision 1, tracks [our audio?]},
//                       peer_connections[{id, offer rev 1}], subscribe?}}
//   <- welcome, msg{connected (answer rev 1)}
//   <- msg{update (server offer rev N, adding the forwarded tracks)}
//   -> msg{update (answer rev N)}
//   -> heartbeat every 4 s; on close: msg{disconnect}, bye, close 1000.
//   <- msg{disconnected status completed}: the room ended (`roomEnded`).
//
// Its codecs and header extensions mirror Chromium's (opus/111; VP8/96 + RTX/97 with NACK, PLI
// and transport-cc), so the server does the same per-subscriber work as for a browser: TWCC
// feedback and receiver reports come back. werift's own transport-cc feedback is per m-line and
// malformed (a stray byte after the packet, which makes the server's RTCP parser throw and drop
// the compound), so, like the server, it is switched off and one feedback per transport is sent
// every 100 ms with Televisit's TransportCcFeedback. werift prefers AEAD_AES_128_GCM for SRTP,
// but Chromium and this server settle on AES_CM_128_HMAC_SHA1_80, and the two cost the server
// differently; so by default only the latter is offered in the DTLS handshake.
import { EventEmitter } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import {
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RtpHeader,
  RtpPacket,
  useAbsSendTime,
  useAudioLevelIndication,
  useNACK,
  usePLI,
  useFIR,
  useSdesMid,
  useTransportWideCC,
  useTWCC,
  type RTCRtpTransceiver,
} from 'werift';
import type { Logger } from 'pino';
import { TransportCcFeedback } from '../../media/rtcp/transport-cc-feedback.js';

const HEARTBEAT_MS = 4000;
/** DTLS-SRTP protection profiles (RFC 5764 / RFC 7714 code points; werift does not export them). */
export const SRTP_PROFILES = { AES_CM_128_HMAC_SHA1_80: 1, AEAD_AES_128_GCM: 7 } as const;
export type SrtpProfileName = keyof typeof SRTP_PROFILES;
const TWCC_FEEDBACK_MS = 100;
const TWCC_URI = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';
const OPUS_PT = 111;

export interface SubscribeRule {
  type: 'include' | 'exclude';
  all?: boolean;
  kind?: 'audio' | 'video' | 'data';
  publisher?: string;
  track?: string;
  priority?: string;
}

export interface RoomClientOptions {
  wsServer: string;
  /** Access token; the identity comes from it. */
  token: string;
  /** Room unique name or RM sid. */
  room: string;
  /** For error messages and logs (default: "room-client"). */
  label?: string;
  /** Publish one audio track with this name (default: publish nothing). */
  publishAudio?: { name: string } | null;
  /** Also offer to receive video (default true). */
  receiveVideo?: boolean;
  /** Subscribe rules sent with connect (default: everything). */
  subscribe?: SubscribeRule[];
  srtp?: SrtpProfileName;
  log?: Logger;
}

export interface RemoteAudioPacket {
  ssrc: number;
  sequence: number;
  timestamp: number;
  marker: boolean;
  payload: Buffer;
  /** Sid of the participant whose track this is (from the msid the server announced), if known. */
  participantSid: string | null;
}

export interface RemoteParticipantInfo {
  sid: string;
  identity: string;
  state: string;
}

export interface RoomClientEvents {
  audio: [RemoteAudioPacket];
  participant: [RemoteParticipantInfo];
  /** The server ended the room (`disconnected` with status completed). */
  roomEnded: [];
  /** We are out of the room for any other reason than close(): server error, kicked, socket lost. */
  disconnected: [{ reason: string; code: number | null }];
}

export interface SubscriberCounts {
  audio: number;
  video: number;
}

export class RoomClient extends EventEmitter<RoomClientEvents> {
  readonly counts: SubscriberCounts = { audio: 0, video: 0 };
  /** Performance-clock time of the first video RTP packet (ms), or null. */
  firstVideoAt: number | null = null;
  error: string | null = null;
  roomSid: string | null = null;
  localParticipantSid: string | null = null;
  localIdentity: string | null = null;
  /** Remote participants by sid (identity, state) as the server described them. */
  readonly participants = new Map<string, RemoteParticipantInfo>();
  /** The id our published audio track has in participant.tracks (and in our msid). */
  readonly audioTrackId: string | null;
  readonly label: string;
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
  private publisher: RTCRtpTransceiver | null = null;
  /** Our outgoing audio RTP state. */
  private seq = randomBytes(2).readUInt16BE(0);
  private ts = randomBytes(4).readUInt32BE(0);
  private sentAudio = 0;
  private audioLevelId: number | null = null;
  /** Remote SSRC → participant sid, from the msids in the server's offers. */
  private readonly ssrcOwner = new Map<number, string>();
  private readonly midOwner = new Map<string, string>();
  private state: 'new' | 'connecting' | 'connected' | 'closed' = 'new';

  constructor(private readonly opts: RoomClientOptions) {
    super();
    this.label = opts.label ?? 'room-client';
    this.audioTrackId = opts.publishAudio ? randomUUID() : null;
    this.pc = new RTCPeerConnection({
      iceServers: [],
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceUseIpv6: false,
      iceUseTcp: false,
      bundlePolicy: 'max-bundle',
      codecs: {
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: OPUS_PT, parameters: 'minptime=10;useinbandfec=1', rtcpFeedback: [useTWCC()] })],
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
    this.pc.ontrack = (event) => {
      const track = event.track;
      const kind = track.kind === 'video' ? 'video' : 'audio';
      const transceiver = event.transceiver;
      const streamId = event.streams[0]?.id ?? null;
      track.onReceiveRtp.subscribe((rtp) => {
        this.counts[kind]++;
        if (kind === 'video') {
          if (this.firstVideoAt === null) this.firstVideoAt = performance.now();
          return;
        }
        if (this.listenerCount('audio') === 0) return;
        const h = rtp.header;
        const owner = this.ssrcOwner.get(h.ssrc) ?? (transceiver.mid ? this.midOwner.get(transceiver.mid) : undefined) ?? streamId;
        this.emit('audio', { ssrc: h.ssrc, sequence: h.sequenceNumber, timestamp: h.timestamp, marker: h.marker, payload: rtp.payload, participantSid: owner ?? null });
      });
    };
  }

  get received(): number {
    return this.counts.audio + this.counts.video;
  }

  /** Audio packets we sent into the room. */
  get audioSent(): number {
    return this.sentAudio;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** The SRTP profile the DTLS handshake settled on, once connected. */
  get srtpProfile(): SrtpProfileName | null {
    const dtls = this.pc.getTransceivers()[0]?.receiver.dtlsTransport as unknown as { srtp?: { config?: { profile?: number } } } | undefined;
    const code = dtls?.srtp?.config?.profile;
    return (Object.keys(SRTP_PROFILES) as SrtpProfileName[]).find((n) => SRTP_PROFILES[n] === code) ?? null;
  }

  /** True once ICE and DTLS are up (media flows). */
  get mediaConnected(): boolean {
    return this.pc.connectionState === 'connected';
  }

  /** Opens the signaling socket and joins; resolves on `connected` (media follows later). */
  async connect(timeoutMs = 15_000): Promise<void> {
    if (this.state !== 'new') throw new Error(`${this.label}: connect() called twice`);
    this.state = 'connecting';
    const tracks: Array<Record<string, unknown>> = [];
    if (this.opts.publishAudio && this.audioTrackId) {
      const t = this.pc.addTransceiver('audio', { direction: 'sendrecv' });
      (t.sender as { trackId: string }).trackId = this.audioTrackId;
      t.sender.streamId = randomUUID();
      this.publisher = t;
      tracks.push({ enabled: true, id: this.audioTrackId, kind: 'audio', name: this.opts.publishAudio.name, priority: 'standard' });
    } else {
      this.pc.addTransceiver('audio', { direction: 'recvonly' });
    }
    if (this.opts.receiveVideo !== false) this.pc.addTransceiver('video', { direction: 'recvonly' });
    await this.pc.setLocalDescription(await this.pc.createOffer());
    // Before the DTLS handshake (it starts once the answer is applied and ICE is up).
    for (const t of this.pc.getTransceivers()) {
      const dtls = t.receiver.dtlsTransport as unknown as { srtpProfiles: number[] } | undefined;
      if (dtls) dtls.srtpProfiles = [SRTP_PROFILES[this.opts.srtp ?? 'AES_CM_128_HMAC_SHA1_80']];
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
    const level = new RegExp(`a=extmap:(\\d+)(?:/\\w+)? ${AUDIO_LEVEL_URI}`).exec(offer)?.[1];
    if (level) this.audioLevelId = Number(level);
    const ws = new WebSocket(this.opts.wsServer);
    this.ws = ws;
    const connected = new Promise<void>((resolve, reject) => {
      this.connectedResolve = resolve;
      this.connectedReject = reject;
    });
    const timer = setTimeout(() => this.connectedReject?.(new Error(`${this.label}: no 'connected' within ${timeoutMs} ms`)), timeoutMs);
    ws.on('message', (data) => this.onFrame(String(data)));
    ws.on('close', (code) => {
      this.connectedReject?.(new Error(`${this.label}: signaling socket closed before 'connected'`));
      this.stopHeartbeat();
      if (this.ws === ws) this.lost(`signaling socket closed (${code})`, null);
    });
    ws.on('error', (err) => this.connectedReject?.(err));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const body: Record<string, unknown> = {
      type: 'connect',
      version: 2,
      token: this.opts.token,
      name: this.opts.room,
      ice_servers: 'overrode',
      format: 'unified',
      publisher: { name: 'televisit-room-client', sdk_version: '0', user_agent: 'werift' },
      participant: { revision: 1, tracks },
      peer_connections: [{ id: this.pcId, description: { type: 'offer', revision: 1, sdp: offer } }],
    };
    if (this.opts.subscribe) body.subscribe = { rules: this.opts.subscribe, revision: 1 };
    this.sendFrame({ id: randomUUID(), timeout: 5000, type: 'hello', version: 2, body });
    this.heartbeat = setInterval(() => this.sendFrame({ type: 'heartbeat' }), HEARTBEAT_MS);
    try {
      await connected;
      this.state = 'connected';
    } catch (err) {
      await this.close();
      throw err;
    } finally {
      clearTimeout(timer);
      this.connectedResolve = this.connectedReject = null;
    }
  }

  /**
   * Sends one Opus packet on our published track: `samples` (48 kHz) after the previous one.
   * `audioLevel` is RFC 6464's -dBov (0 loudest .. 127 silence), for the server's speaker
   * detection. Dropped (false) until media is connected.
   */
  sendAudio(payload: Buffer, opts: { samples?: number; audioLevel?: number; marker?: boolean } = {}): boolean {
    const t = this.publisher;
    const samples = opts.samples ?? 960;
    const first = this.sentAudio === 0;
    const seq = this.seq;
    const ts = this.ts;
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + samples) >>> 0;
    if (!t || this.state !== 'connected' || !this.mediaConnected) return false;
    const extensions: { id: number; payload: Buffer }[] = [];
    if (this.audioLevelId !== null && opts.audioLevel !== undefined) {
      const level = Math.max(0, Math.min(127, Math.round(opts.audioLevel)));
      extensions.push({ id: this.audioLevelId, payload: Buffer.from([(level < 127 ? 0x80 : 0) | level]) });
    }
    const header = new RtpHeader({ payloadType: OPUS_PT, sequenceNumber: seq, timestamp: ts, marker: opts.marker ?? first, extensions });
    this.sentAudio++;
    t.sender.sendRtp(new RtpPacket(header, payload)).catch(() => undefined);
    return true;
  }

  /** Moves our audio clock on by `samples` without sending (frames skipped after a stall). */
  skipAudio(samples: number): void {
    this.ts = (this.ts + samples) >>> 0;
  }

  /** Leaves the room as twilio-video does, then closes the PeerConnection. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
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

  /** Out of the room not by close(): say so once, then clean up. */
  private lost(reason: string, code: number | null, completed = false): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    void this.close();
    if (!wasConnected) return;
    if (completed) this.emit('roomEnded');
    else this.emit('disconnected', { reason, code });
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
        this.error = `${this.label}: ${err instanceof Error ? err.message : String(err)}`;
        this.opts.log?.warn({ err: this.error }, 'room client failed');
        this.connectedReject?.(new Error(this.error));
        this.lost(this.error, typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null);
      });
  }

  private async onBody(body: Record<string, any>): Promise<void> {
    if (body.type === 'error') throw Object.assign(new Error(`server error ${body.code}: ${body.message}`), { code: Number(body.code) });
    if (body.type === 'disconnected') {
      if (body.status === 'completed') {
        this.lost('room completed', 53118, true);
        return;
      }
      throw new Error(`server disconnected us (${body.status})`);
    }
    if (body.type !== 'connected' && body.type !== 'update' && body.type !== 'synced') return;
    if (body.type === 'connected') {
      this.roomSid = typeof body.sid === 'string' ? body.sid : null;
      this.localParticipantSid = typeof body.participant?.sid === 'string' ? body.participant.sid : null;
      this.localIdentity = typeof body.participant?.identity === 'string' ? body.participant.identity : null;
    }
    for (const p of (Array.isArray(body.participants) ? body.participants : []) as Record<string, any>[]) {
      if (typeof p.sid !== 'string' || p.sid === this.localParticipantSid) continue;
      const info: RemoteParticipantInfo = { sid: p.sid, identity: String(p.identity ?? ''), state: String(p.state ?? 'connected') };
      const before = this.participants.get(p.sid);
      if (info.state === 'disconnected') this.participants.delete(p.sid);
      else this.participants.set(p.sid, info);
      if (!before || before.state !== info.state) this.emit('participant', info);
    }
    for (const pc of (body.peer_connections ?? []) as Record<string, any>[]) {
      if (pc.id !== this.pcId || !pc.description) continue;
      const d = pc.description as { type: string; revision: number; sdp?: string };
      if (d.type === 'answer' && d.sdp && this.pc.signalingState === 'have-local-offer') {
        await this.pc.setRemoteDescription({ type: 'answer', sdp: d.sdp });
        this.learnOwners(d.sdp);
        this.ownTwcc(d.sdp);
      } else if (d.type === 'offer' && d.sdp) {
        await this.pc.setRemoteDescription({ type: 'offer', sdp: d.sdp });
        this.learnOwners(d.sdp);
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

  /** The server's sections say whose track each is: a=msid:<publisher sid> <subscription id>. */
  private learnOwners(sdp: string): void {
    for (const raw of sdp.split(/\r?\nm=/).slice(1)) {
      const mid = /^a=mid:(\S+)/m.exec(raw)?.[1];
      const owner = /^a=msid:(\S+) \S+/m.exec(raw)?.[1];
      if (!owner || !/^PA/.test(owner)) continue;
      if (mid) this.midOwner.set(mid, owner);
      for (const m of raw.matchAll(/^a=ssrc:(\d+) /gm)) this.ssrcOwner.set(Number(m[1]), owner);
    }
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
