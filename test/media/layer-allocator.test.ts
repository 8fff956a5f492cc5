// The per-subscriber simulcast allocation as a pure function: render sizes, priorities, the
// dominant speaker, the bandwidth profile's mode and maxTracks, and a budget → one layer per
// track or a switch-off; plus the ranking of layers by measured bitrate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocate, DEFAULT_PROFILE, PACKET_OVERHEAD, rankLayers, renderRank, type AllocTrack, type SubscriberProfile } from '../../src/media/layer-allocator.js';

const LADDER = [150_000, 500_000, 2_500_000];
const track = (id: string, extra: Partial<AllocTrack> = {}): AllocTrack => ({ id, bitrates: LADDER, priority: 'standard', dominant: false, renderHeight: 0, ...extra });
const profile = (extra: Partial<SubscriberProfile> = {}): SubscriberProfile => ({ ...DEFAULT_PROFILE, mode: 'collaboration', switchOff: true, ...extra });
const ranks = (a: ReturnType<typeof allocate>) => Object.fromEntries([...a.tracks].map(([id, t]) => [id, t.rank]));
const cost = (bps: number) => bps * PACKET_OVERHEAD;

test('render size picks the layer: small → lowest, medium → middle, large or unknown → highest', () => {
  assert.equal(renderRank(3, 90), 0);
  assert.equal(renderRank(3, 180), 0);
  assert.equal(renderRank(3, 270), 1);
  assert.equal(renderRank(3, 360), 1);
  assert.equal(renderRank(3, 540), 2);
  assert.equal(renderRank(3, 0), 2, 'unknown');
  assert.equal(renderRank(2, 200), 0, 'two layers: 360 and 720 nominal');
  assert.equal(renderRank(1, 90), 0);
  assert.equal(renderRank(3, 300, 480), 2, 'a 480p publisher: 120, 240, 480');

  const a = allocate([track('small', { renderHeight: 90 }), track('medium', { renderHeight: 360 }), track('large', { renderHeight: 720 }), track('unknown')], 100e6, profile());
  assert.deepEqual(ranks(a), { small: 0, medium: 1, large: 2, unknown: 2 });
});

test('the budget goes to the higher priority first; each gets the highest layer that fits', () => {
  const budget = cost(2_500_000) + cost(500_000) + cost(150_000);
  const a = allocate([track('low', { priority: 'low' }), track('std'), track('high', { priority: 'high' })], budget, profile());
  assert.deepEqual(ranks(a), { high: 2, std: 1, low: 0 });
  assert.ok(a.used <= budget + 1);
});

test('the dominant speaker is raised to dominantSpeakerPriority (and breaks ties)', () => {
  const budget = cost(2_500_000) + cost(150_000) + 1000;
  const tracks = [track('a'), track('speaker', { dominant: true })];
  assert.deepEqual(ranks(allocate(tracks, budget, profile({ dominantSpeakerPriority: 'high' }))), { speaker: 2, a: 0 });
  // Raised above a standard track with a larger render size.
  const withSize = [track('a', { renderHeight: 720 }), track('speaker', { dominant: true, renderHeight: 540 })];
  assert.deepEqual(ranks(allocate(withSize, budget, profile({ dominantSpeakerPriority: 'high' }))), { speaker: 2, a: 0 });
  // Without dominantSpeakerPriority dominance still breaks a tie; then the larger render size.
  assert.deepEqual(ranks(allocate(withSize, budget, profile())), { speaker: 2, a: 0 });
  assert.deepEqual(ranks(allocate([track('a', { renderHeight: 540 }), track('b', { renderHeight: 720 })], budget, profile())), { b: 2, a: 0 });
  // A subscriber's own 'high' for another track still beats a dominant 'standard'.
  assert.deepEqual(ranks(allocate([track('mine', { priority: 'high' }), track('speaker', { dominant: true })], budget, profile({ dominantSpeakerPriority: 'standard' }))), { mine: 2, speaker: 0 });
});

test('when even the lowest layer does not fit, the lowest-priority tracks are switched off; the first keeps a picture', () => {
  const tracks = [track('low', { priority: 'low' }), track('std'), track('high', { priority: 'high' })];
  assert.deepEqual(ranks(allocate(tracks, cost(150_000) * 2 + 10, profile())), { high: 0, std: 0, low: -1 });
  assert.deepEqual(ranks(allocate(tracks, cost(150_000) + 10, profile())), { high: 0, std: -1, low: -1 });
  assert.deepEqual(ranks(allocate(tracks, 1000, profile())), { high: 0, std: -1, low: -1 }, 'one picture is kept even over budget');
  // A client that cannot be told about switch-offs keeps every track at its lowest layer.
  assert.deepEqual(ranks(allocate(tracks, 1000, profile({ switchOff: false }))), { high: 0, std: 0, low: 0 });
});

test('grid mode shares the budget equally; collaboration serves by priority', () => {
  const budget = cost(500_000) * 2 + 10;
  const tracks = [track('a', { priority: 'high' }), track('b')];
  assert.deepEqual(ranks(allocate(tracks, budget, profile({ mode: 'grid' }))), { a: 1, b: 1 });
  assert.deepEqual(ranks(allocate(tracks, budget, profile({ mode: 'collaboration' }))), { a: 1, b: 1 }, 'the top layer does not fit either way');
  const more = cost(2_500_000) + cost(150_000) + 10;
  assert.deepEqual(ranks(allocate(tracks, more, profile({ mode: 'collaboration' }))), { a: 2, b: 0 });
  assert.deepEqual(ranks(allocate(tracks, more, profile({ mode: 'grid' }))), { a: 1, b: 1 });
});

test('maxTracks and the deprecated renderDimensions', () => {
  const tracks = [track('a', { priority: 'low' }), track('b', { priority: 'high' }), track('c')];
  assert.deepEqual(ranks(allocate(tracks, 100e6, profile({ maxTracks: 2 }))), { b: 2, c: 2, a: -1 });
  assert.deepEqual(ranks(allocate(tracks, 100e6, profile({ renderHeights: { low: 144, standard: 480, high: 720 } }))), { a: 0, b: 2, c: 2 });
  // A render hint overrides the profile's default for that priority.
  assert.deepEqual(ranks(allocate([track('a', { priority: 'low', renderHeight: 720 })], 100e6, profile({ renderHeights: { low: 144 } }))), { a: 2 });
});

test('tracks with no flowing layers, single-layer tracks', () => {
  const a = allocate([track('none', { bitrates: [] }), track('one', { bitrates: [1_000_000] })], cost(1_000_000) + 1, profile());
  assert.deepEqual(ranks(a), { none: -1, one: 0 });
});

test('layers are ranked by measured bitrate, not by index, and nearly equal ones do not trade places', () => {
  // Chromium's SSRC-munged simulcast: the first SSRC may carry the most bits.
  assert.deepEqual(rankLayers([], [2_500_000, 500_000, 150_000], [true, true, true]), [2, 1, 0]);
  assert.deepEqual(rankLayers([], [150_000, 500_000, 2_500_000], [true, false, true]), [0, 2], 'stopped layers are left out');
  assert.deepEqual(rankLayers([0, 1, 2], [760_000, 740_000, 750_000], [true, true, true]), [0, 1, 2], 'within 25 %: the previous order stays');
  assert.deepEqual(rankLayers([0, 1, 2], [1_000_000, 700_000, 750_000], [true, true, true]), [1, 2, 0], 'clearly more bits: re-ranked');
  assert.deepEqual(rankLayers([0, 2], [150_000, 500_000, 2_500_000], [true, true, true]), [0, 1, 2], 'a layer that starts again is inserted by its bitrate');
  // Layers of different picture heights (adaptive simulcast) rank by height, even while a
  // restarted top layer is still cheap; equal heights (munged simulcast) fall back to bitrate.
  assert.deepEqual(rankLayers([0, 1], [150_000, 500_000, 20_000], [true, true, true], [180, 360, 720]), [0, 1, 2]);
  assert.deepEqual(rankLayers([2, 0, 1], [150_000, 500_000, 20_000], [true, true, true], [180, 360, 720]), [0, 1, 2]);
  assert.deepEqual(rankLayers([], [2_500_000, 500_000, 150_000], [true, true, true], [720, 720, 720]), [2, 1, 0]);
});
