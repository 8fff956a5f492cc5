import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetworkQualityScorer, networkQualityPayload, readUplinkCounters, scoreNetworkQuality } from '../../src/media/network-quality.js';

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

// What twilio-video 2.x sends from Chromium today: the ice part only, zero per-media bitrates.
const chromium = (rtt: number, availableSend = 1_500_000) => ({
  ice: { availableSend, recv: 800_000, rtt, send: 900_000 },
  audio: { send: { bitrate: 0 }, recv: { bitrate: 0 } },
  video: { send: { bitrate: 0 }, recv: { bitrate: 0 } },
});

test("the server's own loss figures fill what the client does not report; its own figures win", () => {
  assert.equal(scoreNetworkQuality(chromium(0.02)).level, 5, 'no loss known: no penalty');
  assert.equal(scoreNetworkQuality(chromium(0.02), { uplinkLoss: 0.05 }).level, 3, '5 % lost on the way in');
  assert.equal(scoreNetworkQuality(chromium(0.02), { downlinkLoss: 0.1 }).level, 2, '10 % lost on the way out');
  const r = scoreNetworkQuality(chromium(0.02), { uplinkLoss: 0.05, downlinkLoss: 0 });
  assert.equal(r.audio.send, 3);
  assert.equal(r.audio.recv, 5);
  assert.equal(r.video.sendStats.fractionLost.fractionLost, 0.05);
  const reported = { ...clean, video: { ...clean.video, recv: { ...clean.video.recv, fractionLost: 0 } } };
  assert.equal(scoreNetworkQuality(reported, { downlinkLoss: 0.3 }).video.recv, 5, "the client's own figure is used when it sends one");
});

test('an audio-only participant is not judged by what video would need', () => {
  assert.equal(scoreNetworkQuality(chromium(0.02, 90_000)).level, 2, 'unknown: video assumed');
  assert.equal(scoreNetworkQuality(chromium(0.02, 90_000), { sendsVideo: false }).level, 5);
  assert.equal(scoreNetworkQuality(chromium(0.02, 90_000), { sendsVideo: true }).level, 2);
});

test('readUplinkCounters sums what werift received and expected per stream', () => {
  const pc = {
    getTransceivers: () => [
      { kind: 'audio', receiver: { remoteStreams: { 1: { packets_expected: 100, packets_received: 95 } } } },
      { kind: 'video', receiver: { remoteStreams: { 2: { packets_expected: 200, packets_received: 190 }, 3: { packets_expected: 10, packets_received: 10 } } } },
      { kind: 'video', receiver: {} },
    ],
  };
  assert.deepEqual(readUplinkCounters(pc), { expected: 310, received: 295, videoReceived: 200 });
  assert.equal(readUplinkCounters({ getTransceivers: () => [] }), null);
  assert.equal(readUplinkCounters(null), null);
});

/** A participant sending `pps` packets/s with `loss` lost on the way in, reporting every second. */
function simulate(scorer: NetworkQualityScorer, from: number, seconds: number, counters: { expected: number; received: number; videoReceived: number }, loss: number, rtt: number, downlinkLoss: number, random: () => number): number[] {
  const levels: number[] = [];
  for (let t = 1; t <= seconds; t++) {
    for (let i = 0; i < 150; i++) {
      counters.expected++;
      if (random() >= loss) {
        counters.received++;
        if (i % 2) counters.videoReceived++;
      }
    }
    levels.push(scorer.score(chromium(rtt), { ...counters }, downlinkLoss, from + t * 1000).level);
  }
  return levels;
}

test('the scorer: 5 % random loss and 200 ms RTT hold the level at 1–3; it recovers once the link is clean', () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const scorer = new NetworkQualityScorer();
  const counters = { expected: 0, received: 0, videoReceived: 0 };
  const clean1 = simulate(scorer, 0, 10, counters, 0, 0.01, 0, random);
  assert.ok(clean1.slice(2).every((l) => l === 5), `clean: ${clean1}`);
  // Downlink loss as the estimator gives it: one noisy window per report.
  const lossy: number[] = [];
  for (let s = 0; s < 40; s++) lossy.push(...simulate(scorer, 10_000 + s * 1000, 1, counters, 0.05, 0.2, [0.03, 0.08, 0.05, 0.02, 0.09, 0.04][s % 6]!, random));
  const first = lossy.findIndex((l) => l <= 3);
  assert.ok(first >= 0 && first <= 8, `down to 1–3 within a few seconds: ${lossy}`);
  assert.ok(lossy.slice(first).every((l) => l >= 1 && l <= 3), `and held there: ${lossy}`);
  const after = simulate(scorer, 50_000, 30, counters, 0, 0.01, 0, random);
  const back = after.findIndex((l) => l >= 4);
  assert.ok(back >= 0 && back <= 15, `recovers after the impairment: ${after}`);
  assert.ok(after.slice(back).every((l) => l >= 4), `and stays: ${after}`);
});

test('the scorer reports a worse level at once and a better one only after it held', () => {
  const scorer = new NetworkQualityScorer();
  const c = (n: number) => ({ expected: n, received: n, videoReceived: n });
  assert.equal(scorer.score(chromium(0.01), c(100), 0, 1000).level, 5);
  assert.equal(scorer.score(chromium(2), c(200), 0, 2000).level, 2, 'a worse level at once (smoothed RTT)');
  const levels = [3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000, 11_000, 12_000, 13_000, 14_000].map((t) => scorer.score(chromium(0.01), c(t / 10), 0, t).level);
  assert.ok(levels[0]! <= 2 && levels[1]! <= 2, `not at once: ${levels}`);
  assert.equal(levels.at(-1), 5, `but in the end: ${levels}`);
});
