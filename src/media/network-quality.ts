// Network quality levels (0–5) from what the twilio-video client reports about its own
// connection on the network_quality channel (loss, round-trip time, jitter and bitrate against the
// available bandwidth, for audio and video, sent and received), completed with what the server
// measures itself.
//
// Chromium's stats no longer carry the fields twilio-video 2.x picks its per-track reports by
// (`trackId`, `mediaType`), so from Chromium (156 measured) the SDK sends only the `ice` part
// (round-trip time, available send bandwidth, bitrates) and zero bitrates for audio and video: no
// loss, no jitter. The server fills the gaps from its own side of the link (`NqLink`): loss of
// the participant's RTP on the way in (sequence-number gaps at our receivers, before any
// retransmission) and loss toward it (its transport-cc feedback), and whether it sends video.
// A participant's `NetworkQualityScorer` smooths those over a few seconds and lets the level rise
// only after it has held, so random loss does not make the bars flicker.
export interface NqDirectionInput {
  bitrate?: number;
  rtt?: number; // seconds
  fractionLost?: number; // 0..1
  jitter?: number; // seconds
}

export interface NqInputs {
  ice?: { availableSend?: number; recv?: number; rtt?: number; send?: number };
  audio?: { send?: NqDirectionInput; recv?: NqDirectionInput };
  video?: { send?: NqDirectionInput; recv?: NqDirectionInput };
  reportLevel?: number;
  remoteReportLevel?: number;
}

export interface NqStats {
  bandwidth: { actual: number | null; available: number | null; level: number };
  fractionLost: { fractionLost: number | null; level: number };
  latency: { jitter: number | null; rtt: number | null; level: number };
}

export interface NqResult {
  level: number;
  audio: { send: number; recv: number; sendStats: NqStats; recvStats: NqStats };
  video: { send: number; recv: number; sendStats: NqStats; recvStats: NqStats };
}

const finite = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function lossLevel(loss: number | null): number {
  if (loss === null) return 5;
  if (loss <= 0.01) return 5;
  if (loss <= 0.03) return 4;
  if (loss <= 0.06) return 3;
  if (loss <= 0.12) return 2;
  if (loss <= 0.25) return 1;
  return 0;
}

function latencyLevel(rtt: number | null, jitter: number | null): number {
  let level = 5;
  if (rtt !== null) level = Math.min(level, rtt <= 0.15 ? 5 : rtt <= 0.25 ? 4 : rtt <= 0.4 ? 3 : rtt <= 0.7 ? 2 : 1);
  if (jitter !== null) level = Math.min(level, jitter <= 0.03 ? 5 : jitter <= 0.05 ? 4 : jitter <= 0.08 ? 3 : jitter <= 0.12 ? 2 : 1);
  return level;
}

function bandwidthLevel(actual: number | null, available: number | null, kind: 'audio' | 'video'): number {
  if (available === null) return 5;
  const need = kind === 'audio' ? 40_000 : 300_000;
  if (available >= need) return 5;
  if (available >= need * 0.6) return 4;
  if (available >= need * 0.35) return 3;
  if (available >= need * 0.15) return 2;
  return actual === 0 ? 0 : 1;
}

function direction(input: NqDirectionInput | undefined, available: number | null, kind: 'audio' | 'video', fallbackRtt: number | null): [number, NqStats] {
  const actual = finite(input?.bitrate);
  const rtt = finite(input?.rtt) ?? fallbackRtt;
  const jitter = finite(input?.jitter);
  const loss = finite(input?.fractionLost);
  const stats: NqStats = {
    bandwidth: { actual, available, level: bandwidthLevel(actual, available, kind) },
    fractionLost: { fractionLost: loss, level: lossLevel(loss) },
    latency: { jitter, rtt, level: latencyLevel(rtt, jitter) },
  };
  return [Math.min(stats.bandwidth.level, stats.fractionLost.level, stats.latency.level), stats];
}

/** What the server knows about a participant's link (see the top of this file). */
export interface NqLink {
  /** Fraction of its RTP lost on the way to us (0..1), null if unknown. */
  uplinkLoss?: number | null;
  /** Fraction of our packets to it that it reported lost (0..1), null if unknown. */
  downlinkLoss?: number | null;
  /** Whether it sends video (else its available send bandwidth is judged against audio's need). */
  sendsVideo?: boolean;
}

/** The client's value if it reported one, else the server's. */
function withLoss(input: NqDirectionInput | undefined, loss: number | null | undefined): NqDirectionInput | undefined {
  if (finite(input?.fractionLost) !== null || finite(loss) === null) return input;
  return { ...input, fractionLost: loss as number };
}

export function scoreNetworkQuality(inputs: NqInputs, link: NqLink = {}): NqResult {
  const available = finite(inputs.ice?.availableSend);
  const rtt = finite(inputs.ice?.rtt);
  // Judge the send bandwidth against video's need only if video is being sent.
  const videoSent = (finite(inputs.video?.send?.bitrate) ?? 0) > 0 || link.sendsVideo !== false;
  const [as, asStats] = direction(withLoss(inputs.audio?.send, link.uplinkLoss), available, 'audio', rtt);
  const [ar, arStats] = direction(withLoss(inputs.audio?.recv, link.downlinkLoss), null, 'audio', rtt);
  const [vs, vsStats] = direction(withLoss(inputs.video?.send, link.uplinkLoss), videoSent ? available : null, 'video', rtt);
  const [vr, vrStats] = direction(withLoss(inputs.video?.recv, link.downlinkLoss), null, 'video', rtt);
  return {
    level: Math.min(as, ar, vs, vr),
    audio: { send: as, recv: ar, sendStats: asStats, recvStats: arStats },
    video: { send: vs, recv: vr, sendStats: vsStats, recvStats: vrStats },
  };
}

/** The payload for one participant at a verbosity (1: level, 2: + per-media levels, 3: + stats). */
export function networkQualityPayload(r: NqResult, verbosity: number): number | Record<string, unknown> {
  if (verbosity <= 1) return r.level;
  const media = (m: NqResult['audio']) => (verbosity >= 3 ? m : { send: m.send, recv: m.recv });
  return { level: r.level, audio: media(r.audio), video: media(r.video) };
}

/** Cumulative RTP counters of what a participant sends us, summed over its streams. */
export interface UplinkCounters {
  expected: number;
  received: number;
  /** Packets received on video streams (to tell whether it sends video). */
  videoReceived: number;
}

/**
 * Reads the uplink counters from werift's receivers of a peer connection (its per-SSRC
 * `remoteStreams` statistics, the ones its receiver reports are built from; read-only here).
 * Retransmissions arrive on their own SSRC, so a packet lost and resent still counts as lost.
 */
export function readUplinkCounters(pc: { getTransceivers(): unknown[] } | null | undefined): UplinkCounters | null {
  if (!pc) return null;
  const out: UplinkCounters = { expected: 0, received: 0, videoReceived: 0 };
  let any = false;
  try {
    for (const t of pc.getTransceivers() as { kind?: string; receiver?: { remoteStreams?: Record<string, { packets_expected?: number; packets_received?: number }> } }[]) {
      for (const stream of Object.values(t.receiver?.remoteStreams ?? {})) {
        const expected = finite(stream.packets_expected);
        const received = finite(stream.packets_received);
        if (expected === null || received === null) continue;
        any = true;
        out.expected += expected;
        out.received += received;
        if (t.kind === 'video') out.videoReceived += received;
      }
    }
  } catch {
    return null;
  }
  return any ? out : null;
}

/** Smoothing time constant for loss and round-trip time (ms). */
const SMOOTHING_MS = 4000;
/** A better level must hold this long before it is reported (ms); a worse one is reported at once. */
const UP_HOLD_MS = 4000;
/** Fewer packets than this between two reports say nothing about loss. */
const MIN_PACKETS = 20;

/** One participant's network quality over time: smoothed inputs, and a level that does not flicker. */
export class NetworkQualityScorer {
  private lastAt = 0;
  private lastUplink: UplinkCounters | null = null;
  private uplinkLoss: number | null = null;
  private downlinkLoss: number | null = null;
  private rtt: number | null = null;
  private sendsVideo: boolean | undefined = undefined;
  private level: number | null = null;
  private betterSince = 0;
  private betterLevel = 0;

  /**
   * `uplink`: cumulative counters (readUplinkCounters); `downlinkLoss`: the latest loss fraction
   * toward the participant (transport-cc), if any.
   */
  score(inputs: NqInputs, uplink: UplinkCounters | null, downlinkLoss: number | null, now: number): NqResult {
    const dt = this.lastAt ? Math.max(0, now - this.lastAt) : SMOOTHING_MS;
    this.lastAt = now;
    const alpha = 1 - Math.exp(-dt / SMOOTHING_MS);
    const smooth = (old: number | null, value: number | null) => (value === null ? old : old === null ? value : old + alpha * (value - old));

    if (uplink) {
      const prev = this.lastUplink;
      if (!prev || uplink.expected < prev.expected) {
        this.lastUplink = uplink; // first report, or streams went away: start counting again
      } else if (uplink.expected - prev.expected >= MIN_PACKETS) {
        const expected = uplink.expected - prev.expected;
        const lost = Math.max(0, expected - (uplink.received - prev.received));
        this.uplinkLoss = smooth(this.uplinkLoss, Math.min(1, lost / expected));
        this.sendsVideo = uplink.videoReceived > prev.videoReceived;
        this.lastUplink = uplink;
      }
    }
    this.downlinkLoss = smooth(this.downlinkLoss, finite(downlinkLoss));
    this.rtt = smooth(this.rtt, finite(inputs.ice?.rtt));

    const smoothed: NqInputs = { ...inputs, ice: { ...inputs.ice, ...(this.rtt !== null ? { rtt: this.rtt } : {}) } };
    const result = scoreNetworkQuality(smoothed, { uplinkLoss: this.uplinkLoss, downlinkLoss: this.downlinkLoss, ...(this.sendsVideo !== undefined ? { sendsVideo: this.sendsVideo } : {}) });
    const raw = result.level;
    if (this.level === null || raw <= this.level) {
      this.level = raw;
      this.betterSince = 0;
    } else if (!this.betterSince) {
      this.betterSince = now;
      this.betterLevel = raw;
    } else {
      this.betterLevel = Math.min(this.betterLevel, raw);
      if (now - this.betterSince >= UP_HOLD_MS) {
        this.level = this.betterLevel;
        this.betterSince = 0;
      }
    }
    return { ...result, level: this.level };
  }
}
