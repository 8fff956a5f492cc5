// The media router of one room: packets from each publisher's transport are matched to a
// published track (by SSRC, as the publisher's offer declared them) and handed to that track's
// forwarders, one per subscriber. Never decodes or transcodes. Data-track messages are relayed
// between data channels the same way.
//
// Simulcast layer choice runs on a timer (ALLOCATION_INTERVAL_MS), never per packet: each layer's
// bitrate is measured over a rolling 1 s window and smoothed, layers are ranked (by picture
// height where heights differ, else by that bitrate), and per
// subscriber a downlink estimate (downlink-estimator.ts) and its bandwidth profile, render hints,
// track priorities and the dominant speaker decide one layer per track, or a switch-off
// (layer-allocator.ts). Switch-offs and switch-ons are told to the subscriber (onSwitchOff).
import type { RTCDataChannel, RTCRtpTransceiver, RtpPacket } from 'werift';
import type { PeerTransport } from './peer-transport.js';
import type { OfferedSection } from './sdp-tracks.js';
import { Forwarder } from './forwarder.js';
import { NackGenerator } from './rtcp/nack-generator.js';
import { SpeakerDetector } from './speaker-detector.js';
import { vp8KeyframeSize } from './keyframes.js';
import { DownlinkEstimator } from './downlink-estimator.js';
import { allocate, DEFAULT_PROFILE, isPriority, rankLayers, type AllocTrack, type Priority, type SubscriberProfile } from './layer-allocator.js';
import { ALL_TEMPORAL_LAYERS } from './temporal-layers.js';
import { LayerSuspensions } from './layer-suspension.js';
import { nextPlayoutDelay, playoutDelayFor } from './playout-delay.js';
import { FRAME_RATE_WINDOW_MS, starvedLayers } from './layer-frame-rate.js';

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
  /** When each layer last delivered a new packet, not a repair (ms) ... */
  layerSeenAt: number[];
  /** ... and when it last started delivering after a pause of LAYER_STOPPED_MS or more (ms). */
  layerStartedAt: number[];
  /** Packets received per layer (for stats and benchmarks). */
  layerPackets: number[];
  /** Coded picture height of each layer, read from its keyframes (VP8). */
  layerHeights: number[];
  /** Payload bytes received per layer (bitrates are measured from these). */
  layerBytes: number[];
  /** Frames completed per layer (packets with the marker bit, not repairs): see layer-frame-rate.ts. */
  layerFrames: number[];
  /** Smoothed bitrate per layer (bps, payload), over rolling 1 s windows. */
  layerBitrates: number[];
  /** Flowing layers ranked by bitrate, lowest first (what "low" and "high" mean for this track). */
  layerOrder: number[];
  /** Byte and frame counters at the last few allocation ticks (the rolling window). */
  rateWindow: { at: number; bytes: number[]; frames: number[] }[];
  /** Recent peak of each layer's bitrate (slowly decaying): tells a layer the publisher is dropping. */
  layerPeaks: number[];
  /** A layer the publisher stopped by itself is no choice again before this time (ms): see LAYER_SETTLE_MS. */
  layerSettlesAt: number[];
  /** Layers the publisher kept dropping by itself, hinted off for a while (layer-suspension.ts). */
  suspensions: LayerSuspensions;
  /** When the per-packet path last looked for a stopped layer (ms): see dropStoppedLayer. */
  stopCheckedAt: number;
  /** The publisher's priority for this track (publish-time `priority`). */
  priority: Priority;
  /** Publisher hints: layers we asked the publisher to stop encoding (nobody receives them). */
  hintedOff: boolean[];
  /** When each layer's hint last changed, and when a subscriber last used it (ms). */
  hintChangedAt: number[];
  layerUsedAt: number[];
  /** The publisher could not apply a hint for this track: no more hints for it. */
  hintsFailed: boolean;
  forwarders: Map<string, Forwarder>;
  /** Data tracks: the publisher's channel and the subscribers' channels. */
  dataChannel: RTCDataChannel | null;
  dataSubscribers: Map<string, RTCDataChannel>;
  lastKeyframeRequest: number;
  /** Packets given up on (the publisher never resent them) while a subscriber was on their layer. */
  abandonedPackets: number;
  keyframeTimer: NodeJS.Timeout | null;
  /** Layers to ask a keyframe for at the next request (-1 = all). */
  keyframeLayers: Set<number>;
  codec: 'VP8' | 'H264' | 'opus';
}

interface PeerState {
  transport: PeerTransport;
  routes: Map<number, SsrcRoute>;
  nack: NackGenerator;
  /** How much we may send this participant (as a subscriber). */
  downlink: DownlinkEstimator;
  profile: SubscriberProfile;
  /** Last allocation round, for stats and tests. */
  last: { estimate: number; budget: number; used: number; audio: number } | null;
  /** As a publisher: it negotiated publisher_hints (adaptive simulcast). */
  publisherHints: boolean;
  /** As a subscriber: its downlink counts as lossy until then (ms); see playoutDelay. */
  lossyUntil: number;
  /** As a publisher: its uplink counts as lossy until then (ms); see playoutDelay. */
  uplinkLossyUntil: number;
  /** As a subscriber: when its downlink last had a queue (ms); see temporalTarget. */
  queueSeenAt: number;
}

const NACK_INTERVAL_MS = 20;
const SPEAKER_DECISION_MS = 200;
/** How often layer bitrates are measured and layers allocated. */
export const ALLOCATION_INTERVAL_MS = 250;
/** A subscriber's downlink (or a publisher's uplink) with at least this loss (per loss window) is lossy ... */
const LOSSY_LINK = 0.02;
/** ... and stays so this long after (ms). */
const LOSSY_HOLD_MS = 10_000;
/** Bitrates are measured over this rolling window ... */
const RATE_WINDOW_MS = 1000;
/** ... and smoothed with this time constant. */
const RATE_SMOOTHING_MS = 1000;
/** A layer that has sent nothing for this long is considered stopped ... */
const LAYER_STALE_MS = 1500;
/**
 * ... or for this long while a lower layer of the track still flows (seen within
 * OTHER_LAYER_FLOWING_MS): the publisher dropped it (its uplink estimate or its CPU drop layers
 * from the top), and the subscribers on it see a frozen picture until they are moved to a layer
 * that still comes. Only a lower layer is a witness: while a higher layer's keyframe burst fills
 * a narrow uplink, the lower layers' packets wait in the publisher's pacer for hundreds of ms,
 * and reading that as "stopped" moved every viewer onto the one layer about to be dropped.
 */
const LAYER_STOPPED_MS = 300;
/** The per-packet path looks for a stopped layer at most this often per track. */
const STOP_CHECK_MS = 50;
/**
 * A layer the publisher stopped by itself must then flow this long before it is a choice again:
 * on a lossy or narrow uplink the publisher's estimate hovers around what its top layer needs and
 * the layer comes and goes every few seconds; moving subscribers onto it each time froze their
 * picture each time it went.
 */
const LAYER_SETTLE_MS = 4000;
const OTHER_LAYER_FLOWING_MS = 200;
/**
 * Temporal thinning (temporalTarget) starts with a queue this long (ms) toward the subscriber (a
 * path whose delay grew by less, as when a link turns long, is not taken for a full one) ...
 */
const THIN_START_QUEUE_MS = 200;
/** ... and ends when the lowest layer fits this many times over, or when the queue stayed under ... */
const THIN_END_SHARE = 1.1;
const THIN_CLEAR_QUEUE_MS = 30;
/** ... for this long (ms): an estimate held low by random loss must not keep the frame rate down. */
const THIN_CLEAR_MS = 5000;
/** Half the frame rate (temporal layers 0 and 1) carries about this share of the bits; less than that fitting, a quarter. */
const HALF_RATE_SHARE = 0.6;
/** Audio is budgeted at least this much per track (bps), before video. */
const AUDIO_RESERVE_BPS = 40_000;
/** Publisher hints: a layer nobody has used for this long is switched off at the publisher ... */
const UNUSED_LAYER_OFF_MS = 3000;
/** Per allocation round, a layer's remembered peak bitrate decays by this factor (half-life ~8 s) ... */
const PEAK_DECAY = 0.98;
/** ... and a layer below this share of it is fading (the publisher is dropping it). */
const FADING_SHARE = 0.3;
/** After a publisher hint, the layers still forwarded get a keyframe this much later. */
const HINT_KEYFRAME_DELAY_MS = 500;
/** ... and one switched back on counts as available this long before it must be flowing. */
const LAYER_RESTART_MS = 3000;

/** Keyframe requests to one publisher's track are sent at most this often. */
const KEYFRAME_REQUEST_INTERVAL_MS = 300;

export class SfuRoom {
  private readonly peers = new Map<string, PeerState>();
  private readonly tracks = new Map<string, PublishedMedia>();

  private readonly nackTimer: NodeJS.Timeout;
  private readonly speakerTimer: NodeJS.Timeout;
  private readonly allocationTimer: NodeJS.Timeout;
  private readonly speakers = new SpeakerDetector();
  /** Called when the dominant speaker changes (participant SID). */
  onDominantSpeaker: (participantSid: string) => void = () => {};
  /** Tracks (by SID) switched off and back on for one subscriber, to tell it (track_switch_off). */
  onSwitchOff: (subscriberSid: string, off: string[], on: string[]) => void = () => {};
  /** Publisher hints: which simulcast layers (encodings) of one of its tracks a publisher should send. */
  onPublisherHints: (publisherSid: string, trackSid: string, encodings: { enabled: boolean; layer_index: number }[]) => void = () => {};

  constructor(private readonly videoCodec: 'VP8' | 'H264') {
    this.nackTimer = setInterval(() => this.sendNacks(), NACK_INTERVAL_MS);
    this.speakerTimer = setInterval(() => {
      const changed = this.speakers.decide(Date.now());
      if (changed) {
        this.onDominantSpeaker(changed);
        this.allocateAll(false); // the new speaker's video is raised at once
      }
    }, SPEAKER_DECISION_MS);
    this.allocationTimer = setInterval(() => this.allocateAll(), ALLOCATION_INTERVAL_MS);
  }

  get dominantSpeaker(): string | null {
    return this.speakers.current;
  }

  addPeer(participantSid: string, transport: PeerTransport): void {
    const downlink = new DownlinkEstimator();
    const state: PeerState = { transport, routes: new Map(), nack: new NackGenerator(), downlink, profile: DEFAULT_PROFILE, last: null, publisherHints: false, lossyUntil: 0, uplinkLossyUntil: 0, queueSeenAt: 0 };
    transport.downlink = downlink;
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
      layerStartedAt: [],
      layerPackets: [],
      layerHeights: [],
      layerBytes: [],
      layerFrames: [],
      layerBitrates: [],
      layerOrder: [],
      rateWindow: [],
      layerPeaks: [],
      layerSettlesAt: [],
      suspensions: new LayerSuspensions(),
      stopCheckedAt: 0,
      priority: 'standard',
      hintedOff: [],
      hintChangedAt: [],
      layerUsedAt: [],
      hintsFailed: false,
      forwarders: new Map(),
      dataChannel: null,
      dataSubscribers: new Map(),
      lastKeyframeRequest: 0,
      abandonedPackets: 0,
      keyframeTimer: null,
      keyframeLayers: new Set(),
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
      const same = track.layerSsrcs.length === section.layerSsrcs.length && track.layerSsrcs.every((ssrc, i) => ssrc === section.layerSsrcs[i]);
      if (!same) {
        // New streams (a renegotiation that kept them keeps the counters and rates).
        const now = Date.now();
        track.hintedOff = section.layerSsrcs.map(() => false);
        track.hintChangedAt = section.layerSsrcs.map(() => now);
        track.layerUsedAt = section.layerSsrcs.map(() => now);
        track.layerSsrcs = section.layerSsrcs;
        track.layerSeenAt = section.layerSsrcs.map(() => 0);
        track.layerStartedAt = section.layerSsrcs.map(() => 0);
        track.layerSettlesAt = section.layerSsrcs.map(() => 0);
        track.suspensions.clear();
        track.layerPackets = section.layerSsrcs.map(() => 0);
        track.layerBytes = section.layerSsrcs.map(() => 0);
        track.layerFrames = section.layerSsrcs.map(() => 0);
        track.layerBitrates = section.layerSsrcs.map(() => 0);
        track.layerOrder = [];
        track.rateWindow = [];
        track.layerPeaks = section.layerSsrcs.map(() => 0);
      }
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
    const forwarder = new Forwarder(
      track,
      peer.transport,
      transceiver,
      (layer) => this.requestKeyframe(track, layer),
      (layer) => {
        const ssrc = track.layerSsrcs[layer];
        return ssrc === undefined ? undefined : this.peers.get(track.publisherSid)?.transport.senderClocks.get(ssrc);
      },
    );
    track.forwarders.set(subscriberSid, forwarder);
    if (track.kind === 'video') this.allocateFor(subscriberSid, peer, Date.now()); // a first target at once
  }

  /** What a subscriber's render hints say about one track: shown or not, and how tall. */
  setRenderHint(trackSid: string, subscriberSid: string, hint: { enabled?: boolean; height?: number }): void {
    const forwarder = this.tracks.get(trackSid)?.forwarders.get(subscriberSid);
    const peer = this.peers.get(subscriberSid);
    if (!forwarder || !peer) return;
    forwarder.setRenderHint(hint);
    this.allocateFor(subscriberSid, peer, Date.now());
  }

  /** The subscriber's bandwidth profile (from its connect message). */
  setSubscriberProfile(subscriberSid: string, profile: SubscriberProfile): void {
    const peer = this.peers.get(subscriberSid);
    if (peer) peer.profile = profile;
  }

  /** The publisher's priority for one of its tracks. */
  setPublishPriority(trackSid: string, priority: string): void {
    const track = this.tracks.get(trackSid);
    if (track && isPriority(priority)) track.priority = priority;
  }

  /** Whether a publisher negotiated publisher_hints (twilio-video's adaptive simulcast). */
  setPublisherHints(publisherSid: string, enabled: boolean): void {
    const peer = this.peers.get(publisherSid);
    if (peer) peer.publisherHints = enabled;
  }

  /** The publisher's answer to a hint: anything but OK stops hints for that track (all layers on again). */
  publisherHintResult(trackSid: string, ok: boolean): void {
    const track = this.tracks.get(trackSid);
    if (!track || ok) return;
    track.hintsFailed = true;
    track.hintedOff = track.hintedOff.map(() => false);
  }

  /** The publisher replaced the track's source: its encodings are back to its defaults. */
  publisherTrackReset(trackSid: string): void {
    const track = this.tracks.get(trackSid);
    if (!track) return;
    const now = Date.now();
    track.hintedOff = track.hintedOff.map(() => false);
    track.hintChangedAt = track.hintChangedAt.map(() => now);
    track.layerUsedAt = track.layerUsedAt.map(() => now);
  }

  /** A subscriber's own priority for a track it receives (RemoteVideoTrack.setPriority; null clears it). */
  setSubscriberPriority(trackSid: string, subscriberSid: string, priority: string | null): void {
    const forwarder = this.tracks.get(trackSid)?.forwarders.get(subscriberSid);
    if (forwarder) forwarder.subscriberPriority = isPriority(priority) ? priority : null;
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
   * Asks the publisher for a keyframe of one layer (or all), at most once per interval per track;
   * a request inside the interval is deferred to its end rather than dropped (a subscriber that
   * just became ready must not wait), together with any other layers asked for meanwhile.
   */
  requestKeyframe(track: PublishedMedia, layer?: number): void {
    if (track.kind !== 'video') return;
    if (layer === undefined || layer < 0 || layer >= track.layerSsrcs.length) track.keyframeLayers.add(-1);
    else track.keyframeLayers.add(layer);
    const now = Date.now();
    const wait = track.lastKeyframeRequest + KEYFRAME_REQUEST_INTERVAL_MS - now;
    if (wait > 0) {
      if (!track.keyframeTimer) {
        track.keyframeTimer = setTimeout(() => {
          track.keyframeTimer = null;
          if (this.tracks.get(track.sid) === track && track.keyframeLayers.size > 0) this.requestKeyframe(track, [...track.keyframeLayers][0]);
        }, wait);
      }
      return;
    }
    track.lastKeyframeRequest = now;
    const layers = track.keyframeLayers.has(-1) ? track.layerSsrcs.map((_, i) => i) : [...track.keyframeLayers];
    track.keyframeLayers.clear();
    const publisher = this.peers.get(track.publisherSid);
    if (!publisher) return;
    for (const l of layers) {
      const ssrc = track.layerSsrcs[l];
      if (ssrc !== undefined) publisher.transport.requestKeyframe(ssrc);
    }
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
      layerBitrates: t.layerBitrates.map(Math.round),
      layerOrder: t.layerOrder,
      /** What the allocation charges for each ranked layer (bps, payload). */
      layerCosts: layerCosts(t).map(Math.round),
      hintedOff: t.hintedOff,
      priority: t.priority,
      abandonedPackets: t.abandonedPackets,
      forwarders: [...t.forwarders].map(([sub, f]) => ({ subscriber: sub, ...f.stats() })),
    }));
  }

  /** Per subscriber: the downlink estimate and the last allocation's budget. */
  subscriberStats() {
    return [...this.peers].map(([sid, p]) => ({
      subscriber: sid,
      ...p.downlink.stats(),
      roundTripMs: p.transport.roundTripMs,
      budget: p.last ? Math.round(p.last.budget) : null,
      allocated: p.last ? Math.round(p.last.used) : null,
      audioReserve: p.last ? Math.round(p.last.audio) : null,
      maxSubscriptionBitrate: p.profile.maxSubscriptionBitrate,
      mode: p.profile.mode,
    }));
  }

  close(): void {
    clearInterval(this.nackTimer);
    clearInterval(this.speakerTimer);
    clearInterval(this.allocationTimer);
    for (const sid of [...this.peers.keys()]) this.removePeer(sid);
  }

  // ---------------------------------------------------------------- layer allocation (timer)

  /** The timer's round (`tick`): measure layers, run the estimators, allocate, hint publishers. */
  private allocateAll(tick = true): void {
    const now = Date.now();
    if (tick) for (const track of this.tracks.values()) if (track.kind !== 'data') this.measureLayers(track, now);
    const perf = tick ? performance.now() : undefined;
    for (const [sid, peer] of this.peers) this.allocateFor(sid, peer, now, perf);
    for (const track of this.tracks.values()) this.publisherHints(track, now);
    if (tick) {
      for (const peer of this.peers.values()) {
        const loss = peer.nack.lossSinceLastCall();
        if (loss !== null && loss >= LOSSY_LINK) peer.uplinkLossyUntil = now + LOSSY_HOLD_MS;
      }
      for (const track of this.tracks.values()) this.playoutDelay(track, now);
    }
  }

  /**
   * A far publisher's lost packets are resent a round trip later; a subscriber near us would play
   * the frame before the repair arrives and freeze. Its video then asks subscribers to hold frames
   * about that long (the playout-delay header extension), and no longer once the publisher is near.
   * The same holds for a far subscriber on a lossy downlink: what we resend to it arrives a round
   * trip late, so its own video is asked to wait about its round trip. On a lossy link (kept
   * LOSSY_HOLD_MS after the loss was last seen, so the delay does not come and go with each loss
   * window) the wait covers two repairs: with 5 % loss each way, about one repair in ten is lost
   * itself (the NACK or the resent packet), and each such loss froze the picture for a round trip.
   */
  private playoutDelay(track: PublishedMedia, now: number): void {
    if (track.kind !== 'video') return;
    const publisher = this.peers.get(track.publisherSid);
    // Its repairs show a longer round trip first (reports take a second or two to follow).
    const publisherRtt = publisher ? maxKnown(pathRoundTrip(publisher), publisher.nack.repairRoundTripMs(now)) : null;
    const fromPublisher = publisher ? playoutDelayFor(publisherRtt, now < publisher.uplinkLossyUntil) : 0;
    for (const [subscriberSid, f] of track.forwarders) {
      const sub = this.peers.get(subscriberSid);
      let own = 0;
      if (sub) {
        if ((sub.downlink.stats().loss ?? 0) >= LOSSY_LINK) sub.lossyUntil = now + LOSSY_HOLD_MS;
        if (now < sub.lossyUntil) own = playoutDelayFor(pathRoundTrip(sub), true);
      }
      // In steps: Chromium applies a new minimum at once, and a big step is a freeze.
      f.playoutDelayMs = nextPlayoutDelay(f.playoutDelayMs, Math.max(fromPublisher, own));
    }
  }

  /**
   * Adaptive simulcast: a layer no subscriber receives or is about to receive is switched off at
   * the publisher after UNUSED_LAYER_OFF_MS, and back on as soon as one wants it. The
   * lowest-bitrate layer always stays on (a new subscriber starts at once). Off layers keep their
   * last measured bitrate, so the allocation can still choose them.
   */
  private publisherHints(track: PublishedMedia, now: number): void {
    if (track.kind !== 'video' || track.layerSsrcs.length < 2 || track.hintsFailed) return;
    if (!this.peers.get(track.publisherSid)?.publisherHints || track.layerOrder.length === 0) return;
    const used = new Set<number>([track.layerOrder[0]!]);
    for (const f of track.forwarders.values()) {
      if (f.switchedOff) continue;
      for (const l of [f.currentLayer, f.target, f.desired]) if (l >= 0) used.add(l);
    }
    let changed = false;
    for (let i = 0; i < track.layerSsrcs.length; i++) {
      if (used.has(i)) track.layerUsedAt[i] = now;
      // Only a layer that is flowing normally is switched off (its bitrate is kept as the price
      // of choosing it again): a fading one is the publisher's own doing and is left alone.
      const healthy = track.layerOrder.includes(i) && (track.layerBitrates[i] ?? 0) > 0;
      const unused = !used.has(i) && now - (track.layerUsedAt[i] ?? now) >= UNUSED_LAYER_OFF_MS && (track.hintedOff[i] || healthy);
      const off = unused || (track.suspensions.suspended(i, now) && i !== track.layerOrder[0]);
      if (off !== (track.hintedOff[i] ?? false)) {
        if (off) track.layerBitrates[i] = Math.max(track.layerBitrates[i] ?? 0, track.layerPeaks[i] ?? 0);
        track.hintedOff[i] = off;
        track.hintChangedAt[i] = now;
        changed = true;
      }
    }
    if (!changed) return;
    this.onPublisherHints(track.publisherSid, track.sid, track.hintedOff.map((off, i) => ({ enabled: !off, layer_index: i })));
    this.refreshAfterReconfiguration(track);
  }

  /**
   * The publisher stopped a layer by itself while a lower one still flows (its uplink estimate
   * fell below what the layer needs): the layer must flow LAYER_SETTLE_MS again before it is a
   * choice, and where the publisher takes hints a layer that keeps dropping is also suspended
   * (layer-suspension.ts), so the publisher stops trying it every few seconds. publisherHints
   * sends the hint.
   */
  private publisherDroppedLayer(track: PublishedMedia, layer: number, now: number): void {
    // Called again at every tick while the layer stays down.
    track.layerSettlesAt[layer] = now + LAYER_SETTLE_MS;
    if (!track.hintsFailed && this.peers.get(track.publisherSid)?.publisherHints) track.suspensions.down(layer, now);
  }

  /**
   * The publisher re-configures its encoder when its set of layers changes (our hint, or its own
   * CPU or bandwidth adaptation); subscribers have been seen to stop decoding the layers that
   * stayed on until their next keyframe, so ask for one once the change has been applied.
   */
  private refreshAfterReconfiguration(track: PublishedMedia): void {
    const sid = track.sid;
    setTimeout(() => {
      const t = this.tracks.get(sid);
      if (!t) return;
      const forwarded = new Set<number>();
      for (const f of t.forwarders.values()) if (!f.switchedOff && f.currentLayer >= 0) forwarded.add(f.currentLayer);
      for (const l of forwarded) this.requestKeyframe(t, l);
    }, HINT_KEYFRAME_DELAY_MS).unref();
  }

  /** Layer bitrates over the rolling window, smoothed, and the layers ranked by them. */
  private measureLayers(track: PublishedMedia, now: number): void {
    const w = track.rateWindow;
    w.push({ at: now, bytes: [...track.layerBytes], frames: [...track.layerFrames] });
    while (w.length > 2 && now - w[1]!.at >= RATE_WINDOW_MS) w.shift();
    const first = w[0]!;
    const dt = now - first.at;
    if (dt <= 0) return;
    const alpha = Math.min(1, ALLOCATION_INTERVAL_MS / RATE_SMOOTHING_MS);
    let frameRef: (typeof w)[number] | undefined;
    for (const e of w) if (now - e.at >= FRAME_RATE_WINDOW_MS) frameRef = e;
    const starved = frameRef ? starvedLayers(track.layerFrames, frameRef.frames) : [];
    const flowing: boolean[] = [];
    for (let i = 0; i < track.layerBytes.length; i++) {
      const old = track.layerBitrates[i] ?? 0;
      if (track.hintedOff[i]) {
        // Stopped by our hint: still a choice, at its last bitrate, unless it is suspended.
        flowing.push(old > 0 && !track.suspensions.suspended(i, now));
        continue;
      }
      const rate = Math.max(0, (((track.layerBytes[i] ?? 0) - (first.bytes[i] ?? 0)) * 8 * 1000) / dt);
      const restarting = now - (track.hintChangedAt[i] ?? 0) < LAYER_RESTART_MS;
      const lowerFlowing = lowerLayerFlowing(track, i, now);
      const seen = now - (track.layerSeenAt[i] ?? 0) < (lowerFlowing ? LAYER_STOPPED_MS : LAYER_STALE_MS);
      // A layer switched back on keeps its old bitrate until it has a window of its own again.
      if (!(restarting && !seen)) track.layerBitrates[i] = old === 0 ? rate : old + (rate - old) * alpha;
      const smoothed = track.layerBitrates[i]!;
      const peak = Math.max(smoothed, (track.layerPeaks[i] ?? 0) * PEAK_DECAY);
      track.layerPeaks[i] = peak;
      // A layer the publisher itself is winding down (its encoder or its uplink estimate) is no
      // choice: it would rank as the cheapest and never deliver.
      const fading = !restarting && smoothed < FADING_SHARE * peak;
      // Nor is one whose encoder drops most of its frames while a lower layer keeps its rate
      // (judged only over a window in which it was already coming: a layer starting up is not).
      const starving = frameRef !== undefined && !!starved[i] && !restarting && (track.layerStartedAt[i] ?? 0) <= frameRef.at;
      const delivering = (seen || (restarting && old > 0)) && !fading && !starving;
      if (delivering) track.suspensions.up(i);
      // (Only a layer that was a choice before: one that has not started yet is not held back.)
      const wasChoice = track.layerOrder.includes(i) || (track.layerSettlesAt[i] ?? 0) > 0;
      if (!delivering && lowerFlowing && !restarting && wasChoice) this.publisherDroppedLayer(track, i, now);
      flowing.push(delivering && now >= (track.layerSettlesAt[i] ?? 0));
    }
    const before = track.layerOrder;
    track.layerOrder = rankLayers(before, track.layerBitrates, flowing, track.layerHeights);
    // The publisher started or stopped a layer by itself (ours are in hintChangedAt): a reconfiguration.
    const set = (o: number[]) => [...o].sort().join();
    if (before.length > 0 && set(before) !== set(track.layerOrder) && track.hintChangedAt.every((t) => now - t > LAYER_RESTART_MS)) this.refreshAfterReconfiguration(track);
  }

  /**
   * One subscriber: its budget, then a layer (or off) for each video track it receives. `perf`
   * (the timer's rounds only) also runs the downlink estimator's controller.
   */
  private allocateFor(subscriberSid: string, peer: PeerState, now: number, perf?: number): void {
    const video: { track: PublishedMedia; f: Forwarder }[] = [];
    let audio = 0;
    let demand = 0;
    for (const track of this.tracks.values()) {
      const f = track.forwarders.get(subscriberSid);
      if (!f) continue;
      if (track.kind === 'audio') {
        audio += Math.max(AUDIO_RESERVE_BPS, (track.layerBitrates[0] ?? 0) * 1.1);
        continue;
      }
      if (track.kind !== 'video') continue;
      video.push({ track, f });
      const top = track.layerOrder[track.layerOrder.length - 1];
      if (top !== undefined) demand += track.layerBitrates[top]!;
    }
    const estimate = perf === undefined ? peer.downlink.value : peer.downlink.update(perf, Math.max(2 * (demand + audio), 1_000_000));
    if (video.length === 0) return;
    const cap = peer.profile.maxSubscriptionBitrate;
    const budget = Math.min(estimate, cap ?? Infinity) - audio;
    const dominant = this.speakers.current;
    const inputs: AllocTrack[] = [];
    const shown = video.filter(({ f }) => !f.hiddenBySubscriber);
    for (const { track, f } of shown) {
      const heights = track.layerOrder.map((l) => track.layerHeights[l] ?? 0);
      const topHeight = Math.max(0, ...heights);
      inputs.push({
        id: track.sid,
        bitrates: layerCosts(track),
        ...(topHeight > 0 ? { topHeight } : {}),
        priority: isPriority(f.subscriberPriority) ? f.subscriberPriority : track.priority,
        dominant: dominant !== null && track.publisherSid === dominant,
        renderHeight: f.height,
      });
    }
    // Until the estimate has met congestion it is a guess on the low side: it picks layers but
    // switches nothing off (an explicit maxSubscriptionBitrate below it still does).
    const guessing = peer.downlink.startingUp && (cap === null || estimate < cap);
    const result = allocate(inputs, budget, guessing ? { ...peer.profile, switchOff: false } : peer.profile);
    const congested = peer.downlink.congestedWithin(perf ?? performance.now(), 1000);
    if (peer.downlink.queueDelayMs >= THIN_CLEAR_QUEUE_MS) peer.queueSeenAt = now;
    peer.last = { estimate, budget, used: result.used, audio };
    for (const { track, f } of shown) {
      const a = result.tracks.get(track.sid);
      if (!a || track.layerOrder.length === 0) continue; // nothing flowing: leave it be
      if (a.rank < 0) {
        if (!f.switchedOff) f.switchOffForBudget();
        else f.keepOff();
        continue;
      }
      const layer = track.layerOrder[a.rank]!;
      const current = f.target;
      const currentRank = track.layerOrder.indexOf(current);
      // The current target stopped (or none yet): switch at once, whatever the direction.
      const immediate = currentRank < 0;
      f.setTarget(layer, !immediate && a.rank > currentRank, now, immediate, congested, peer.downlink.queueDelayMs);
      if (track.codec === 'VP8') f.setTemporalTarget(temporalTarget(f.temporalTarget, a, result.used - Math.max(0, budget), peer.downlink.queueDelayMs, now - peer.queueSeenAt));
    }
    this.announceSwitchOff(subscriberSid, video);
  }

  private announceSwitchOff(subscriberSid: string, video: { track: PublishedMedia; f: Forwarder }[]): void {
    const off: string[] = [];
    const on: string[] = [];
    for (const { track, f } of video) {
      if (f.switchedOff === f.announcedOff) continue;
      f.announcedOff = f.switchedOff;
      (f.switchedOff ? off : on).push(track.sid);
    }
    if (off.length || on.length) this.onSwitchOff(subscriberSid, off, on);
  }

  /**
   * Between allocation ticks: a layer in use that the publisher stopped (nothing for
   * LAYER_STOPPED_MS while a lower layer flows) leaves the ranking at once and the
   * subscribers on it are moved, rather than at the next tick (up to ALLOCATION_INTERVAL_MS of
   * frozen picture more). The next tick's measureLayers applies the same rule.
   */
  private dropStoppedLayer(track: PublishedMedia, now: number): void {
    track.stopCheckedAt = now;
    const stopped = track.layerOrder.filter((l) => !track.hintedOff[l] && now - (track.layerSeenAt[l] ?? 0) >= LAYER_STOPPED_MS && now - (track.hintChangedAt[l] ?? 0) >= LAYER_RESTART_MS && lowerLayerFlowing(track, l, now));
    if (stopped.length === 0 || stopped.length === track.layerOrder.length) return;
    for (const l of stopped) this.publisherDroppedLayer(track, l, now);
    track.layerOrder = track.layerOrder.filter((l) => !stopped.includes(l));
    this.allocateAll(false);
    // The publisher re-configured its encoder by itself (as measureLayers would say at the tick).
    if (track.hintChangedAt.every((t) => now - t > LAYER_RESTART_MS)) this.refreshAfterReconfiguration(track);
  }

  /** Scratch set for sendNacks (it runs every NACK_INTERVAL_MS). */
  private readonly abandonedSsrcs = new Set<number>();

  /**
   * NACKs to publishers. A packet the publisher could not deliver in time leaves its layer
   * undecodable until the next keyframe; Chromium on the subscriber side asks for one only after
   * 3 s without a decodable frame, so the keyframe is asked for here, at once, if someone is
   * watching that layer.
   */
  private sendNacks(): void {
    const now = Date.now();
    const abandoned = this.abandonedSsrcs;
    for (const peer of this.peers.values()) {
      for (const [ssrc, lost] of peer.nack.due(now, peer.transport.roundTripMs, abandoned)) peer.transport.sendNack(ssrc, lost);
      for (const ssrc of abandoned) {
        const route = peer.routes.get(ssrc);
        if (!route || route.rtx) continue;
        const { track, layer } = route;
        if ([...track.forwarders.values()].some((f) => f.currentLayer === layer && !f.switchedOff)) {
          track.abandonedPackets++;
          this.requestKeyframe(track, layer);
        }
      }
      abandoned.clear();
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
      if (!peer.nack.onPacket(rtp.header.ssrc, rtp.header.sequenceNumber, now)) return; // padding: an old packet again
    } else {
      if (track.kind === 'video') {
        if (!peer.nack.onPacket(rtp.header.ssrc, rtp.header.sequenceNumber, now)) return;
        if (!peer.transport.clientVideoFlowing) peer.transport.markClientVideo();
      } else if (track.kind === 'audio') {
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
    if (!route.rtx) {
      // A repair says nothing about whether the layer still comes: a layer the publisher stopped
      // has its last lost packets resent for up to a second after.
      if (now - (track.layerSeenAt[layer] ?? 0) >= LAYER_STOPPED_MS) track.layerStartedAt[layer] = now;
      track.layerSeenAt[layer] = now;
      if (rtp.header.marker) track.layerFrames[layer] = (track.layerFrames[layer] ?? 0) + 1;
    }
    if (track.layerOrder.length > 1 && now - track.stopCheckedAt >= STOP_CHECK_MS) this.dropStoppedLayer(track, now);
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

/**
 * The VP8 temporal layers to forward of a track on its lowest simulcast layer (the allocation keeps
 * one picture even when it does not fit): all of them while it fits; when it does not (`overflow`
 * bps over the budget) and the downlink has a queue to show for it, half or a quarter of the frame
 * rate, by the share that fits, until it fits again with a margin or the queue is long gone.
 * Without this the lowest layer and the audio could fill a narrow link on their own, and the
 * standing queue delayed every repair by its length (seconds of frozen picture at a 300 kbit/s
 * cap). Only a real queue starts it: on a link with random loss and no bottleneck the estimate is
 * low for other reasons.
 */
function temporalTarget(current: number, a: { rank: number; cost: number }, overflow: number, queueDelayMs: number, queueClearMs: number): number {
  if (a.rank !== 0 || a.cost <= 0) return ALL_TEMPORAL_LAYERS;
  const share = (a.cost - Math.max(0, overflow)) / a.cost;
  const thinning = current < ALL_TEMPORAL_LAYERS;
  if (thinning ? share >= THIN_END_SHARE || queueClearMs >= THIN_CLEAR_MS : share >= 1 || queueDelayMs < THIN_START_QUEUE_MS) return ALL_TEMPORAL_LAYERS;
  return share >= HALF_RATE_SHARE ? 1 : 0;
}

/** The larger of two values, either of which may be unknown. */
function maxKnown(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

/**
 * A participant's round trip as it is now (it follows a rise within a report or two), less the
 * queue our own sending built toward it (a congested downlink is no reason for a longer delay),
 * but never below the lowest of the last few seconds.
 */
function pathRoundTrip(peer: PeerState): number | null {
  const recent = peer.transport.recentRoundTripMs;
  const lowest = peer.transport.roundTripMs;
  if (recent === null || lowest === null) return null;
  return Math.max(lowest, recent - peer.downlink.queueDelayMs);
}

/**
 * What each ranked layer costs to forward: its bitrate, or its recent peak if higher (a layer the
 * publisher just started again ramps up from almost nothing), and never less than the layer
 * below it.
 */
function layerCosts(track: PublishedMedia): number[] {
  let floor = 0;
  return track.layerOrder.map((l) => (floor = Math.max(floor, track.layerBitrates[l] ?? 0, track.layerPeaks[l] ?? 0)));
}

/** Whether a layer below `layer` (layers are lowest first) delivered within OTHER_LAYER_FLOWING_MS. */
function lowerLayerFlowing(track: PublishedMedia, layer: number, now: number): boolean {
  for (let j = 0; j < layer; j++) if (now - (track.layerSeenAt[j] ?? 0) < OTHER_LAYER_FLOWING_MS) return true;
  return false;
}
