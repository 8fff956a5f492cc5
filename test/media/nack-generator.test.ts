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
