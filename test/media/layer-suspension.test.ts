// A layer the publisher keeps dropping is suspended, longer each time; a single drop, or a short
// pause, is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONFIRM_DOWN_MS, FIRST_SUSPENSION_MS, LayerSuspensions, MAX_SUSPENSION_MS, REPEAT_WINDOW_MS } from '../../src/media/layer-suspension.js';

/** The layer (up until now) drops at `at` and stays down, reported every 250 ms as the allocation ticks do, for `forMs`. */
function down(s: LayerSuspensions, layer: number, at: number, forMs: number): number {
  s.up(layer);
  let until = s.down(layer, at);
  for (let t = at + 250; t <= at + forMs; t += 250) until = s.down(layer, t) || until;
  return until;
}

test('a first drop suspends nothing; each drop soon after doubles the suspension, up to the maximum', () => {
  const s = new LayerSuspensions();
  assert.equal(down(s, 2, 1000, 5000), 0, 'one drop (a CPU spike, one dip) is left to the settle rule');
  assert.equal(s.suspended(2, 3000), false);
  let now = 6000 + REPEAT_WINDOW_MS - 1; // back at 6 s, dropped again just inside the window
  const lengths: number[] = [];
  for (let i = 0; i < 5; i++) {
    const until = down(s, 2, now, CONFIRM_DOWN_MS);
    assert.ok(until > 0, `drop ${i + 2} suspends`);
    lengths.push(until - (now + CONFIRM_DOWN_MS));
    assert.equal(s.suspended(2, until - 1), true);
    assert.equal(s.suspended(2, until), false, 'over at its end');
    now = until + 5_000; // tried again after the suspension, dropped 5 s later
  }
  assert.deepEqual(lengths, [FIRST_SUSPENSION_MS, 2 * FIRST_SUSPENSION_MS, Math.min(MAX_SUSPENSION_MS, 4 * FIRST_SUSPENSION_MS), MAX_SUSPENSION_MS, MAX_SUSPENSION_MS]);
});

test('a repeated drop that ends within CONFIRM_DOWN_MS (a pause behind another layer\'s keyframe) suspends nothing', () => {
  const s = new LayerSuspensions();
  down(s, 1, 0, 3000);
  assert.equal(down(s, 1, 5000, CONFIRM_DOWN_MS - 250), 0);
  assert.equal(s.suspended(1, 5000 + CONFIRM_DOWN_MS), false);
});

test('a layer that held for the window starts over; layers are independent; clear forgets', () => {
  const s = new LayerSuspensions();
  down(s, 2, 0, 1000);
  const until = down(s, 2, 5000, CONFIRM_DOWN_MS);
  assert.equal(until - (5000 + CONFIRM_DOWN_MS), FIRST_SUSPENSION_MS);
  // Back after the suspension and held for longer than the window: a drop now is a first drop again.
  const later = until + REPEAT_WINDOW_MS + 1;
  assert.equal(down(s, 2, later, 3000), 0);
  assert.equal(down(s, 2, later + 5000, CONFIRM_DOWN_MS) - (later + 5000 + CONFIRM_DOWN_MS), FIRST_SUSPENSION_MS, 'the streak started over');
  assert.equal(s.suspended(1, later + 7000), false, 'another layer is not touched');
  assert.equal(down(s, 1, later + 7000, 3000), 0);
  s.clear();
  assert.equal(s.suspended(2, later + 7000), false);
  assert.equal(down(s, 2, later + 8000, 3000), 0);
});
