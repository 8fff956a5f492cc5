// twilio-video's media-signaling channels (MSP): JSON over data channels that the server creates
// with labels it announces in `connected`. Here: active speaker (dominant speaker events),
// network quality (levels from the client's own reports), render hints and track priority (both
// passed to the SFU's layer choice), track switch-off, publisher hints (adaptive simulcast: which
// layers a publisher encodes). See docs/twilio-signaling-protocol.md §5.
import type { RTCDataChannel } from 'werift';
import type { PeerTransport } from '../../media/peer-transport.js';
import { NetworkQualityScorer, networkQualityPayload, readUplinkCounters, type NqInputs, type NqResult } from '../../media/network-quality.js';
import { DEFAULT_PROFILE, isPriority, type BandwidthMode, type SubscriberProfile } from '../../media/layer-allocator.js';

const SUPPORTED = ['active_speaker', 'network_quality', 'render_hints', 'track_priority', 'track_switch_off', 'publisher_hints'] as const;
type Channel = (typeof SUPPORTED)[number];

export interface RenderHint {
  enabled?: boolean;
  height?: number;
}

export interface MediaSignalingRoom {
  /** The current dominant speaker's participant SID, if any. */
  dominantSpeaker(): string | null;
  /** Network quality of the others in the room (for `remotes`). */
  remoteQualities(except: string): { sid: string; result: NqResult }[];
}

export class MediaSignaling {
  private readonly requested: Set<Channel>;
  private readonly channels = new Map<Channel, RTCDataChannel>();
  readonly trackPriorities = new Map<string, string | null>();
  quality: NqResult | null = null;
  private readonly scorer = new NetworkQualityScorer();
  private transport: PeerTransport | null = null;
  /** The subscriber's render hint for one of its remote tracks (by track SID). */
  onRenderHint: (trackSid: string, hint: RenderHint) => void = () => {};
  /** The subscriber's priority for one of its remote tracks (null: back to the publisher's). */
  onTrackPriority: (trackSid: string, priority: string | null) => void = () => {};
  /** The publisher's answer to one of our publisher hints (per track), and its track replacements. */
  onPublisherHintResult: (trackSid: string, ok: boolean) => void = () => {};
  onPublisherTrackReset: (trackSid: string) => void = () => {};
  private publisherHintId = 0;
  /** Tracks switched off for this subscriber now: said again when its channel becomes ready. */
  private readonly switchedOffTracks = new Set<string>();

  constructor(
    requested: unknown,
    private readonly participantSid: string,
    private readonly room: MediaSignalingRoom,
  ) {
    const keys = requested && typeof requested === 'object' && !Array.isArray(requested) ? Object.keys(requested) : [];
    this.requested = new Set(SUPPORTED.filter((c) => keys.includes(c)));
  }

  /** The `media_signaling` block of `connected`: channel → data-channel label. */
  announcement(): Record<string, { transport: { type: 'data-channel'; label: string } }> {
    return Object.fromEntries([...this.requested].map((c) => [c, { transport: { type: 'data-channel' as const, label: c } }]));
  }

  get wanted(): boolean {
    return this.requested.size > 0;
  }

  /** Whether the client asked for this channel. */
  has(channel: Channel): boolean {
    return this.requested.has(channel);
  }

  /** Creates our side of each channel (DCEP: the client learns them from `datachannel`). */
  open(transport: PeerTransport): void {
    this.transport = transport;
    for (const name of this.requested) {
      if (this.channels.has(name)) continue;
      const channel = transport.createDataChannel(name, { ordered: true });
      this.channels.set(name, channel);
      channel.onMessage.subscribe((data) => this.receive(name, data));
      // What was decided while the channel was still opening was dropped by send(): say it now.
      channel.stateChanged.subscribe((state) => {
        if (state === 'open') this.resendState(name);
      });
    }
  }

  /** Tells the client which of its remote tracks are switched off or back on (by track SID). */
  switchOff(off: string[], on: string[]): void {
    if (off.length === 0 && on.length === 0) return;
    for (const t of off) this.switchedOffTracks.add(t);
    for (const t of on) this.switchedOffTracks.delete(t);
    this.send('track_switch_off', { type: 'track_switch_off', ...(off.length ? { off } : {}), ...(on.length ? { on } : {}) });
  }

  /** Asks this publisher to switch simulcast layers (encodings) of one of its video tracks on or off. */
  publisherHints(trackSid: string, encodings: { enabled: boolean; layer_index: number }[]): void {
    this.send('publisher_hints', { type: 'publisher_hints', publisher: { id: ++this.publisherHintId, hints: [{ track: trackSid, encodings }] } });
  }

  activeSpeaker(participantSid: string | null): void {
    this.send('active_speaker', { type: 'active_speaker', participant: participantSid });
  }

  private receive(name: Channel, data: string | Buffer): void {
    let msg: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return;
      msg = parsed as Record<string, unknown>;
    } catch {
      return; // garbage on a media-signaling channel is ignored
    }
    if (msg.type === 'ready') {
      this.resendState(name);
      return;
    }
    if (name === 'network_quality' && msg.type === 'network_quality') this.networkQuality(msg as NqInputs);
    else if (name === 'render_hints' && msg.type === 'render_hints') this.renderHints(msg);
    else if (name === 'publisher_hints' && msg.type === 'publisher_hints' && Array.isArray(msg.hints)) {
      for (const h of msg.hints as { track?: unknown; result?: unknown }[]) if (h && typeof h.track === 'string') this.onPublisherHintResult(h.track, h.result === 'OK' || h.result === 'REQUEST_SKIPPED');
    } else if (name === 'publisher_hints' && msg.type === 'client_reset' && typeof msg.track === 'string') this.onPublisherTrackReset(msg.track);
    else if (name === 'track_priority' && msg.type === 'track_priority' && typeof msg.track === 'string') {
      const priority = typeof msg.subscribe === 'string' ? msg.subscribe : null;
      this.trackPriorities.set(msg.track, priority);
      this.onTrackPriority(msg.track, priority);
    }
  }

  /**
   * The state a channel carries, said again (when it opens, and when the client says it is
   * ready): the current dominant speaker, the tracks switched off. Decided before the channel was
   * open, it would otherwise never reach the client.
   */
  private resendState(name: Channel): void {
    if (name === 'active_speaker') {
      const current = this.room.dominantSpeaker();
      if (current) this.activeSpeaker(current);
    } else if (name === 'track_switch_off' && this.switchedOffTracks.size > 0) {
      this.send('track_switch_off', { type: 'track_switch_off', off: [...this.switchedOffTracks] });
    }
  }

  /** Every report gets a reply: the client paces its next report on it. */
  private networkQuality(inputs: NqInputs): void {
    // Completed with the server's own view of this participant's link (network-quality.ts).
    const downlink = (this.transport?.downlink as { stats?: () => { loss?: number | null } } | null | undefined)?.stats?.().loss ?? null;
    this.quality = this.scorer.score(inputs, readUplinkCounters(this.transport?.pc), downlink, Date.now());
    const local = Math.max(1, Math.min(3, Number(inputs.reportLevel) || 1));
    const remote = Math.max(0, Math.min(3, Number(inputs.remoteReportLevel) || 0));
    const reply: Record<string, unknown> = { type: 'network_quality', local: networkQualityPayload(this.quality, local) };
    if (remote > 0) {
      reply.remotes = this.room.remoteQualities(this.participantSid).map(({ sid, result }) => {
        const p = networkQualityPayload(result, remote);
        return typeof p === 'number' ? { sid, level: p } : { sid, ...p };
      });
    }
    this.send('network_quality', reply);
  }

  private renderHints(msg: Record<string, unknown>): void {
    const subscriber = msg.subscriber as { id?: unknown; hints?: unknown } | undefined;
    if (!subscriber || !Array.isArray(subscriber.hints)) return;
    const valid = subscriber.hints.filter((h): h is { track: string; enabled?: unknown; render_dimensions?: { height?: unknown } } => !!h && typeof (h as { track?: unknown }).track === 'string');
    for (const h of valid) {
      const hint: RenderHint = {};
      if (typeof h.enabled === 'boolean') hint.enabled = h.enabled;
      const height = h.render_dimensions?.height;
      if (typeof height === 'number' && Number.isFinite(height) && height > 0) hint.height = height;
      this.onRenderHint(h.track, hint);
    }
    const hints = valid.map((h) => ({ track: h.track, result: 'OK' }));
    this.send('render_hints', { type: 'render_hints', subscriber: { id: subscriber.id, hints } });
  }

  private send(name: Channel, message: unknown): void {
    const channel = this.channels.get(name);
    if (!channel || channel.readyState !== 'open') return;
    try {
      channel.send(JSON.stringify(message));
    } catch {
      // a closing channel is not worth failing the session over
    }
  }
}

/**
 * The SFU's view of a connect message's `bandwidth_profile` (the SDK maps
 * `bandwidthProfile.video` to `{mode, max_subscription_bandwidth, active_speaker_priority,
 * max_tracks, render_dimensions, track_switch_off}`, util/index.js). `switchOff`: whether the client
 * can be told about switch-offs (it negotiated track_switch_off).
 */
export function parseBandwidthProfile(raw: unknown, switchOff: boolean): SubscriberProfile {
  const obj = (v: unknown): Record<string, unknown> | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null);
  const video = obj(obj(raw)?.video);
  if (!video) return { ...DEFAULT_PROFILE, switchOff };
  const mode: BandwidthMode = video.mode === 'collaboration' || video.mode === 'presentation' ? video.mode : 'grid';
  const max = video.max_subscription_bandwidth;
  const dsp = video.active_speaker_priority;
  const maxTracks = video.max_tracks;
  const renderHeights: SubscriberProfile['renderHeights'] = {};
  const dims = obj(video.render_dimensions);
  for (const p of ['low', 'standard', 'high'] as const) {
    const h = obj(dims?.[p])?.height;
    if (typeof h === 'number' && Number.isFinite(h)) renderHeights[p] = Math.max(1, h); // 0 or less: the lowest layer
  }
  return {
    mode,
    maxSubscriptionBitrate: typeof max === 'number' && Number.isFinite(max) && max > 0 ? max : null,
    dominantSpeakerPriority: isPriority(dsp) ? dsp : null,
    maxTracks: typeof maxTracks === 'number' && Number.isFinite(maxTracks) && maxTracks > 0 ? Math.floor(maxTracks) : 0,
    renderHeights,
    switchOff,
  };
}
