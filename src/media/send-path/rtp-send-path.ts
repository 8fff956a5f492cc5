// Our own send path for forwarded RTP, replacing werift's RTCRtpSender.sendRtp for the sections
// the SFU forwards on. Per packet and subscriber werift cloned the packet, rebuilt and sorted its
// header extensions, formatted the time as a string, serialized with Buffer.concat, made new
// AES and HMAC contexts, chained three promises down to the UDP socket and fed a send-side
// bandwidth estimator we do not use. Here the header is written once into a reusable buffer
// (SSRC, payload type, sequence number and timestamp rewritten, our header extensions from a
// per-sender template), protected by a per-session SRTP context (./srtp.ts) and handed to the
// ICE-selected UDP socket directly.
//
// What werift's sender did and still must happen is kept, on werift's own objects where the
// rest of werift reads it:
// - sequence numbers and timestamps continue across source switches (replaceRTP), and so do
//   VP8 picture IDs and TL0PICIDX (./vp8-numbering.ts; werift left those as they came);
// - the transport-wide sequence number (dtlsTransport.transportSequenceNumber);
// - a history of recent packets, resent on NACK as RTX (or as-is without RTX);
// - the sender's packet/octet counters and the RTP timestamp of the last packet, which getStats
//   reads;
// - the DTLS transport's and the candidate pair's byte and packet counters.
// Sender reports are ours too (senderReports(), ../rtcp/sender-reports.ts): one compound packet
// per transport instead of werift's loop per sender.
import type { Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { RtpPacket } from 'werift';
import { MAX_RTP_PACKET, RolloverCounter, SrtpSendContext, SRTP_AEAD_AES_128_GCM, SRTP_AES128_CM_HMAC_SHA1_80, type SrtpProfile } from '../srtp/srtp.js';
import { ContinuedCounter, Vp8Ids, Vp8Numbering } from './vp8-numbering.js';
import { MAX_REPORTED_STREAMS, ntpTime, senderReportCompound, type SenderInfo } from '../rtcp/sender-reports.js';

const URI_MID = 'urn:ietf:params:rtp-hdrext:sdes:mid';
const URI_RID = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';
const URI_RRID = 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id';
const URI_TWCC = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
export const URI_PLAYOUT_DELAY = 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay';
/** The playout delay's upper bound we state (ms): the receiver's jitter buffer may grow up to it. */
const PLAYOUT_DELAY_MAX_MS = 1000;
const URI_ABS_SEND_TIME = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time';

/** Packets kept per sender for retransmission, by sequence number modulo this (werift kept 128). */
export const HISTORY_SIZE = 128;
/** A stream is reported in sender reports while it sent a packet within this long (ms). */
export const SR_ACTIVE_MS = 5000;

// ------------------------------------------------------------------ werift's objects, as we use them

interface IceTransportLike {
  type: string;
  closed: boolean;
  socket?: Socket;
}
interface CandidatePairLike {
  protocol: { type: string; transport: IceTransportLike };
  /** (werift's `remoteAddr` getter makes a new array per call: read the candidate instead.) */
  remoteCandidate: { host: string; port: number };
  packetsSent: number;
  bytesSent: number;
}
interface IceConnectionLike {
  nominated?: CandidatePairLike;
  canSendApplicationData(): boolean;
  send(data: Buffer): Promise<void>;
}
export interface DtlsTransportLike {
  state: string;
  /** werift's SRTCP session; its encrypt is our SrtcpContext (../srtp/werift-sessions.ts). */
  srtcp?: { encrypt(rtcp: Buffer): Buffer };
  srtp?: { config: { keys: { localMasterKey: Buffer; localMasterSalt: Buffer }; profile: number } };
  transportSequenceNumber: number;
  bytesSent: number;
  packetsSent: number;
  iceTransport: { connection: IceConnectionLike };
}
export interface SenderLike {
  ssrc: number;
  rtxSsrc: number;
  stopped: boolean;
  codec?: { payloadType: number; mimeType?: string; clockRate?: number };
  rtxPayloadType?: number;
  rtxSequenceNumber: number;
  mid?: string;
  rtpStreamId?: string;
  repairedRtpStreamId?: string;
  headerExtensions: { uri: string; id: number }[];
  dtlsTransport?: DtlsTransportLike;
  packetCount: number;
  octetCount: number;
  headerBytesSent: number;
  rtpTimestamp: number;
  retransmittedPacketsSent: number;
  retransmittedBytesSent: number;
  /** The CNAME werift negotiated for the sender (prepareSend). */
  cname?: string;
  replaceRTP(header: unknown, discontinuity?: boolean, timestampStep?: number): void;
}

// ------------------------------------------------------------------ header extensions

/** Our one-byte header extension block (RFC 8285) for one sender, with where the per-packet values go. */
export class ExtensionLayout {
  /** 0xBEDE, length, elements, padding; empty when there are no extensions. */
  readonly bytes: Buffer;
  /** Offsets (from the start of the block) of the transport-wide sequence number and abs-send-time; -1 = absent. */
  readonly twccAt: number;
  readonly absAt: number;

  constructor(
    readonly source: SenderLike['headerExtensions'],
    readonly mid: string | undefined,
    rid: string | undefined,
    rrid: string | undefined,
    /** A minimum playout delay to ask the receiver for (ms); 0 = none (the extension is left out). */
    readonly playoutDelayMs = 0,
  ) {
    const elements: { id: number; payload: Buffer; kind: 'twcc' | 'abs' | 'fixed' }[] = [];
    for (const e of source) {
      if (e.id < 1 || e.id > 14) continue; // not expressible in the one-byte form
      let payload: Buffer | null = null;
      let kind: 'twcc' | 'abs' | 'fixed' = 'fixed';
      if (e.uri === URI_MID && mid) payload = Buffer.from(mid, 'ascii');
      else if (e.uri === URI_RID && rid) payload = Buffer.from(rid, 'ascii');
      else if (e.uri === URI_RRID && rrid) payload = Buffer.from(rrid, 'ascii');
      else if (e.uri === URI_TWCC) ((payload = Buffer.alloc(2)), (kind = 'twcc'));
      else if (e.uri === URI_ABS_SEND_TIME) ((payload = Buffer.alloc(3)), (kind = 'abs'));
      else if (e.uri === URI_PLAYOUT_DELAY && playoutDelayMs > 0) {
        // 12 bits each, in 10 ms units: minimum, maximum.
        const min = Math.min(4095, Math.round(playoutDelayMs / 10));
        const max = Math.max(min, Math.min(4095, Math.round(PLAYOUT_DELAY_MAX_MS / 10)));
        payload = Buffer.from([min >> 4, ((min & 0xf) << 4) | (max >> 8), max & 0xff]);
      }
      if (payload && payload.length >= 1 && payload.length <= 16) elements.push({ id: e.id, payload, kind });
    }
    elements.sort((a, b) => a.id - b.id);
    let twccAt = -1;
    let absAt = -1;
    if (elements.length === 0) {
      this.bytes = Buffer.alloc(0);
    } else {
      const size = elements.reduce((n, e) => n + 1 + e.payload.length, 0);
      const padded = (size + 3) & ~3;
      const b = Buffer.alloc(4 + padded);
      b.writeUInt16BE(0xbede, 0);
      b.writeUInt16BE(padded / 4, 2);
      let o = 4;
      for (const e of elements) {
        b[o++] = (e.id << 4) | (e.payload.length - 1);
        if (e.kind === 'twcc') twccAt = o;
        if (e.kind === 'abs') absAt = o;
        e.payload.copy(b, o);
        o += e.payload.length;
      }
      this.bytes = b;
    }
    this.twccAt = twccAt;
    this.absAt = absAt;
  }
}

// ------------------------------------------------------------------ per sender

/** What we keep per forwarding sender: numbering, SRTP indexes, history, counters. */
export class OutboundStream {
  /** Output = input + offset (mod 2¹⁶, 2³²); frozen anew at the first packet after a switch. */
  private readonly seqNumbers = new ContinuedCounter(0xffff);
  private tsOffset = 0;
  private continuityPending = false;
  private pendingStep = 1;
  private mappedAny = false;
  private lastTs = 0;
  /** Our timestamp of the packet last mapped. */
  ts = 0;
  readonly roc = new RolloverCounter();
  readonly rtxRoc = new RolloverCounter();
  /** The SRTP context the counters above belong to (new keys: start again at ROC 0). */
  context: SrtpSendContext | null = null;
  layout: ExtensionLayout | null = null;
  /** Minimum playout delay to ask the subscriber for (ms), set per packet by the forwarder; 0 = none. */
  playoutDelayMs = 0;
  // History, by output sequence number modulo HISTORY_SIZE.
  private readonly histSeq = new Int32Array(HISTORY_SIZE).fill(-1);
  private readonly histTs = new Uint32Array(HISTORY_SIZE);
  private readonly histMarker = new Uint8Array(HISTORY_SIZE);
  private readonly histTwcc = new Int32Array(HISTORY_SIZE);
  private readonly histPayload: (Buffer | undefined)[] = new Array<Buffer | undefined>(HISTORY_SIZE).fill(undefined);
  /** The picture ID and TL0PICIDX we wrote into each packet (VP8), for its retransmission. */
  private readonly histPid = new Int32Array(HISTORY_SIZE);
  private readonly histTl0 = new Int32Array(HISTORY_SIZE);
  /** VP8 picture IDs and TL0PICIDX, continued across switches like sequence numbers. */
  readonly vp8 = new Vp8Numbering();
  /** Whether the sender's codec (as last seen: `codecSeen`) is VP8, so it is not compared per packet. */
  private codecSeen: object | null = null;
  private codecIsVp8 = false;
  /** Wall clock (ms since the Unix epoch) when the last packet was sent, for sender reports; 0 = never. */
  lastSentWallMs = 0;

  constructor(readonly sender: SenderLike) {}

  /** The next packet starts a new stretch: continue numbering from the last one sent (werift's replaceRTP). */
  scheduleContinuity(timestampStep = 1): void {
    this.continuityPending = true;
    this.seqNumbers.pending = true;
    this.pendingStep = timestampStep;
    this.vp8.scheduleContinuity();
    this.clearHistory(); // as werift did: the history is not carried across a switch
  }

  /** Forgets the packets kept for retransmission (and lets their payloads go). */
  clearHistory(): void {
    this.histSeq.fill(-1);
    this.histPayload.fill(undefined);
  }

  /** Maps an input sequence number and timestamp to ours; returns the sequence number (timestamp in `ts`). */
  map(inSeq: number, inTs: number): number {
    if (this.continuityPending) {
      if (this.mappedAny) this.tsOffset = (this.lastTs + this.pendingStep - inTs) >>> 0;
      this.continuityPending = false;
      this.pendingStep = 1;
    }
    const seq = this.seqNumbers.map(inSeq);
    this.ts = (inTs + this.tsOffset) >>> 0;
    this.mappedAny = true;
    this.lastTs = this.ts;
    return seq;
  }

  /**
   * A packet of this stream's source that is not forwarded (a thinned temporal layer): later
   * sequence numbers (and, with `vp8`, picture IDs) close up over it, so the subscriber sees no
   * gap to ask for again.
   */
  skip(inSeq: number, vp8: Vp8Ids | null): void {
    if (this.continuityPending) return; // the next stretch starts after it anyway
    this.seqNumbers.skip(inSeq);
    if (vp8) this.vp8.skip(vp8);
  }

  remember(seq: number, ts: number, marker: boolean, twcc: number, payload: Buffer, vp8: Vp8Ids | null): void {
    const i = seq % HISTORY_SIZE;
    this.histSeq[i] = seq;
    this.histPid[i] = vp8 ? vp8.pid : 0;
    this.histTl0[i] = vp8 ? vp8.tl0 : 0;
    this.histTs[i] = ts;
    this.histMarker[i] = marker ? 1 : 0;
    this.histTwcc[i] = twcc;
    this.histPayload[i] = payload;
  }

  /** Whether this sender's codec is VP8 (remembered per codec object). */
  isVp8(codec: { mimeType?: string }): boolean {
    if (codec !== this.codecSeen) {
      this.codecSeen = codec;
      this.codecIsVp8 = codec.mimeType?.toLowerCase() === 'video/vp8';
    }
    return this.codecIsVp8;
  }

  holds(seq: number): boolean {
    return this.histSeq[seq % HISTORY_SIZE] === seq;
  }

  entry(seq: number): { ts: number; marker: boolean; twcc: number; payload: Buffer; pid: number; tl0: number } | null {
    const i = seq % HISTORY_SIZE;
    const payload = this.histPayload[i];
    if (this.histSeq[i] !== seq || !payload) return null;
    return { ts: this.histTs[i]!, marker: this.histMarker[i] === 1, twcc: this.histTwcc[i]!, payload, pid: this.histPid[i]!, tl0: this.histTl0[i]! };
  }

  /** Whether a packet has been sent on this stream. */
  get started(): boolean {
    return this.lastSentWallMs !== 0;
  }

  /**
   * The NTP time (64-bit) of the last packet sent, as werift's sender keeps it. Only werift's own
   * report loop reads it, and we no longer start that loop (senderReports() replaces it); it stays
   * so that the sender never holds a stale time should anything in werift start it.
   */
  ntpTimestamp(): bigint {
    if (this.lastSentWallMs === 0) return 0n;
    const [seconds, fraction] = ntpTime(this.lastSentWallMs);
    return (BigInt(seconds) << 32n) | BigInt(fraction);
  }
}

// ------------------------------------------------------------------ per transport

export class RtpSendPath {
  private keySource: DtlsTransportLike['srtp'] | null = null;
  private context: SrtpSendContext | null = null;
  private readonly timeOrigin = performance.timeOrigin;
  /** The VP8 descriptor fields of the packet being sent (reused: one packet at a time). */
  private readonly vp8Ids = new Vp8Ids();
  /** Packets sent, and packets not sent for want of SRTP keys. */
  sent = 0;
  unsent = 0;

  /** The streams attached, in order (for sender reports). */
  private readonly streams: OutboundStream[] = [];

  /**
   * A stream whose section no longer sends (its subscription ended): no more sender reports, and
   * its history (up to HISTORY_SIZE payloads, ~150 kB of video) is let go. Without this, every
   * subscription a participant ever had stayed in `streams` for as long as it was connected.
   */
  detach(stream: OutboundStream): void {
    const i = this.streams.indexOf(stream);
    if (i >= 0) this.streams.splice(i, 1);
    stream.clearHistory();
  }

  /** Takes over a sender: its replaceRTP and its sender-report clock now come from us. */
  attach(sender: SenderLike): OutboundStream {
    const stream = new OutboundStream(sender);
    this.streams.push(stream);
    sender.replaceRTP = (_header: unknown, _discontinuity = false, timestampStep = 1) => stream.scheduleContinuity(timestampStep);
    Object.defineProperty(sender, 'ntpTimestamp', { get: () => stream.ntpTimestamp(), set: () => undefined, configurable: true, enumerable: true });
    return stream;
  }

  /**
   * Sends one forwarded packet on the stream's sender. Returns the transport-wide sequence
   * number it carries, -1 if none, or -2 if nothing was sent.
   */
  send(stream: OutboundStream, rtp: RtpPacket, nowMs: number): number {
    const sender = stream.sender;
    const dtls = sender.dtlsTransport;
    const codec = sender.codec;
    if (sender.stopped || !dtls || dtls.state !== 'connected' || !codec) return -2;
    const ctx = this.contextFor(dtls);
    if (!ctx) {
      // No SRTP keys for a profile we know: werift could not send either (it knows the same two).
      this.unsent++;
      return -2;
    }
    if (stream.context !== ctx) {
      stream.context = ctx;
      stream.roc.reset();
      stream.rtxRoc.reset();
    }
    const header = rtp.header;
    const payload = rtp.payload;
    const layout = this.layoutFor(stream);
    if (12 + layout.bytes.length + payload.length > MAX_RTP_PACKET) return -2; // never from a browser (MTU)
    const seq = stream.map(header.sequenceNumber, header.timestamp);
    const ts = stream.ts;
    let vp8: Vp8Ids | null = null;
    if (stream.isVp8(codec) && this.vp8Ids.read(payload)) {
      vp8 = this.vp8Ids;
      stream.vp8.map(vp8);
    }
    let twcc = -1;
    if (layout.twccAt >= 0) twcc = dtls.transportSequenceNumber = (dtls.transportSequenceNumber + 1) & 0xffff;
    const data = this.protect(ctx, layout, sender.ssrc, codec.payloadType, header.marker, seq, ts, twcc, nowMs, null, payload, vp8, stream.roc.next(seq));
    if (!data) return -2;
    stream.remember(seq, ts, header.marker, twcc, payload, vp8);
    // werift's sender counters: sender reports and getStats read them.
    stream.lastSentWallMs = this.timeOrigin + nowMs;
    sender.rtpTimestamp = ts;
    sender.packetCount = (sender.packetCount + 1) >>> 0;
    sender.octetCount += payload.length;
    sender.headerBytesSent += 12 + layout.bytes.length;
    this.transmit(dtls, data, ctx);
    this.sent++;
    return twcc;
  }

  /** A packet the forwarder leaves out on this stream (see OutboundStream.skip). */
  skip(stream: OutboundStream, rtp: RtpPacket): void {
    const codec = stream.sender.codec;
    const vp8 = codec && stream.isVp8(codec) && this.vp8Ids.read(rtp.payload) ? this.vp8Ids : null;
    stream.skip(rtp.header.sequenceNumber, vp8);
  }

  /** Resends one packet from the history (on RTX if negotiated). Returns the payload bytes resent, 0 if not. */
  retransmit(stream: OutboundStream, seq: number, nowMs: number): number {
    const sender = stream.sender;
    const dtls = sender.dtlsTransport;
    const codec = sender.codec;
    const entry = stream.entry(seq);
    if (!entry || sender.stopped || !dtls || dtls.state !== 'connected' || !codec) return 0;
    const ctx = this.contextFor(dtls);
    if (!ctx || stream.context !== ctx) return 0;
    const layout = this.layoutFor(stream);
    let vp8: Vp8Ids | null = null;
    if (stream.isVp8(codec) && this.vp8Ids.read(entry.payload)) {
      vp8 = this.vp8Ids;
      vp8.pid = entry.pid;
      vp8.tl0 = entry.tl0;
    }
    let data: Buffer | null;
    let bytes: number;
    // As werift did: the resent packet carries the original's transport-wide sequence number.
    if (sender.rtxPayloadType !== undefined) {
      const rtxSeq = sender.rtxSequenceNumber & 0xffff;
      sender.rtxSequenceNumber = (rtxSeq + 1) & 0xffff;
      data = this.protect(ctx, layout, sender.rtxSsrc, sender.rtxPayloadType, entry.marker, rtxSeq, entry.ts, entry.twcc, nowMs, seq, entry.payload, vp8, stream.rtxRoc.next(rtxSeq));
      bytes = entry.payload.length + 2;
    } else {
      data = this.protect(ctx, layout, sender.ssrc, codec.payloadType, entry.marker, seq, entry.ts, entry.twcc, nowMs, null, entry.payload, vp8, stream.roc.next(seq));
      bytes = entry.payload.length;
    }
    if (!data) return 0;
    sender.retransmittedPacketsSent++;
    sender.retransmittedBytesSent += bytes;
    this.transmit(dtls, data, ctx);
    return bytes;
  }

  /**
   * One compound RTCP packet with a sender report for every stream that sent within SR_ACTIVE_MS
   * (plain, to be protected: sendRtcp), or null if none did. Each report is stamped with the
   * time it is made, and its RTP timestamp is the last packet's carried forward on the stream's
   * clock (RFC 3550 §6.4.1): the receiver's round trip (arrival − LSR − DLSR) is then exact, and
   * audio and video keep the mapping of their last packets, which is what lip sync needs.
   */
  senderReports(nowMs: number): Buffer | null {
    const wallMs = this.timeOrigin + nowMs;
    const infos: SenderInfo[] = [];
    for (const stream of this.streams) {
      const s = stream.sender;
      const clockRate = s.codec?.clockRate;
      if (!stream.started || s.stopped || !clockRate || wallMs - stream.lastSentWallMs > SR_ACTIVE_MS) continue;
      const elapsed = Math.max(0, wallMs - stream.lastSentWallMs);
      infos.push({
        ssrc: s.ssrc,
        wallMs,
        rtpTimestamp: (stream.ts + Math.round((elapsed * clockRate) / 1000)) >>> 0,
        packetCount: s.packetCount,
        octetCount: s.octetCount,
        cname: s.cname,
      });
      if (infos.length === MAX_REPORTED_STREAMS) break;
    }
    return senderReportCompound(infos);
  }

  /** Protects one plain RTCP packet with the transport's SRTCP context and sends it; false if it could not. */
  sendRtcp(dtls: DtlsTransportLike, plain: Buffer): boolean {
    if (dtls.state !== 'connected' || !dtls.srtcp) return false;
    let data: Buffer;
    try {
      data = dtls.srtcp.encrypt(plain);
    } catch {
      return false; // too long for the context: never for what we build
    }
    this.transmit(dtls, data, null);
    return true;
  }

  /** The SRTP context for the transport's current keys, or null (werift sends then). */
  private contextFor(dtls: DtlsTransportLike): SrtpSendContext | null {
    const source = dtls.srtp;
    if (source === this.keySource) return this.context;
    this.keySource = source ?? null;
    this.context = null;
    const profile = source?.config.profile;
    if (source && (profile === SRTP_AES128_CM_HMAC_SHA1_80 || profile === SRTP_AEAD_AES_128_GCM)) {
      try {
        this.context = new SrtpSendContext(source.config.keys.localMasterKey, source.config.keys.localMasterSalt, profile as SrtpProfile);
      } catch {
        this.context = null;
      }
    }
    return this.context;
  }

  private layoutFor(stream: OutboundStream): ExtensionLayout {
    const s = stream.sender;
    const l = stream.layout;
    if (l && l.source === s.headerExtensions && l.mid === s.mid && l.playoutDelayMs === stream.playoutDelayMs) return l;
    return (stream.layout = new ExtensionLayout(s.headerExtensions, s.mid, s.rtpStreamId, s.repairedRtpStreamId, stream.playoutDelayMs));
  }

  /** Writes the packet into the context's buffer and protects it; null if it does not fit. */
  private protect(
    ctx: SrtpSendContext,
    layout: ExtensionLayout,
    ssrc: number,
    payloadType: number,
    marker: boolean,
    seq: number,
    ts: number,
    twcc: number,
    nowMs: number,
    originalSeq: number | null,
    payload: Buffer,
    vp8: Vp8Ids | null,
    roc: number,
  ): Buffer | null {
    const ext = layout.bytes;
    const headerLength = 12 + ext.length;
    const payloadLength = payload.length + (originalSeq === null ? 0 : 2);
    if (headerLength + payloadLength > MAX_RTP_PACKET) return null;
    const b = ctx.packetBuffer();
    const o = ctx.packetOffset;
    b[o] = ext.length > 0 ? 0x90 : 0x80;
    b[o + 1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
    b.writeUInt16BE(seq, o + 2);
    b.writeUInt32BE(ts, o + 4);
    b.writeUInt32BE(ssrc >>> 0, o + 8);
    if (ext.length > 0) {
      ext.copy(b, o + 12);
      if (layout.twccAt >= 0 && twcc >= 0) b.writeUInt16BE(twcc, o + 12 + layout.twccAt);
      if (layout.absAt >= 0) {
        // abs-send-time: seconds as 6.18 fixed point, modulo 64 s (the NTP and Unix epochs
        // are a whole multiple of 64 s apart).
        const v = Math.floor(((this.timeOrigin + nowMs) / 1000) * 262144) % 0x1000000;
        const at = o + 12 + layout.absAt;
        b[at] = v >>> 16;
        b[at + 1] = (v >>> 8) & 0xff;
        b[at + 2] = v & 0xff;
      }
    }
    let p = o + headerLength;
    if (originalSeq !== null) {
      b.writeUInt16BE(originalSeq, p);
      p += 2;
    }
    payload.copy(b, p);
    if (vp8) vp8.write(b, p);
    return ctx.protect(headerLength, payloadLength, ssrc, seq, roc);
  }

  /**
   * Hands the SRTP packet to the socket of the ICE-selected pair (werift's path for TCP).
   * `borrowedFrom`: the packet is a view of that context's buffer (protect() works in place), so
   * whatever keeps it past this call must not see the next packet written over it: werift's
   * path gets a copy, and a UDP send the socket queued (the kernel's buffer was full) makes the
   * context move to a new buffer. Otherwise the kernel has copied it before send() returns.
   */
  private transmit(dtls: DtlsTransportLike, data: Buffer, borrowedFrom: SrtpSendContext | null): void {
    const conn = dtls.iceTransport.connection;
    if (!conn.canSendApplicationData()) return;
    const pair = conn.nominated;
    if (!pair) return;
    const transport = pair.protocol.transport;
    // A host pair over UDP: straight to its socket. Anything else (TCP, relayed) through werift.
    if (pair.protocol.type === 'stun' && transport.type === 'udp' && transport.socket && !transport.closed) {
      if (!preResolved.has(transport.socket)) preResolve(transport.socket);
      const socket = transport.socket;
      lookupAnsweredAtOnce = false;
      try {
        const remote = pair.remoteCandidate;
        socket.send(data, remote.port, remote.host);
      } catch {
        return; // the socket is closing
      }
      // Still held by dgram: a lookup that went to DNS, or a send libuv queued.
      if (borrowedFrom && (!lookupAnsweredAtOnce || socket.getSendQueueCount() > 0)) borrowedFrom.keepLastPacket();
      pair.packetsSent++;
      pair.bytesSent += data.length;
    } else {
      conn.send(borrowedFrom ? Buffer.from(data) : data).catch(() => undefined);
    }
    dtls.bytesSent += data.length;
    dtls.packetsSent++;
  }
}

const preResolved = new WeakSet<Socket>();
/** Set by a pre-resolved socket's lookup when it answered within the send() call (see transmit). */
let lookupAnsweredAtOnce = false;

/**
 * Pre-resolves the socket of the transport's selected pair (see preResolve) before any RTP is
 * sent on it: werift's own sends (RTCP to a publisher, which gets no RTP from us) use it too.
 */
export function preResolveSelectedSocket(dtls: DtlsTransportLike): void {
  const socket = dtls.iceTransport.connection.nominated?.protocol.transport.socket;
  if (socket && !preResolved.has(socket)) preResolve(socket);
}


/**
 * Node's dgram resolves the address of every send() with dns.lookup, even an IP literal, and
 * calls back on the next tick: a closure, a tick and a lookup per packet. For IP literals (all
 * ICE addresses are) the socket's lookup is made to answer at once; names still go to DNS. This
 * reaches into dgram's internal state; if that is not where this Node keeps it, nothing changes.
 */
function preResolve(socket: Socket): void {
  preResolved.add(socket);
  const state = Object.getOwnPropertySymbols(socket)
    .filter((s) => s.description === 'state symbol')
    .map((s) => (socket as unknown as Record<symbol, { handle?: { lookup?: unknown } } | undefined>)[s])[0];
  const handle = state?.handle;
  const original = handle?.lookup;
  if (!handle || typeof original !== 'function') return;
  let known = '';
  handle.lookup = function (this: unknown, address: string, callback: (err: Error | null, ip?: string) => void) {
    if (address === known || isIP(address) !== 0) {
      known = address;
      lookupAnsweredAtOnce = true;
      callback(null, address);
    } else {
      (original as (a: string, cb: typeof callback) => void).call(this, address, callback);
    }
  };
}
