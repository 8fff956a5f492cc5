// A layer the publisher keeps dropping is suspended, longer each time; a single drop is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIRST_SUSPENSION_MS, LayerSuspensions, MAX_SUSPENSION_MS, REPEAT_WINDOW_MS } from '../../src/media/layer-suspension.js';

test('a first drop suspends nothing; each drop soon after doubles the suspension, up to the maximum', () => {
  const s = new LayerSuspensions();
  assert.equal(s.dropped(2, 1000), 0, 'one drop (a CPU spike, one dip) is left to the settle rule');
  assert.equal(s.suspended(2, 1001), false);
  s.stillDown(2, 4000); // down until 4 s, then back
  let now = 4000 + REPEAT_WINDOW_MS - 1; // dropped again just inside the window
  const lengths: number[] = [];
  for (let i = 0; i < 5; i++) {
    const until = s.dropped(2, now);
    lengths.push(until - now);
    assert.equal(s.suspended(2, until - 1), true);
    assert.equal(s.suspended(2, until), false, 'over at its end');
    now = until + 5_000; // tried again after the suspension, dropped 5 s later
  }
  assert.deepEqual(lengths, [FIRST_SUSPENSION_MS, 2 * FIRST_SUSPENSION_MS, Math.min(MAX_SUSPENSION_MS, 4 * FIRST_SUSPENSION_MS), MAX_SUSPENSION_MS, MAX_SUSPENSION_MS]);
});

test('a layer that held for the window starts over; layers are independent; clear forgets', () => {
  const s = new LayerSuspensions();
  s.dropped(2, 0);
  const until = s.dropped(2, 5000);
  assert.equal(until - 5000, FIRST_SUSPENSION_MS);
  // Back after the suspension and held for longer than the window: a drop now is a first drop again.
  const later = until + REPEAT_WINDOW_MS + 1;
  assert.equal(s.dropped(2, later), 0);
  assert.equal(s.dropped(2, later + 1000) - (later + 1000), FIRST_SUSPENSION_MS, 'the streak started over');
  assert.equal(s.suspended(1, later + 1000), false, 'another layer is not touched');
  assert.equal(s.dropped(1, later + 1000), 0);
  s.clear();
  assert.equal(s.suspended(2, later + 2000), false);
  assert.equal(s.dropped(2, later + 3000), 0);
});
