// At a layer switch our timestamps step by the capture time between the two frames, which the
// publisher's sender reports give, not by the time between their arrivals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { captureStep, ntpToSeconds } from '../../src/media/capture-clock.js';

test('NTP fixed point to seconds', () => {
  assert.equal(ntpToSeconds((3_900_000_000n << 32n) | 0x80000000n), 3_900_000_000.5);
});

test('the step is the capture time between the frames, across different timestamp bases and the 32-bit wrap', () => {
  // Two layers of one publisher: the same capture clock, random timestamp bases (one near the wrap).
  const old = { ntpSeconds: 1000, rtpTimestamp: 4_294_000_000 };
  const next = { ntpSeconds: 1000.2, rtpTimestamp: 123_456 };
  // The last frame sent on the old layer was captured at 1000.5 s; the new keyframe at 1001.4 s.
  const oldTs = (old.rtpTimestamp + 0.5 * 90_000) >>> 0; // wraps past 2^32
  const nextTs = next.rtpTimestamp + Math.round((1001.4 - 1000.2) * 90_000);
  assert.equal(captureStep(old, oldTs, next, nextTs, 90_000), Math.round(0.9 * 90_000));
});

test('no report, a new frame captured before the last one sent, or an implausible gap: null (the caller keeps its rule)', () => {
  const a = { ntpSeconds: 1000, rtpTimestamp: 0 };
  const b = { ntpSeconds: 1000, rtpTimestamp: 500_000 };
  assert.equal(captureStep(undefined, 0, b, 500_000, 90_000), null);
  assert.equal(captureStep(a, 0, undefined, 0, 90_000), null);
  // An upgrade keeps sending the old layer while the new keyframe completes: the keyframe is older.
  assert.equal(captureStep(a, 90_000, b, 500_000 + 45_000, 90_000), null);
  assert.equal(captureStep(a, 0, b, 500_000 + 20 * 90_000, 90_000), null, '20 s is not a switch');
  assert.equal(captureStep(a, 0, b, 500_000 + 9000, 90_000), 9000);
});
