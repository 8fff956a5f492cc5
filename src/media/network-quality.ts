// Network quality levels (0–5) from what the twilio-video client reports about its own
// connection on the network_quality channel: loss, round-trip time, jitter and bitrate against
// the available bandwidth, for audio and video, sent and received.

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

export function scoreNetworkQuality(inputs: NqInputs): NqResult {
  const available = finite(inputs.ice?.availableSend);
  const rtt = finite(inputs.ice?.rtt);
  const [as, asStats] = direction(inputs.audio?.send, available, 'audio', rtt);
  const [ar, arStats] = direction(inputs.audio?.recv, null, 'audio', rtt);
  const [vs, vsStats] = direction(inputs.video?.send, available, 'video', rtt);
  const [vr, vrStats] = direction(inputs.video?.recv, null, 'video', rtt);
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
