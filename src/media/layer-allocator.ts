// Simulcast layer choice for one subscriber, as a pure function: the layers of each video track
// it receives (ranked by measured bitrate), what it asked for (render hints, priorities, the
// bandwidth profile), who is the dominant speaker, and a bitrate budget → one layer per track,
// or "switched off". SfuRoom runs it on a timer; the Forwarders switch at keyframes.
//
// Layers are ranked by what the server measures, never by SIM order: by picture height where the
// layers' heights differ (adaptive simulcast), else by bitrate (Chromium with twilio-video's
// SSRC-munged simulcast sends all layers at the capture size). See rankLayers.

export type Priority = 'low' | 'standard' | 'high';
export type BandwidthMode = 'grid' | 'collaboration' | 'presentation';

/** What the subscriber's bandwidth profile (connect's `bandwidth_profile.video`) asks for. */
export interface SubscriberProfile {
  mode: BandwidthMode;
  /** `maxSubscriptionBitrate`: caps the sum of what is forwarded to this subscriber (bps). */
  maxSubscriptionBitrate: number | null;
  /** `dominantSpeakerPriority`: the priority the dominant speaker's video gets (at least). */
  dominantSpeakerPriority: Priority | null;
  /** Deprecated `maxTracks`: at most this many video tracks are on (0 = no limit). */
  maxTracks: number;
  /** Deprecated `renderDimensions`: a render height per priority, used when no render hint says otherwise. */
  renderHeights: Partial<Record<Priority, number>>;
  /** The client negotiated track_switch_off: tracks may be switched off for lack of bandwidth. */
  switchOff: boolean;
}

export const DEFAULT_PROFILE: SubscriberProfile = {
  mode: 'grid',
  maxSubscriptionBitrate: null,
  dominantSpeakerPriority: null,
  maxTracks: 0,
  renderHeights: {},
  switchOff: false,
};

export interface AllocTrack {
  id: string;
  /** Bitrates (bps, payload) of the layers that are flowing, lowest first. */
  bitrates: number[];
  /** Picture height of the highest layer if known (maps render heights to layers); default 720. */
  topHeight?: number;
  /** Effective priority: the subscriber's (setPriority) if it set one, else the publisher's. */
  priority: Priority;
  /** Published by the dominant speaker. */
  dominant: boolean;
  /** Height the subscriber renders the track at (render hints); 0 = unknown. */
  renderHeight: number;
}

export interface TrackAllocation {
  /** Index into the track's `bitrates`; -1 = switched off (no bandwidth, or beyond maxTracks). */
  rank: number;
  /** The highest rank the render size asks for. */
  wanted: number;
  /** Bitrate charged to the budget (with packet overhead). */
  cost: number;
}

export interface Allocation {
  tracks: Map<string, TrackAllocation>;
  /** Sum of the chosen layers' costs. */
  used: number;
}

/** RTP/SRTP/UDP/IP headers on top of the payload bitrate the layers are measured by. */
export const PACKET_OVERHEAD = 1.08;

const PRIORITY_VALUE: Record<Priority, number> = { low: 0, standard: 1, high: 2 };

export function isPriority(v: unknown): v is Priority {
  return v === 'low' || v === 'standard' || v === 'high';
}

/**
 * The lowest rank whose nominal height covers the render height. Nominal heights follow the
 * usual simulcast ladder (each layer half the height of the next): with three layers and a 720p
 * top, small (≤ 180) → the lowest-bitrate layer, medium (≤ 360) → the middle, larger or unknown
 * → the highest.
 */
export function renderRank(layers: number, renderHeight: number, topHeight = 720): number {
  if (layers <= 0) return -1;
  if (!(renderHeight > 0)) return layers - 1;
  for (let i = 0; i < layers; i++) {
    const nominal = topHeight / 2 ** (layers - 1 - i);
    if (nominal >= renderHeight) return i;
  }
  return layers - 1;
}

/**
 * Allocates a budget (bps, for video) over a subscriber's video tracks. Tracks are served in
 * priority order (dominant speaker raised to `dominantSpeakerPriority`; dominance, then larger
 * render size, then input order break ties). First every track gets its lowest layer if it fits;
 * a track for which even that does not fit is switched off, except the first one (a subscriber
 * always keeps one picture) and except when the client cannot be told (`switchOff` false).
 * Then the rest of the budget raises layers up to what the render size asks for: in
 * `collaboration` and `presentation` mode track by track, each to the highest layer that fits;
 * in `grid` mode one layer at a time round the tracks, so they share equally.
 */
export function allocate(tracks: AllocTrack[], budget: number, profile: SubscriberProfile): Allocation {
  const dsp = profile.dominantSpeakerPriority;
  const prio = (t: AllocTrack) => Math.max(PRIORITY_VALUE[t.priority], t.dominant && dsp ? PRIORITY_VALUE[dsp] : 0);
  const order = tracks
    .map((t, i) => ({ t, i, p: prio(t) }))
    .sort((a, b) => b.p - a.p || Number(b.t.dominant) - Number(a.t.dominant) || b.t.renderHeight - a.t.renderHeight || a.i - b.i)
    .map((x) => x.t);
  const cost = (t: AllocTrack, rank: number) => (rank < 0 ? 0 : t.bitrates[rank]! * PACKET_OVERHEAD);
  const out = new Map<string, TrackAllocation>();
  let remaining = Math.max(0, budget);
  let used = 0;
  let served = 0;
  const active: AllocTrack[] = [];
  for (const t of order) {
    const n = t.bitrates.length;
    const wanted = renderRank(n, t.renderHeight || profile.renderHeights[t.priority] || 0, t.topHeight);
    const a: TrackAllocation = { rank: -1, wanted, cost: 0 };
    out.set(t.id, a);
    if (n === 0) continue;
    const beyondMaxTracks = profile.maxTracks > 0 && served >= profile.maxTracks;
    const fits = cost(t, 0) <= remaining;
    if (beyondMaxTracks && profile.switchOff) continue;
    if (!fits && profile.switchOff && served > 0) continue;
    a.rank = 0;
    a.cost = cost(t, 0);
    remaining = Math.max(0, remaining - a.cost);
    used += a.cost;
    served++;
    active.push(t);
  }
  const raise = (t: AllocTrack, a: TrackAllocation, to: number): boolean => {
    const extra = cost(t, to) - a.cost;
    if (extra > remaining) return false;
    remaining -= extra;
    used += extra;
    a.rank = to;
    a.cost = cost(t, to);
    return true;
  };
  if (profile.mode === 'grid') {
    for (let progress = true; progress; ) {
      progress = false;
      for (const t of active) {
        const a = out.get(t.id)!;
        if (a.rank < a.wanted && raise(t, a, a.rank + 1)) progress = true;
      }
    }
  } else {
    for (const t of active) {
      const a = out.get(t.id)!;
      for (let r = a.wanted; r > a.rank; r--) if (raise(t, a, r)) break;
    }
  }
  return { tracks: out, used };
}

/**
 * Ranks a track's flowing layers, lowest first: by picture height where the layers' heights
 * (read from their keyframes) differ, otherwise by measured bitrate, keeping the previous order
 * unless a layer ranked below another carries clearly more bits (25 %): two layers of nearly
 * equal bitrate do not trade places (and force layer switches) on every measurement. Chromium's
 * SSRC-munged simulcast sends every layer at the capture size, so there only bitrate ranks; with
 * adaptive simulcast a smaller picture is a lower layer even while a restarted top layer is
 * still ramping up its bitrate.
 */
export function rankLayers(previous: readonly number[], bitrates: readonly number[], flowing: readonly boolean[], heights: readonly (number | undefined)[] = []): number[] {
  const ok = (i: number) => flowing[i] === true && (bitrates[i] ?? 0) > 0;
  /** <0: a ranks below b, >0: above, 0: by bitrate. */
  const byHeight = (a: number, b: number) => {
    const ha = heights[a] ?? 0;
    const hb = heights[b] ?? 0;
    return ha > 0 && hb > 0 ? ha - hb : 0;
  };
  const order = previous.filter(ok);
  for (let i = 0; i < bitrates.length; i++) {
    if (!ok(i) || order.includes(i)) continue;
    let at = order.findIndex((j) => byHeight(j, i) > 0 || (byHeight(j, i) === 0 && bitrates[j]! > bitrates[i]!));
    if (at < 0) at = order.length;
    order.splice(at, 0, i);
  }
  for (let swapped = true; swapped; ) {
    swapped = false;
    for (let k = 0; k + 1 < order.length; k++) {
      const lo = order[k]!;
      const hi = order[k + 1]!;
      const h = byHeight(lo, hi);
      if (h > 0 || (h === 0 && bitrates[lo]! > bitrates[hi]! * 1.25)) {
        order[k] = hi;
        order[k + 1] = lo;
        swapped = true;
      }
    }
  }
  return order;
}
