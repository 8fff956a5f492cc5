// The media router of one room: packets from each publisher's transport are matched to a
// published track (by SSRC, as the publisher's offer declared them) and handed to that track's
// forwarders, one per subscriber. Never decodes or transcodes. Data-track messages are relayed
// between data channels the same way.
import type { RTCDataChannel, RTCRtpTransceiver, RtpPacket } from 'werift';
import type { PeerTransport } from './peer-transport.js';
import type { OfferedSection } from './sdp-tracks.js';
import { Forwarder } from './forwarder.js';
import { NackGenerator } from './rtcp/nack-generator.js';
import { SpeakerDetector } from './speaker-detector.js';
import { vp8KeyframeSize } from './keyframes.js';

export type TrackKind = 'audio' | 'video' | 'data';

interface SsrcRoute {
  track: PublishedMedia;
  layer: number;
  /** Set for RTX SSRCs: packets carry the original sequence number first. */
  rtx: boolean;
}

export interface PublishedMedia {
  sid: string;
  kind: TrackKind;
  publisherSid: string;
  /** Primary SSRCs by simulcast layer, lowest first. */
  layerSsrcs: number[];
  /** When each layer last delivered a packet (ms). */
  layerSeenAt: number[];
  /** Packets received per layer (for stats and benchmarks). */
  layerPackets: number[];
  /** Coded picture height of each layer, read from its keyframes (VP8). */
  layerHeights: number[];
  /** Payload bytes received per layer (bitrates are measured from these). */
  layerBytes: number[];
  forwarders: Map<string, Forwarder>;
  /** Data tracks: the publisher's channel and the subscribers' channels. */
  dataChannel: RTCDataChannel | null;
  dataSubscribers: Map<string, RTCDataChannel>;
  lastKeyframeRequest: number;
  keyframeTimer: NodeJS.Timeout | null;
  codec: 'VP8' | 'H264' | 'opus';
}

interface PeerState {
  transport: PeerTransport;
  routes: Map<number, SsrcRoute>;
  nack: NackGenerator;
}

const NACK_INTERVAL_MS = 20;
const SPEAKER_DECISION_MS = 200;

/** Keyframe requests to one publisher's track are sent at most this often. */
const KEYFRAME_REQUEST_INTERVAL_MS = 300;

export class SfuRoom {
  private readonly peers = new Map<string, PeerState>();
  private readonly tracks = new Map<string, PublishedMedia>();

  private readonly nackTimer: NodeJS.Timeout;
  private readonly speakerTimer: NodeJS.Timeout;
  private readonly speakers = new SpeakerDetector();
  /** Called when the dominant speaker changes (participant SID). */
  onDominantSpeaker: (participantSid: string) => void = () => {};

  constructor(private readonly videoCodec: 'VP8' | 'H264') {
    this.nackTimer = setInterval(() => this.sendNacks(), NACK_INTERVAL_MS);
    this.speakerTimer = setInterval(() => {
      const changed = this.speakers.decide(Date.now());
      if (changed) this.onDominantSpeaker(changed);
    }, SPEAKER_DECISION_MS);
  }

  get dominantSpeaker(): string | null {
    return this.speakers.current;
  }

  addPeer(participantSid: string, transport: PeerTransport): void {
    const state: PeerState = { transport, routes: new Map(), nack: new NackGenerator() };
    this.peers.set(participantSid, state);
    transport.onRtp = (rtp) => this.onRtp(state, rtp);
    transport.onKeyframeRequest = (ssrc) => {
      for (const track of this.tracks.values()) {
        const f = track.forwarders.get(participantSid);
        if (f && f.transceiver.sender.ssrc === ssrc) f.keyframeRequested();
      }
    };
  }

  removePeer(participantSid: string): void {
    const peer = this.peers.get(participantSid);
    if (!peer) return;
    for (const track of [...this.tracks.values()]) {
      if (track.publisherSid === participantSid) this.removeTrack(track.sid);
      else {
        track.forwarders.delete(participantSid);
        track.dataSubscribers.delete(participantSid);
      }
    }
    this.peers.delete(participantSid);
    peer.transport.close();
  }

  /** A newly published track (the SSRCs come with the next bindSections). */
  addTrack(publisherSid: string, sid: string, kind: TrackKind): void {
    if (this.tracks.has(sid)) return;
    this.tracks.set(sid, {
      sid,
      kind,
      publisherSid,
      layerSsrcs: [],
      layerSeenAt: [],
      layerPackets: [],
      layerHeights: [],
      layerBytes: [],
      forwarders: new Map(),
      dataChannel: null,
      dataSubscribers: new Map(),
      lastKeyframeRequest: 0,
      keyframeTimer: null,
      codec: kind === 'audio' ? 'opus' : this.videoCodec,
    });
  }

  removeTrack(sid: string): void {
    const track = this.tracks.get(sid);
    if (!track) return;
    this.tracks.delete(sid);
    if (track.keyframeTimer) clearTimeout(track.keyframeTimer);
    if (track.kind === 'audio') this.speakers.removeTrack(sid);
    const peer = this.peers.get(track.publisherSid);
    if (peer) for (const [ssrc, route] of peer.routes) if (route.track === track) peer.routes.delete(ssrc);
  }

  getTrack(sid: string): PublishedMedia | undefined {
    return this.tracks.get(sid);
  }

  /** After each client offer: which SSRCs carry which of the publisher's tracks. */
  bindSections(publisherSid: string, sections: OfferedSection[], trackSidByClientId: Map<string, string>): void {
    const peer = this.peers.get(publisherSid);
    if (!peer) return;
    for (const section of sections) {
      if (!section.trackId) continue;
      const sid = trackSidByClientId.get(section.trackId);
      const track = sid ? this.tracks.get(sid) : undefined;
      if (!track || track.kind === 'data') continue;
      track.layerSsrcs = section.layerSsrcs;
      track.layerSeenAt = section.layerSsrcs.map(() => 0);
      track.layerPackets = section.layerSsrcs.map(() => 0);
      track.layerBytes = section.layerSsrcs.map(() => 0);
      section.layerSsrcs.forEach((ssrc, layer) => peer.routes.set(ssrc, { track, layer, rtx: false }));
      for (const [rtx, primary] of section.rtxOf) {
        const layer = section.layerSsrcs.indexOf(primary);
        if (layer >= 0) peer.routes.set(rtx, { track, layer, rtx: true });
      }
    }
  }

  /** Starts forwarding a track to a subscriber on a send section of the subscriber's transport. */
  attachSubscriber(trackSid: string, subscriberSid: string, transceiver: RTCRtpTransceiver): void {
    const track = this.tracks.get(trackSid);
    const peer = this.peers.get(subscriberSid);
    if (!track || !peer) return;
    // No keyframe request yet: the forwarder asks once the subscriber can receive. An earlier
    // request's keyframe would be lost, and publishers limit how often they make keyframes.
    const forwarder = new Forwarder(track, peer.transport, transceiver, () => this.requestKeyframe(track));
    track.forwarders.set(subscriberSid, forwarder);
  }

  /** What a subscriber's render hints say about one track: shown or not, and how tall. */
  setRenderHint(trackSid: string, subscriberSid: string, hint: { enabled?: boolean; height?: number }): void {
    this.tracks.get(trackSid)?.forwarders.get(subscriberSid)?.setRenderHint(hint);
  }

  detachSubscriber(trackSid: string, subscriberSid: string): void {
    const track = this.tracks.get(trackSid);
    track?.forwarders.delete(subscriberSid);
    track?.dataSubscribers.delete(subscriberSid);
  }

  /** The publisher's data channel for a data track (label = its client track id). */
  setPublisherDataChannel(trackSid: string, channel: RTCDataChannel): void {
    const track = this.tracks.get(trackSid);
    if (!track) return;
    track.dataChannel = channel;
    channel.onMessage.subscribe((data) => {
      for (const out of track.dataSubscribers.values()) {
        if (out.readyState === 'open') {
          try {
            out.send(data);
          } catch {
            // a subscriber's full or closing channel must not stop the others
          }
        }
      }
    });
  }

  addDataSubscriber(trackSid: string, subscriberSid: string, channel: RTCDataChannel): void {
    this.tracks.get(trackSid)?.dataSubscribers.set(subscriberSid, channel);
  }

  /**
   * Asks the publisher for a keyframe, at most once per interval; a request inside the interval is
   * deferred to its end rather than dropped (a subscriber that just became ready must not wait).
   */
  requestKeyframe(track: PublishedMedia): void {
    if (track.kind !== 'video') return;
    const now = Date.now();
    const wait = track.lastKeyframeRequest + KEYFRAME_REQUEST_INTERVAL_MS - now;
    if (wait > 0) {
      if (!track.keyframeTimer) {
        track.keyframeTimer = setTimeout(() => {
          track.keyframeTimer = null;
          if (this.tracks.get(track.sid) === track) this.requestKeyframe(track);
        }, wait);
      }
      return;
    }
    track.lastKeyframeRequest = now;
    const publisher = this.peers.get(track.publisherSid);
    if (!publisher) return;
    for (const ssrc of track.layerSsrcs) publisher.transport.requestKeyframe(ssrc);
  }

  /** Per track: packets received per layer and per subscriber what was forwarded. */
  stats() {
    return [...this.tracks.values()].map((t) => ({
      sid: t.sid,
      kind: t.kind,
      publisher: t.publisherSid,
      layerSsrcs: t.layerSsrcs,
      layerPackets: t.layerPackets,
      layerHeights: t.layerHeights,
      layerBytes: t.layerBytes,
      forwarders: [...t.forwarders].map(([sub, f]) => ({ subscriber: sub, ...f.stats() })),
    }));
  }

  close(): void {
    clearInterval(this.nackTimer);
    clearInterval(this.speakerTimer);
    for (const sid of [...this.peers.keys()]) this.removePeer(sid);
  }

  private sendNacks(): void {
    const now = Date.now();
    for (const peer of this.peers.values()) {
      for (const [ssrc, lost] of peer.nack.due(now)) peer.transport.sendNack(ssrc, lost);
    }
  }

  // ---------------------------------------------------------------- the per-packet path

  private onRtp(peer: PeerState, rtp: RtpPacket): void {
    const route = peer.routes.get(rtp.header.ssrc);
    if (!route) return;
    const { track, layer } = route;
    const now = Date.now();
    if (route.rtx) {
      // RFC 4588: the original sequence number leads the payload; padding-only probes carry none.
      if (rtp.payload.length < 2) return;
      rtp.header.sequenceNumber = rtp.payload.readUInt16BE(0);
      rtp.payload = rtp.payload.subarray(2);
      rtp.header.ssrc = track.layerSsrcs[layer]!;
      peer.nack.onPacket(rtp.header.ssrc, rtp.header.sequenceNumber, now);
    } else {
      if (track.kind === 'video') peer.nack.onPacket(rtp.header.ssrc, rtp.header.sequenceNumber, now);
      else if (track.kind === 'audio') {
        const id = peer.transport.audioLevelId;
        for (const e of rtp.header.extensions) {
          if (e.id === id && e.payload.length > 0) {
            this.speakers.onLevel(track.sid, track.publisherSid, e.payload[0]! & 0x7f, now);
            break;
          }
        }
      }
      if (rtp.payload.length === 0) return; // padding-only bandwidth probe
    }
    track.layerSeenAt[layer] = now;
    if (track.codec === 'VP8' && track.layerSsrcs.length > 1 && (rtp.payload[0]! & 0x10) !== 0) {
      const size = vp8KeyframeSize(rtp.payload);
      if (size) track.layerHeights[layer] = size.height;
    }
    track.layerPackets[layer] = (track.layerPackets[layer] ?? 0) + 1;
    track.layerBytes[layer] = (track.layerBytes[layer] ?? 0) + rtp.payload.length;
    // The publisher's header extensions use its own ids; the sender writes ours.
    rtp.header.extensions = [];
    for (const forwarder of track.forwarders.values()) forwarder.forward(layer, rtp);
  }
}
