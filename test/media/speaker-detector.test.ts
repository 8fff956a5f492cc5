// Dominant speaker: follows the person talking, does not flap, keeps the last speaker in silence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpeakerDetector } from '../../src/media/speaker-detector.js';

const SILENCE = 127;
const SPEECH = 35;

/** Feeds 20 ms audio packets for `ms`, with each participant's level, deciding every 200 ms. */
function run(d: SpeakerDetector, start: number, ms: number, levels: Record<string, number | (() => number)>): { changes: (string | null)[]; end: number } {
  const changes: (string | null)[] = [];
  let t = start;
  for (; t < start + ms; t += 20) {
    for (const [who, level] of Object.entries(levels)) d.onLevel(`MT-${who}`, who, typeof level === 'function' ? level() : level, t);
    if (t % 200 === 0) {
      const c = d.decide(t);
      if (c !== undefined) changes.push(c);
    }
  }
  return { changes, end: t };
}

test('names the speaker within 2 s, follows a change of speaker, and keeps them through silence', () => {
  const d = new SpeakerDetector();
  let r = run(d, 0, 2000, { alice: SPEECH, bob: SILENCE, carol: SILENCE });
  assert.deepEqual(r.changes, ['alice']);
  r = run(d, r.end, 3000, { alice: SILENCE, bob: SPEECH, carol: SILENCE });
  assert.deepEqual(r.changes, ['bob']);
  r = run(d, r.end, 3000, { alice: SILENCE, bob: SILENCE, carol: SILENCE });
  assert.deepEqual(r.changes, [], 'silence keeps the last speaker');
  assert.equal(d.current, 'bob');
});

test('a cough or a short interjection does not take over', () => {
  const d = new SpeakerDetector();
  let r = run(d, 0, 2000, { alice: SPEECH, bob: SILENCE });
  assert.deepEqual(r.changes, ['alice']);
  r = run(d, r.end, 200, { alice: SPEECH, bob: 10 });
  r = run(d, r.end, 2000, { alice: SPEECH, bob: SILENCE });
  assert.deepEqual(r.changes, []);
  assert.equal(d.current, 'alice');
});

test('two people talking at once do not make it flap', () => {
  const d = new SpeakerDetector();
  let flip = false;
  const noisy = () => ((flip = !flip) ? SPEECH : 45);
  const r = run(d, 0, 6000, { alice: SPEECH, bob: noisy });
  assert.ok(r.changes.length <= 1, `changes: ${r.changes.join(', ')}`);
});
