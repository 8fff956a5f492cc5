// The minimum playout delay the SFU asks subscribers for (the playout-delay header extension),
// so that a repair across a far or lossy link arrives before its frame is due.

/** A publisher (or a subscriber on a lossy downlink) this far (round trip, ms) or farther gets a playout delay. */
const FAR_RTT_MS = 80;
/** The delay asked for: the round trip plus this (detection, NACK, forwarding). */
const PLAYOUT_DELAY_MARGIN_MS = 60;
const MAX_PLAYOUT_DELAY_MS = 600;
/**
 * How far the delay asked for moves per allocation round (250 ms), either way. Chromium applies a
 * new minimum at once: its render time is clamped to it (VCMTiming::RenderTimeInternal), so a
 * step from 260 to 460 ms held the picture for 200 ms, a freeze in every run of the lossy-link
 * check. A 75 ms step holds one frame 75 ms longer, under a freeze (Chromium counts one when a
 * frame comes more than 150 ms after the average interval), and the delay still rises fast
 * enough at the onset of a long link, when every repair until it is in place is a freeze:
 * 0 → 260 ms in 1 s, 0 → 460 ms in 1.75 s.
 */
export const PLAYOUT_DELAY_STEP_MS = 75;

/**
 * The playout delay to ask for across a round trip of `rtt` ms: 0 when it is short (or unknown);
 * time for one repair, or for two on a `lossy` link.
 */
export function playoutDelayFor(rtt: number | null, lossy: boolean): number {
  if (rtt === null || rtt < FAR_RTT_MS) return 0;
  return Math.min(MAX_PLAYOUT_DELAY_MS, Math.round((lossy ? 2 : 1) * rtt + PLAYOUT_DELAY_MARGIN_MS));
}

/** The delay for the next allocation round: `current` moved toward `target` by at most one step. */
export function nextPlayoutDelay(current: number, target: number): number {
  if (target > current) return Math.min(target, current + PLAYOUT_DELAY_STEP_MS);
  return Math.max(target, current - PLAYOUT_DELAY_STEP_MS);
}
