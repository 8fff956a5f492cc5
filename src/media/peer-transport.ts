// The seam between our SFU and the WebRTC stack (werift today): ICE, DTLS, SRTP, SCTP and SDP
// live behind this class; the SFU sees RTP packets in, RTP packets out, keyframe requests and
// data channels. One PeerTransport per participant, as twilio-video expects.
import { randomBytes } from 'node:crypto';
import {
  GenericNack,
  RtcpTransportLayerFeedback,
  PictureLossIndication,
  ReceiverEstimatedMaxBitrate,
  RtcpPayloadSpecificFeedback,
  RtcpRrPacket,
  RtcpSrPacket,
  TransportWideCC,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RTCRtpHeaderExtensionParameters,
  type RTCDataChannel,
  type RTCRtpTransceiver,
  type RtpPacket,
  useNACK,
  usePLI,
  useFIR,
  useTWCC,
} from 'werift';
import { TransportCcFeedback } from './rtcp/transport-cc-feedback.js';
import { ntpToSeconds, type SenderClock } from './capture-clock.js';
import { withStartBitrate } from './start-bitrate.js';
import type { TwccPackets } from './downlink-estimator.js';
import { keepTransportCcRaw, TwccReport, type RawTransportCc } from './rtcp/transport-cc-report.js';
import { useOwnSrtpContexts } from './srtp/werift-sessions.js';
import { preResolveSelectedSocket, RtpSendPath, type DtlsTransportLike, type OutboundStream, type SenderLike } from './send-path/rtp-send-path.js';

/** What the subscriber's browser says about the packets we send it (a DownlinkEstimator). */
export interface DownlinkFeedbackSink {
  onPacketSent(seq: number, bytes: number, now: number): void;
  /** Whether a retransmission of this size fits the retransmission budget now. */
  allowRetransmission(bytes: number, now: number): boolean;
  onTransportFeedback(report: TwccPackets, now: number): void;
  onReceiverReport(ssrc: number, fractionLost: number, highestSeq: number, now: number): void;
  onRemb(bps: number, now: number): void;
}

/** Bytes on the wire beyond the RTP payload: RTP header and extensions, SRTP tag, UDP, IPv4. */
const PACKET_OVERHEAD_BYTES = 12 + 16 + 10 + 8 + 20;
/** What one retransmission is charged (a full video packet on the wire). */
const RETRANSMISSION_BYTES = 1250;

export interface IceSettings {
  /** Addresses announced as host candidates (others are never offered to clients). */
  hostAddresses: string[];
  /** Only remote candidates on these addresses are tried (loopback-only test setups); empty = any. */
  allowedRemoteAddresses: string[];
  portRange?: [number, number];
  tcp: boolean;
}

export type VideoCodecName = 'VP8' | 'H264';

const TWCC_INTERVAL_MS = 50;
/** Sender reports go out every 0.5–1.5 s (random, RFC 3550 §6.2: so that reports do not align), as werift's did. */
const SR_MIN_INTERVAL_MS = 500;
const SR_SPREAD_MS = 1000;
/** Round-trip samples are kept this long (ms). */
const RTT_WINDOW_MS = 5000;
/** Streams whose sender reports a participant may have kept (three simulcast layers and audio per track, several tracks). */
const MAX_SENDER_CLOCKS = 64;
/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;
/** Full Intra Request's feedback message type (RFC 5104). */
const FIR_FMT = 4;

// werift keeps transport-cc feedback as bytes; one report, reused, reads each message as it arrives.
keepTransportCcRaw();
// werift's transports decrypt incoming SRTP and SRTCP, and encrypt RTCP, with our long-lived contexts.
useOwnSrtpContexts();
const twccReport = new TwccReport();

/** Publishers start their video at this rate (kbit/s): enough for 1280x720 from the first frame (start-bitrate.ts). */
const VIDEO_START_KBPS = 2500;

export const EXT = {
  mid: 'urn:ietf:params:rtp-hdrext:sdes:mid',
  audioLevel: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  absSendTime: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  twcc: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  playoutDelay: 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
};

function codecs(video: VideoCodecName[]) {
  const videoCodecs: RTCRtpCodecParameters[] = [];
  let pt = 96;
  for (const name of video) {
    const fb = [useNACK(), usePLI(), useFIR(), useTWCC()];
    const parameters = name === 'H264' ? 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' : undefined;
    videoCodecs.push(new RTCRtpCodecParameters({ mimeType: `video/${name}`, clockRate: 90000, payloadType: pt, rtcpFeedback: fb, ...(parameters ? { parameters } : {}) }));
    videoCodecs.push(new RTCRtpCodecParameters({ mimeType: 'video/rtx', clockRate: 90000, payloadType: pt + 1, parameters: `apt=${pt}` }));
    pt += 2;
  }
  return {
    audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111, parameters: 'minptime=10;useinbandfec=1', rtcpFeedback: [useTWCC()] })],
    video: videoCodecs,
  };
}

export class PeerTransport {
  readonly pc: RTCPeerConnection;
  private rtpSubscribed = false;
  private closed = false;
  private readonly twccId: number;
  /** Header extension id of RFC 6464 audio levels on this transport. */
  readonly audioLevelId: number;
  private readonly twcc: TransportCcFeedback;
  private twccTimer: NodeJS.Timeout | null = null;
  private reportTimer: NodeJS.Timeout | null = null;
  private lastMediaSsrc = 0;
  private sctpStarted = false;
  /** Video RTP from the client has arrived (markClientVideo): the start bitrate is not said again. */
  clientVideoFlowing = false;
  private clientVideoWaiters: (() => void)[] = [];
  /** Test hook: the current media path is dead until the client restarts ICE. */
  mediaPathBroken = false;
  iceRestarts = 0;
  private remoteUfrag: string | null = null;
  onRtp: (rtp: RtpPacket) => void = () => {};
  onDataChannel: (channel: RTCDataChannel) => void = () => {};
  onConnectionState: (state: string) => void = () => {};
  /** A subscriber asked for a keyframe (PLI or FIR) on one of our sending SSRCs. */
  onKeyframeRequest: (ourSsrc: number) => void = () => {};
  /** Fed with every packet we send and the feedback about them (bandwidth estimation toward this client). */
  downlink: DownlinkFeedbackSink | null = null;
  /** SSRCs of our senders (sections we forward on), to pick their receiver reports out. */
  private readonly ourSsrcs = new Set<number>();
  /** Forwarded RTP goes out through our own send path (send-path/), not werift's sender. */
  private readonly sendPath = new RtpSendPath();
  private readonly streams = new WeakMap<RTCRtpTransceiver, OutboundStream>();

  /**
   * `extensionIds` come from the client's first offer: in a BUNDLE every m-section must use the
   * same id for the same extension, including the sections we add later for forwarded tracks.
   */
  constructor(
    private readonly ice: IceSettings,
    videoCodecs: VideoCodecName[],
    extensionIds: Map<string, number> = new Map(),
  ) {
    const wanted: [RTCRtpHeaderExtensionParameters, number][] = [];
    const ext = (uri: string, fallback: number) => {
      const e = new RTCRtpHeaderExtensionParameters({ uri });
      wanted.push([e, extensionIds.get(uri) ?? fallback]);
      return e;
    };
    const allowed = new Set(ice.allowedRemoteAddresses);
    this.pc = new RTCPeerConnection({
      iceServers: [], // never a public STUN server
      iceAdditionalHostAddresses: ice.hostAddresses,
      iceUseIpv6: false,
      iceUseTcp: ice.tcp,
      ...(ice.portRange ? { icePortRange: ice.portRange } : {}),
      ...(allowed.size > 0 ? { iceFilterCandidatePair: (pair) => allowed.has(pair.remoteCandidate.host) } : {}),
      iceFilterStunResponse: () => !this.mediaPathBroken,
      bundlePolicy: 'max-bundle',
      codecs: codecs(videoCodecs),
      headerExtensions: {
        // Fallbacks are Chromium's own numbering.
        audio: [ext(EXT.audioLevel, 1), ext(EXT.twcc, 3), ext(EXT.mid, 4)],
        video: [ext(EXT.absSendTime, 2), ext(EXT.twcc, 3), ext(EXT.mid, 4), ext(EXT.playoutDelay, 12)],
      },
    });
    // werift numbers extensions 1..n itself; BUNDLE needs the client's ids, so set them after.
    for (const [e, id] of wanted) e.id = id;
    this.twccId = extensionIds.get(EXT.twcc) ?? 3;
    this.audioLevelId = extensionIds.get(EXT.audioLevel) ?? 1;
    this.twcc = new TransportCcFeedback(this.rtcpSsrc, () => this.lastMediaSsrc);
    this.pc.onDataChannel.subscribe((channel) => this.onDataChannel(channel));
    this.pc.connectionStateChange.subscribe((state) => {
      // If SCTP was negotiated before the first connection, werift started it itself.
      if (state === 'connected' && this.pc.sctpTransport) this.sctpStarted = true;
      if (state === 'connected') {
        const dtls = this.dtls();
        if (dtls) preResolveSelectedSocket(dtls as unknown as DtlsTransportLike);
      }
      this.onConnectionState(state);
    });
  }

  /** Applies the client's offer and returns our answer (candidates included, loopback-filtered). */
  async answer(offerSdp: string): Promise<string> {
    const ufrag = /a=ice-ufrag:(\S+)/.exec(offerSdp)?.[1] ?? null;
    if (this.remoteUfrag !== null && ufrag !== null && ufrag !== this.remoteUfrag) {
      // The client restarted ICE (new credentials): werift restarts its side in setRemoteDescription.
      this.iceRestarts++;
      this.mediaPathBroken = false;
    }
    this.remoteUfrag = ufrag;
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    this.disableWeriftTwcc();
    // A section the client now sends on (including one of ours it reused) must be received.
    for (const t of this.pc.getTransceivers()) {
      const remote = t.offerDirection;
      const wantsRecv = remote === 'sendonly' || remote === 'sendrecv';
      if (wantsRecv && t.direction === 'sendonly') t.setDirection('sendrecv');
      else if (wantsRecv && t.direction === 'inactive') t.setDirection('recvonly');
    }
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    this.subscribeRtp();
    this.startLateSctp();
    return this.localSdp();
  }

  /** The router saw video RTP from the client. */
  markClientVideo(): void {
    if (this.clientVideoFlowing) return;
    this.clientVideoFlowing = true;
    const waiters = this.clientVideoWaiters;
    this.clientVideoWaiters = [];
    for (const w of waiters) w();
  }

  /** Whether a section the client sends video on has been negotiated (its last offer said so). */
  get clientSendsVideo(): boolean {
    return this.pc.getTransceivers().some((t) => t.kind === 'video' && (t.offerDirection === 'sendonly' || t.offerDirection === 'sendrecv'));
  }

  /** Resolves once video from the client flows, or after `ms`, whichever comes first. */
  clientVideoOrTimeout(ms: number): Promise<void> {
    if (this.clientVideoFlowing) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.clientVideoWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async offer(): Promise<string> {
    this.disableWeriftTwcc();
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this.prepareSctpIds();
    return this.localSdp();
  }

  async acceptAnswer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    this.subscribeRtp();
    this.startLateSctp();
  }

  /** Rolls back our own pending offer (glare). */
  async rollback(): Promise<void> {
    await this.pc.setLocalDescription({ type: 'rollback', sdp: '' } as never).catch(() => undefined);
  }

  /** True once ICE and DTLS are up and RTP can be sent. */
  get isConnected(): boolean {
    return this.pc.connectionState === 'connected';
  }

  get signalingState(): string {
    return this.pc.signalingState;
  }

  /** A new send-only section carrying one forwarded track, identified by the msid the client will see. */
  addSender(kind: 'audio' | 'video', trackId: string, streamId: string): RTCRtpTransceiver {
    const t = this.pc.addTransceiver(kind, { direction: 'sendonly' });
    (t.sender as { trackId: string }).trackId = trackId;
    t.sender.streamId = streamId;
    this.ourSsrcs.add(t.sender.ssrc);
    const stream = this.sendPath.attach(t.sender as unknown as SenderLike);
    this.streams.set(t, stream);
    this.limitRetransmissions(t, stream);
    return t;
  }

  /** Stops sending on a section; it stays in the SDP as inactive (the client may reuse it). */
  removeSender(t: RTCRtpTransceiver): void {
    t.setDirection(t.direction === 'sendrecv' ? 'recvonly' : 'inactive');
    t.sender.streamIds = [];
    // We never send on it again (a new subscription gets a new section), so its stream goes.
    const stream = this.streams.get(t);
    if (stream) this.sendPath.detach(stream);
    this.streams.delete(t);
  }

  /**
   * Sends one forwarded packet on a section of ours (addSender), through our send path: the
   * sender's numbering, our header extensions, SRTP, the ICE-selected socket. The packet's
   * transport-wide sequence number goes to the downlink estimator.
   */
  sendRtp(t: RTCRtpTransceiver, rtp: RtpPacket, playoutDelayMs = 0): void {
    if (this.mediaPathBroken) return;
    const stream = this.streams.get(t);
    if (!stream) return;
    stream.playoutDelayMs = playoutDelayMs;
    const now = performance.now();
    const twcc = this.sendPath.send(stream, rtp, now);
    if (twcc >= 0 && this.downlink) this.downlink.onPacketSent(twcc, rtp.payload.length + PACKET_OVERHEAD_BYTES, now);
  }

  /** A packet the forwarder leaves out on a section of ours: the numbering closes up over it. */
  skipRtp(t: RTCRtpTransceiver, rtp: RtpPacket): void {
    const stream = this.streams.get(t);
    if (stream) this.sendPath.skip(stream, rtp);
  }

  /**
   * The round trip to this participant (ms), from its receiver reports about our streams (RFC 3550
   * 6.4.1: arrival − LSR − DLSR), the lowest over the last RTT_WINDOW_MS (a report the receiver
   * held back only adds to a sample). null until a report came.
   */
  get roundTripMs(): number | null {
    return this.rttSamples.length === 0 ? null : Math.min(...this.rttSamples.map((x) => x.ms));
  }

  /**
   * The round trip as it is now, for what must follow a rise at once (a playout delay that comes
   * 5 s late leaves every repair of those 5 s too late): the lower of the last two samples, so one
   * report the receiver held back does not count alone. null until a report came.
   */
  get recentRoundTripMs(): number | null {
    const n = this.rttSamples.length;
    if (n === 0) return null;
    return n === 1 ? this.rttSamples[0]!.ms : Math.min(this.rttSamples[n - 1]!.ms, this.rttSamples[n - 2]!.ms);
  }

  private readonly rttSamples: { at: number; ms: number }[] = [];

  /** This participant's last sender report per stream it publishes (layer switches: capture-clock.ts). */
  readonly senderClocks = new Map<number, SenderClock>();

  private onSenderReport(sr: RtcpSrPacket): void {
    // Bounded: a client sending reports for made-up SSRCs must not grow the map without end.
    if (!this.senderClocks.has(sr.ssrc) && this.senderClocks.size >= MAX_SENDER_CLOCKS) return;
    this.senderClocks.set(sr.ssrc, { ntpSeconds: ntpToSeconds(sr.senderInfo.ntpTimestamp), rtpTimestamp: sr.senderInfo.rtpTimestamp });
  }

  private onRoundTrip(lsr: number, dlsr: number, now: number): void {
    // The middle 32 bits of the NTP time now, in 1/65536 s.
    const ntpMiddle = Math.floor(((performance.timeOrigin + now) / 1000 + NTP_UNIX_OFFSET_S) * 65536) >>> 0;
    const rtt = (((ntpMiddle - lsr - dlsr) >>> 0) / 65536) * 1000;
    if (!(rtt >= 0 && rtt < 10_000)) return;
    this.rttSamples.push({ at: now, ms: rtt });
    while (this.rttSamples.length > 0 && now - this.rttSamples[0]!.at > RTT_WINDOW_MS) this.rttSamples.shift();
  }

  /** Packets our send path sent, and those it could not (no SRTP keys). */
  get sendPathStats(): { sent: number; unsent: number } {
    return { sent: this.sendPath.sent, unsent: this.sendPath.unsent };
  }

  /**
   * NACKs from the subscriber are answered from our send path's history (on RTX), cut to the
   * downlink estimator's retransmission budget: resending everything a subscriber asks for on a
   * congested link keeps it congested. werift still counts the NACK (nackCount) and sees the
   * packet; its own history is empty, since werift's sender sends nothing.
   */
  private limitRetransmissions(t: RTCRtpTransceiver, stream: OutboundStream): void {
    const sender = t.sender as unknown as { handleRtcpPacket(p: unknown): void; __limited?: boolean };
    if (sender.__limited) return;
    sender.__limited = true;
    const handle = sender.handleRtcpPacket.bind(sender);
    sender.handleRtcpPacket = (p: unknown) => {
      const fb = (p as { type?: number; feedback?: { count?: number; lost?: number[] } }).feedback;
      if ((p as { type?: number }).type === RtcpTransportLayerFeedback.type && fb?.count === GenericNack.count && Array.isArray(fb.lost)) {
        const sink = this.downlink;
        const now = performance.now();
        // Only packets still in the history can be resent (it is emptied at every layer
        // switch): the budget is spent on those alone.
        fb.lost = fb.lost.filter((seq) => stream.holds(seq) && (!sink || sink.allowRetransmission(RETRANSMISSION_BYTES, now)));
        if (!this.mediaPathBroken) for (const seq of fb.lost) this.sendPath.retransmit(stream, seq, now);
      }
      handle(p);
    };
  }

  /** Asks the publisher for a keyframe on this SSRC (PLI, RFC 4585). */
  requestKeyframe(mediaSsrc: number): void {
    const pli = new RtcpPayloadSpecificFeedback({ feedback: new PictureLossIndication({ senderSsrc: this.rtcpSsrc, mediaSsrc }) });
    this.sendRtcp(pli.serialize());
  }

  /** Asks the publisher to resend these sequence numbers of one SSRC (generic NACK). */
  sendNack(mediaSsrc: number, lost: number[]): void {
    if (lost.length === 0) return;
    const nack = new RtcpTransportLayerFeedback({ feedback: new GenericNack({ senderSsrc: this.rtcpSsrc, mediaSourceSsrc: mediaSsrc, lost }) });
    this.sendRtcp(nack.serialize());
  }

  private readonly rtcpSsrc = randomBytes(4).readUInt32BE(0);

  /**
   * Our transport-cc feedback to the client, from its first packet that carries a transport-wide
   * sequence number on: a participant who only subscribes sends none, and its transport then
   * needs no timer.
   */
  private startTransportCcFeedback(): void {
    if (this.closed) return;
    this.twccTimer = setInterval(() => {
      const packet = this.twcc.build();
      if (packet) this.sendRtcp(packet);
    }, TWCC_INTERVAL_MS);
  }

  /** Sends one plain RTCP packet through our send path (SRTCP, the selected socket). */
  private sendRtcp(plain: Buffer): void {
    const dtls = this.dtls();
    if (dtls) this.sendPath.sendRtcp(dtls as unknown as DtlsTransportLike, plain);
  }

  /** Our sender reports, one compound packet per transport (send-path/rtp-send-path.ts senderReports). */
  private scheduleSenderReports(): void {
    if (this.closed) return;
    this.reportTimer = setTimeout(() => {
      const report = this.sendPath.senderReports(performance.now());
      if (report) this.sendRtcp(report);
      this.scheduleSenderReports();
    }, SR_MIN_INTERVAL_MS + Math.random() * SR_SPREAD_MS);
  }

  private dtls() {
    return this.pc.getTransceivers()[0]?.receiver.dtlsTransport ?? this.pc.sctpTransport?.dtlsTransport;
  }

  createDataChannel(label: string, opts: { ordered?: boolean; maxRetransmits?: number; maxPacketLifeTime?: number } = {}): RTCDataChannel {
    const channel = this.pc.createDataChannel(label, opts);
    this.prepareSctpIds();
    return channel;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.twccTimer) clearInterval(this.twccTimer);
    if (this.reportTimer) clearTimeout(this.reportTimer);
    this.pc.close().catch(() => undefined);
  }

  private subscribeRtp(): void {
    if (this.rtpSubscribed) return;
    const dtls = this.dtls();
    if (!dtls) return;
    this.rtpSubscribed = true;
    this.scheduleSenderReports();
    // werift routes PLI by the *sender's* SSRC first, which for a client that also publishes is
    // its own media SSRC (our receiver), so subscribers' keyframe requests are picked out here.
    dtls.onRtcp.subscribe((rtcp) => {
      try {
        if (rtcp.type === RtcpRrPacket.type || rtcp.type === RtcpSrPacket.type) {
          if (rtcp.type === RtcpSrPacket.type) this.onSenderReport(rtcp as RtcpSrPacket);
          const sink = this.downlink;
          if (!sink) return;
          const now = performance.now();
          for (const r of (rtcp as RtcpRrPacket).reports) {
            if (!this.ourSsrcs.has(r.ssrc)) continue;
            sink.onReceiverReport(r.ssrc, r.fractionLost / 256, r.highestSequence, now);
            if (r.lsr !== 0) this.onRoundTrip(r.lsr, r.dlsr, now);
          }
          return;
        }
        if (rtcp.type === RtcpTransportLayerFeedback.type) {
          const fb = (rtcp as RtcpTransportLayerFeedback).feedback as { count: number };
          if (fb.count === TransportWideCC.count && this.downlink && twccReport.read((fb as RawTransportCc).fci)) this.downlink.onTransportFeedback(twccReport, performance.now());
          return;
        }
        if (rtcp.type !== RtcpPayloadSpecificFeedback.type) return;
        const fb = (rtcp as RtcpPayloadSpecificFeedback).feedback as { count: number; mediaSsrc?: number; fir?: { ssrc: number }[]; bitrate?: bigint };
        if (fb.count === PictureLossIndication.count && fb.mediaSsrc !== undefined) this.onKeyframeRequest(fb.mediaSsrc);
        else if (fb.count === FIR_FMT) for (const e of fb.fir ?? []) this.onKeyframeRequest(e.ssrc);
        else if (fb.count === ReceiverEstimatedMaxBitrate.count && fb.bitrate !== undefined) this.downlink?.onRemb(Number(fb.bitrate), performance.now());
      } catch {
        // never let a malformed RTCP packet reach further
      }
    });
    dtls.onRtp.subscribe((rtp) => {
      try {
        const arrival = performance.now() * 1000;
        for (const e of rtp.header.extensions) {
          if (e.id === this.twccId && e.payload.length >= 2) {
            this.twcc.onPacket(e.payload.readUInt16BE(0), arrival);
            if (!this.twccTimer) this.startTransportCcFeedback();
            this.lastMediaSsrc = rtp.header.ssrc;
            break;
          }
        }
        this.onRtp(rtp);
      } catch {
        // a malformed packet must never take the transport down
      }
    });
  }

  /**
   * werift picks data-channel stream ids only in its SCTP start(); when the client's side opens the
   * association first, queued channels would be flushed with no id (a TypeError in werift).
   */
  private prepareSctpIds(): void {
    const sctp = this.pc.sctpTransport as unknown as { dataChannelId?: number; isServer: boolean; dtlsTransport?: { iceTransport?: unknown } } | undefined;
    if (sctp && sctp.dataChannelId === undefined && sctp.dtlsTransport?.iceTransport) sctp.dataChannelId = sctp.isServer ? 0 : 1;
  }

  /**
   * werift starts SCTP only while first connecting; when data channels arrive by renegotiation
   * (a data track published later, or our media-signaling channels) we start it ourselves.
   */
  private startLateSctp(): void {
    this.prepareSctpIds();
    const sctp = this.pc.sctpTransport;
    if (!sctp || this.sctpStarted || !this.isConnected) return;
    this.sctpStarted = true;
    const manager = (this.pc as unknown as { sctpManager?: { connectSctp(): Promise<void> } }).sctpManager;
    manager?.connectSctp().catch(() => {
      this.sctpStarted = false;
    });
  }

  /**
   * werift's own transport-cc feedback is per m-line and malformed, and its NACKs mix simulcast
   * layers; ours replace both (rtcp/transport-cc-feedback.ts, rtcp/nack-generator.ts).
   */
  private disableWeriftTwcc(): void {
    for (const t of this.pc.getTransceivers()) {
      const r = t.receiver as unknown as { receiverTWCC?: unknown; __noTwcc?: boolean };
      if (r.__noTwcc) continue;
      Object.defineProperty(r, 'twccEnabled', { get: () => false, configurable: true });
      Object.defineProperty(r, 'nackEnabled', { get: () => false, configurable: true });
      r.receiverTWCC = undefined;
      r.__noTwcc = true;
    }
  }

  private async localSdp(): Promise<string> {
    await this.waitForGathering();
    const sdp = filterCandidates(this.pc.localDescription?.sdp ?? '', this.ice.hostAddresses);
    // Said in every description with video from the client until that video flows: the encoder
    // starts at the start bitrate of the description in force when it starts, and a joiner gets
    // our next offer (its subscriptions) ~50 ms after our answer, before its first frame. Once
    // the video flows, never again: a later description that says it again makes Chromium
    // restart its estimate and its encoder's resolution from there.
    if (this.clientVideoFlowing) return sdp;
    return withStartBitrate(sdp, VIDEO_START_KBPS);
  }

  private async waitForGathering(): Promise<void> {
    if (this.pc.iceGatheringState === 'complete') return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 3000);
      this.pc.iceGatheringStateChange.subscribe((s) => {
        if (s === 'complete') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }
}

/** Keeps only candidates on announced addresses; CRLF endings as twilio-video requires. */
export function filterCandidates(sdp: string, hostAddresses: string[]): string {
  const allowed = new Set(hostAddresses);
  return sdp
    .split(/\r?\n/)
    .filter((line) => {
      if (!line.startsWith('a=candidate:')) return true;
      const address = line.split(' ')[4];
      return allowed.size === 0 || (address !== undefined && allowed.has(address));
    })
    .join('\r\n');
}
