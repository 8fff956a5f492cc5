// Lost video packets are requested per SSRC, again if still missing, and not once they arrive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NackGenerator } from '../../src/media/rtcp/nack-generator.js';

test('gaps are requested after a short wait, re-requested, and forgotten once filled', () => {
  const n = new NackGenerator();
  n.onPacket(111, 10, 0);
  n.onPacket(111, 11, 1);
  n.onPacket(111, 14, 2); // 12 and 13 missing
  n.onPacket(222, 100, 2); // another layer: its own numbering
  n.onPacket(222, 102, 3); // 101 missing
  assert.deepEqual([...n.due(5)], [], 'reordering gets a moment first');
  assert.deepEqual([...n.due(20)], [[111, [12, 13]], [222, [101]]]);
  assert.deepEqual([...n.due(40)], [], 'not asked again too soon');
  n.onPacket(111, 12, 50); // retransmission arrives
  assert.deepEqual([...n.due(130)], [[111, [13]], [222, [101]]]);
});

test('wraparound, big gaps and give-up', () => {
  const n = new NackGenerator();
  n.onPacket(1, 65534, 0);
  n.onPacket(1, 1, 1); // 65535 and 0 missing across the wrap
  assert.deepEqual([...n.due(20)], [[1, [65535, 0]]]);
  assert.deepEqual([...n.due(2000)], [], 'given up after a second');
  n.onPacket(1, 5, 2001); // 3 and 4 missing
  n.onPacket(1, 2000, 2002); // an outage-sized jump (a restart) is not loss to repair
  assert.deepEqual([...n.due(2100)], [], 'the jump cleared what was pending');
});

test('duplicates are recognised (Chromium resends old packets on RTX as padding); late ones are not', () => {
  const n = new NackGenerator();
  assert.equal(n.onPacket(7, 100, 0), true);
  assert.equal(n.onPacket(7, 101, 1), true);
  assert.equal(n.onPacket(7, 104, 2), true); // 102, 103 missing
  assert.equal(n.onPacket(7, 101, 3), false, 'a second copy of 101');
  assert.equal(n.onPacket(7, 102, 4), true, 'a retransmission fills its hole');
  assert.equal(n.onPacket(7, 102, 5), false);
  n.due(3000); // gave up on 103
  assert.equal(n.onPacket(7, 103, 3001), true, 'still new after we stopped asking for it');
  assert.equal(n.onPacket(7, 2000, 3002), true);
  assert.equal(n.onPacket(7, 500, 3003), false, 'far older than the window');
  assert.equal(n.onPacket(7, 1999, 3004), true, 'not received yet, within the window');
});

test('a far publisher is asked again only after its round trip (it ignores asks sooner), and a packet given up is reported', () => {
  const n = new NackGenerator();
  n.onPacket(9, 1, 0);
  n.onPacket(9, 3, 0); // 2 missing
  const asks: number[] = [];
  const abandoned = new Set<number>();
  for (let t = 0; t <= 1200; t += 20) {
    if (n.due(t, 200, abandoned).get(9)?.includes(2)) asks.push(t);
  }
  // 10 ms for reordering, then every 200 + 20 ms: five real attempts within the second.
  assert.deepEqual(asks, [20, 240, 460, 680, 900]);
  assert.deepEqual([...abandoned], [9], 'given up once the fifth ask had its round trip');
  // A near publisher: every 100 ms, and nothing reported while the packet can still come.
  const near = new NackGenerator();
  near.onPacket(4, 1, 0);
  near.onPacket(4, 3, 0);
  const nearAsks: number[] = [];
  const none = new Set<number>();
  for (let t = 0; t <= 400; t += 20) if (near.due(t, 5, none).get(4)) nearAsks.push(t);
  assert.deepEqual(nearAsks, [20, 120, 220, 320]);
  assert.equal(none.size, 0);
  near.onPacket(4, 2, 410); // repaired
  for (let t = 420; t <= 1500; t += 20) near.due(t, 5, none);
  assert.equal(none.size, 0, 'a repaired packet is never reported as given up');
});

test('the uplink loss: gaps before retransmission, over at least 50 packets', () => {
  const n = new NackGenerator();
  let seq = 0;
  for (let i = 0; i < 40; i++) n.onPacket(5, seq++, i);
  assert.equal(n.lossSinceLastCall(), null, 'too few packets yet');
  for (let i = 0; i < 60; i++) {
    if (i % 10 === 0) seq++; // one packet in ten missing
    n.onPacket(5, seq++, 100 + i);
  }
  n.onPacket(5, 3, 200); // a retransmission: not an arrival in order
  const loss = n.lossSinceLastCall()!;
  // 39 arrivals after the first packet, then 60 with 6 gaps.
  assert.ok(Math.abs(loss - 6 / 105) < 1e-9, `loss ${loss}`);
  assert.equal(n.lossSinceLastCall(), null, 'counted afresh after each value');
});

test('the repair round trip: ask → retransmission, median of the last 2 s, single asks only', () => {
  const n = new NackGenerator();
  let seq = 0;
  let t = 0;
  n.onPacket(6, seq++, t);
  assert.equal(n.repairRoundTripMs(t), null);
  // Three losses repaired 210, 230 and 250 ms after their one ask.
  for (const rtt of [210, 250, 230]) {
    const lost = seq++;
    n.onPacket(6, seq++, t); // the gap is noticed
    t += 20;
    assert.deepEqual(n.due(t, null).get(6), [lost]);
    n.onPacket(6, lost, t + rtt);
    t += rtt + 10;
  }
  assert.equal(n.repairRoundTripMs(t), 230);
  // A packet asked for twice: which ask was answered is unknown, so it is no sample.
  const twice = seq++;
  n.onPacket(6, seq++, t);
  n.due(t + 20, null);
  n.due(t + 140, null);
  n.onPacket(6, twice, t + 150);
  assert.equal(n.repairRoundTripMs(t + 150), 230);
  // A late packet that came before any ask is no sample either.
  const late = seq++;
  n.onPacket(6, seq++, t + 200);
  n.onPacket(6, late, t + 205);
  assert.equal(n.repairRoundTripMs(t + 205), 230);
  // Samples older than 2 s are forgotten.
  assert.equal(n.repairRoundTripMs(t + 2500), null);
});
