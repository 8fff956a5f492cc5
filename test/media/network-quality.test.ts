import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkQualityPayload, scoreNetworkQuality } from '../../src/media/network-quality.js';

const clean = {
  ice: { availableSend: 2_500_000, rtt: 0.02 },
  audio: { send: { bitrate: 40_000, rtt: 0.02 }, recv: { bitrate: 40_000, fractionLost: 0, jitter: 0.002 } },
  video: { send: { bitrate: 1_500_000, rtt: 0.02 }, recv: { bitrate: 1_500_000, fractionLost: 0, jitter: 0.004 } },
};

test('a clean link is 5; loss and delay lower it; starved bandwidth lowers it further', () => {
  assert.equal(scoreNetworkQuality(clean).level, 5);
  const lossy = { ...clean, video: { ...clean.video, recv: { ...clean.video.recv, fractionLost: 0.05 } } };
  assert.equal(scoreNetworkQuality(lossy).level, 3);
  const slow = { ...clean, ice: { availableSend: 2_500_000, rtt: 0.3 }, audio: { send: { bitrate: 40_000, rtt: 0.3 }, recv: clean.audio.recv }, video: { send: { bitrate: 1_000_000, rtt: 0.3 }, recv: clean.video.recv } };
  assert.equal(scoreNetworkQuality(slow).level, 3);
  const starved = { ...clean, ice: { availableSend: 60_000, rtt: 0.02 } };
  assert.equal(scoreNetworkQuality(starved).video.send, 2);
  const bad = { ...lossy, video: { ...clean.video, recv: { ...clean.video.recv, fractionLost: 0.3 } } };
  assert.equal(scoreNetworkQuality(bad).level, 0);
  assert.equal(scoreNetworkQuality({}).level, 5, 'no report, no penalty');
});

test('verbosity decides the payload shape', () => {
  const r = scoreNetworkQuality(clean);
  assert.equal(networkQualityPayload(r, 1), 5);
  assert.deepEqual(networkQualityPayload(r, 2), { level: 5, audio: { send: 5, recv: 5 }, video: { send: 5, recv: 5 } });
  const detailed = networkQualityPayload(r, 3) as { video: { sendStats: { bandwidth: { available: number } } } };
  assert.equal(detailed.video.sendStats.bandwidth.available, 2_500_000);
});
