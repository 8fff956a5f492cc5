// The downlink estimate toward one subscriber, driven with synthetic feedback (no WebRTC, no
// clocks): loss from transport-cc or receiver reports, queuing delay, REMB; and the parsing of
// transport-cc feedback chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DownlinkEstimator } from '../../src/media/downlink-estimator.js';
import { TwccReport } from '../../src/media/rtcp/transport-cc-report.js';

/**
 * Sends `bps` for `ms` in 10 ms steps (1200-byte packets) and feeds transport-cc feedback every
 * 50 ms: `lossEvery` drops every n-th packet, `extraDelay(t)` adds queuing delay; the controller
 * runs every 250 ms. Returns the estimate after each update.
 */
function run(e: DownlinkEstimator, state: { t: number; seq: number }, ms: number, opts: { bps: number; lossEvery?: number; lossRandom?: () => boolean; extraDelay?: (t: number) => number; ceiling?: number }): number[] {
  const out: number[] = [];
  const pending: { seq: number; arrival: number | null }[] = [];
  const perStep = (opts.bps / 8 / 1200) * 0.01;
  let carry = 0;
  const end = state.t + ms;
  while (state.t < end) {
    carry += perStep;
    while (carry >= 1) {
      carry--;
      const seq = state.seq++ & 0xffff;
      e.onPacketSent(seq, 1200, state.t);
      const lost = (opts.lossEvery !== undefined && seq % opts.lossEvery === 0) || (opts.lossRandom?.() ?? false);
      pending.push({ seq, arrival: lost ? null : 1_000_000 + state.t + 20 + (opts.extraDelay?.(state.t) ?? 0) });
    }
    state.t += 10;
    if (state.t % 50 === 0) {
      const batch = pending.splice(0);
      e.onTransportFeedback({ length: batch.length, seq: batch.map((p) => p.seq), arrivalMs: batch.map((p) => p.arrival ?? NaN) }, state.t);
    }
    if (state.t % 250 === 0) out.push(e.update(state.t, opts.ceiling));
  }
  return out;
}

/** A small deterministic generator (mulberry32): the same loss pattern every run. */
function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('a clean link: the estimate grows (fast while starting) up to the ceiling', () => {
  const e = new DownlinkEstimator({ initialBps: 1_000_000 });
  const s = { t: 0, seq: 0 };
  const est = run(e, s, 3000, { bps: 800_000, ceiling: 3_000_000 });
  assert.ok(est.at(-1)! > 2_000_000, `fast start: ${est.at(-1)}`);
  run(e, s, 5000, { bps: 800_000, ceiling: 3_000_000 });
  assert.equal(e.value, 3_000_000, 'capped at the ceiling');
  assert.equal(e.stats().loss, 0);
});

test('loss above 10 % cuts the estimate below what is delivered; under 2 % it climbs about 5 %/s', () => {
  const e = new DownlinkEstimator({ initialBps: 3_000_000 });
  const s = { t: 0, seq: 0 };
  run(e, s, 1000, { bps: 2_000_000 });
  run(e, s, 1500, { bps: 2_000_000, lossEvery: 4 }); // 25 % loss
  assert.ok(e.value < 2_000_000 * 0.9, `cut within one loss window (1 s) below what is sent: ${e.value}`);
  run(e, s, 1000, { bps: 2_000_000, lossEvery: 4 });
  run(e, s, 1250, { bps: 1_000_000, lossEvery: 20 }); // the loss window that straddles the change
  const cut = e.value;
  assert.ok(cut < 2_000_000 * 0.75, `below the delivered rate: ${cut}`);
  assert.equal(e.stats().startup, false);
  run(e, s, 2000, { bps: 1_000_000, lossEvery: 20 }); // 5 %: hold
  assert.ok(Math.abs(e.value - cut) < 1, `held at ${cut}: ${e.value}`);
  run(e, s, 4000, { bps: 1_000_000 });
  const ratio = e.value / cut;
  assert.ok(ratio > 1.15 && ratio < 1.35, `about 5 %/s plus a little for 4 s: ×${ratio.toFixed(2)}`);
});

test('a growing queue (delay) brings the estimate down to 85 % of what is delivered', () => {
  const e = new DownlinkEstimator({ initialBps: 5_000_000 });
  const s = { t: 0, seq: 0 };
  run(e, s, 2000, { bps: 3_000_000 });
  const start = s.t;
  run(e, s, 2000, { bps: 3_000_000, extraDelay: (t) => (t - start) / 4 }); // queue grows 250 ms/s
  assert.ok(e.value <= 0.9 * 3_000_000, `down to about 85 % of 3 Mbit/s: ${e.value}`);
  assert.ok(e.stats().queueDelayMs > 80);
});

test('5 % random loss (no congestion) does not wear the estimate down', () => {
  const random = seededRandom(42);
  const e = new DownlinkEstimator({ initialBps: 1_500_000 });
  const s = { t: 0, seq: 0 };
  run(e, s, 2000, { bps: 1_000_000, ceiling: 1_500_000 });
  const before = e.value;
  let lost = 0;
  let sent = 0;
  const est = run(e, s, 60_000, { bps: 1_000_000, ceiling: 1_500_000, lossRandom: () => (sent++, random() < 0.05 && ++lost > 0) });
  assert.ok(Math.abs(lost / sent - 0.05) < 0.01, `about 5 % lost: ${(lost / sent).toFixed(3)}`);
  // Judged over 1 s windows, an unlucky window above 10 % is rare: at most a cut or two a minute,
  // far from the floor (over 20-packet windows it fell to the floor within seconds).
  assert.ok(e.stats().decreases <= 2, `${e.stats().decreases} cuts in a minute`);
  assert.ok(Math.min(...est) > 0.4 * before, `held over a minute: lowest ${Math.min(...est)} of ${before}`);
});

test('a path that turns 100 ms longer with 5 % loss, at the lowest layer\'s rate: no collapse to the floor', () => {
  const random = seededRandom(7);
  const e = new DownlinkEstimator({ initialBps: 1_000_000 });
  const s = { t: 0, seq: 0 };
  run(e, s, 3000, { bps: 400_000, ceiling: 1_000_000 });
  // From now on every packet takes 100 ms longer and 5 % are lost: no queue, nothing more sent than gets through.
  const impaired = { bps: 400_000, ceiling: 1_000_000, extraDelay: () => 100, lossRandom: () => random() < 0.05 };
  const est = run(e, s, 5000, impaired);
  assert.ok(e.stats().queueDelayMs > 80, 'the step reads as a queue for the minimum\'s window');
  est.push(...run(e, s, 15_000, impaired));
  // (The sender here keeps sending 400 kbit/s whatever the estimate, so each cut only shows in the
  // count; the SFU follows the estimate, and cut after cut took it to the floor.)
  assert.ok(e.stats().decreases <= 2, `${e.stats().decreases} cuts in 20 s`);
  assert.ok(Math.min(...est) > 0.6 * 400_000, `lowest ${Math.min(...est)}`);
});

test('without transport-cc, receiver reports drive the loss-based controller; REMB caps', () => {
  const e = new DownlinkEstimator({ initialBps: 2_000_000 });
  let t = 0;
  e.update(t);
  for (let i = 0; i < 100; i++) e.onPacketSent(i, 1200, t);
  e.onReceiverReport(7, 0, 1000, t);
  t += 1000;
  e.onReceiverReport(7, 0.3, 1100, t); // 30 % of 100 packets lost
  const v = e.update(t);
  assert.ok(v < 2_000_000 * 0.86, `cut: ${v}`);
  t += 1000;
  e.onReceiverReport(7, 0, 1200, t);
  assert.ok(e.update(t) > v, 'no loss: up again');
  e.onRemb(300_000, t);
  t += 250;
  assert.equal(e.update(t), 300_000);
});
