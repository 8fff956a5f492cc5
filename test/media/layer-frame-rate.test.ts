// A layer whose encoder drops most of its frames while a lower layer keeps its rate is starved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { starvedLayers } from '../../src/media/layer-frame-rate.js';

test('layers at the same frame rate are not starved; one at a quarter of a lower layer’s rate is', () => {
  assert.deepEqual(starvedLayers([110, 110, 109], [100, 100, 100]), [false, false, false]);
  // The onset of a lossy link: 180p at 21 fps, 360p at 4 fps, 720p stopped (500 ms window).
  assert.deepEqual(starvedLayers([110, 52, 70], [100, 50, 70]), [false, true, true]);
  // Just under half is starved; half or more is not.
  assert.deepEqual(starvedLayers([10, 4], [0, 0]), [false, true]);
  assert.deepEqual(starvedLayers([10, 5], [0, 0]), [false, false]);
});

test('only a lower layer with enough frames is a witness; the lowest layer is never starved', () => {
  // The lowest layer itself slowed down: nothing to compare it with.
  assert.deepEqual(starvedLayers([2, 2, 2], [0, 0, 0]), [false, false, false]);
  // Three frames in the window are too few to judge the layer above.
  assert.deepEqual(starvedLayers([3, 0], [0, 0]), [false, false]);
  // A layer hinted off (no frames) is no witness for the one above it; the lowest still is.
  assert.deepEqual(starvedLayers([10, 0, 9], [0, 0, 0]), [false, true, false]);
  // Counters restart (a new encoding): never negative.
  assert.deepEqual(starvedLayers([5, 5], [50, 0]), [false, false]);
});
