// A simulcast layer whose encoder is dropping most of its frames. When a publisher's uplink
// estimate collapses (a link that suddenly turns long or lossy), Chromium keeps its lowest layer at
// full frame rate but its rate control drops frames on the layers above it: one run showed its
// 360p layer at 4 frames a second for 1.6 s while 180p ran at 21. Packets still come, so the layer
// looks alive to the stop rule, but its viewers see a frozen picture.

/** Frames are counted over at least this long (ms) ... */
export const FRAME_RATE_WINDOW_MS = 500;
/** ... and a layer is starved when it delivers less than this share of the frames of a layer below it ... */
const STARVED_SHARE = 0.5;
/** ... if that layer delivered at least this many frames in the window (8 fps over 500 ms). */
const MIN_WITNESS_FRAMES = 4;

/**
 * For each layer (lowest first), whether it is starved: it completed fewer than STARVED_SHARE of
 * the frames a lower layer completed over the same window. `frames` and `framesBefore` are the
 * per-layer counts of completed frames now and at the window's start.
 */
export function starvedLayers(frames: readonly number[], framesBefore: readonly number[]): boolean[] {
  const starved: boolean[] = [];
  let bestLower = 0;
  for (let i = 0; i < frames.length; i++) {
    const n = Math.max(0, (frames[i] ?? 0) - (framesBefore[i] ?? 0));
    starved.push(bestLower >= MIN_WITNESS_FRAMES && n < STARVED_SHARE * bestLower);
    bestLower = Math.max(bestLower, n);
  }
  return starved;
}
