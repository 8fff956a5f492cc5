// How far our RTP timestamps step at a simulcast layer switch.
//
// Each layer's RTP timestamps start at their own random value, so at a switch the forwarder
// chooses the step from the last frame it sent to the new layer's first. The true step is the
// capture time between the two, and the publisher's sender reports give it: each maps one RTP
// timestamp of its stream to the publisher's NTP clock, and every layer is stamped from the same
// capture clock. The time between the two frames' *arrivals* is wrong when the old layer's packets
// had waited in the publisher's pacer (its uplink was full: that is why it dropped the layer).
// The new frames then looked hundreds of ms late to the viewer's jitter buffer, which ran empty
// and froze again and again for about 10 s after the switch (5 % loss / 200 ms test).

/** A stream's last sender report: one of its RTP timestamps and the publisher's clock then. */
export interface SenderClock {
  ntpSeconds: number;
  rtpTimestamp: number;
}

/** NTP 64-bit fixed point (seconds since 1900 in the high 32 bits) to seconds. */
export function ntpToSeconds(ntp: bigint): number {
  return Number(ntp >> 32n) + Number(ntp & 0xffffffffn) / 2 ** 32;
}

/** Capture time (NTP seconds) of an RTP timestamp by its stream's sender report (wrap-aware). */
function captureSeconds(clock: SenderClock, ts: number, clockRate: number): number {
  return clock.ntpSeconds + ((ts - clock.rtpTimestamp) | 0) / clockRate;
}

/** A switch longer than this is not believed (a stale or reset report). */
const MAX_STEP_S = 10;

/**
 * The timestamp step (in clock units) from the last frame sent, `oldTs` on a stream with sender
 * report `old`, to the new layer's first frame `nextTs`. Null when either stream has had no
 * report yet, or when the new frame was captured before the last one sent (an upgrade sends the
 * old layer until the new keyframe is complete): then the caller keeps its own rule.
 */
export function captureStep(old: SenderClock | undefined, oldTs: number, next: SenderClock | undefined, nextTs: number, clockRate: number): number | null {
  if (!old || !next) return null;
  const seconds = captureSeconds(next, nextTs, clockRate) - captureSeconds(old, oldTs, clockRate);
  if (!(seconds > 0 && seconds < MAX_STEP_S)) return null;
  return Math.max(1, Math.round(seconds * clockRate));
}
