// The playout delay asked of subscribers: how much, and how fast it may change (Chromium applies
// a new minimum at once, so a big step is a freeze).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextPlayoutDelay, playoutDelayFor, PLAYOUT_DELAY_STEP_MS } from '../../src/media/playout-delay.js';

test('a near or unknown round trip asks for nothing; a far one for one repair, a lossy one for two, capped', () => {
  assert.equal(playoutDelayFor(null, true), 0);
  assert.equal(playoutDelayFor(40, true), 0);
  assert.equal(playoutDelayFor(200, false), 260);
  assert.equal(playoutDelayFor(200, true), 460);
  assert.equal(playoutDelayFor(900, true), 600);
});

test('the delay rises and falls in steps no bigger than PLAYOUT_DELAY_STEP_MS, and lands on the target', () => {
  assert.ok(PLAYOUT_DELAY_STEP_MS <= 100, 'a step stays well under a freeze (a frame interval + 150 ms)');
  let d = 0;
  const rises: number[] = [];
  for (let i = 0; i < 20 && d !== 460; i++) {
    const next = nextPlayoutDelay(d, 460);
    assert.ok(next > d && next - d <= PLAYOUT_DELAY_STEP_MS, `${d} → ${next}`);
    rises.push(next);
    d = next;
  }
  assert.equal(d, 460);
  assert.equal(rises.length, Math.ceil(460 / PLAYOUT_DELAY_STEP_MS));
  // A small move is taken whole; a fall is stepped too.
  assert.equal(nextPlayoutDelay(460, 463), 463);
  assert.equal(nextPlayoutDelay(463, 260), 463 - PLAYOUT_DELAY_STEP_MS);
  assert.equal(nextPlayoutDelay(30, 0), 0);
  assert.equal(nextPlayoutDelay(0, 0), 0);
});
