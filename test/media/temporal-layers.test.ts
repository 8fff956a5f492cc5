// VP8 temporal-layer thinning: down at any frame, up only at a layer-sync frame of the next layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readVp8Temporal, TemporalFilter, type Vp8Temporal } from '../../src/media/temporal-layers.js';

/** A VP8 payload: descriptor with picture ID, TL0PICIDX and TID/Y, then a byte of frame. */
const packet = (tid: number, opts: { sync?: boolean; start?: boolean } = {}) =>
  Buffer.from([0x80 | (opts.start === false ? 0 : 0x10), 0xe0, 0x80, 0x01, 0x07, (tid << 6) | (opts.sync ? 0x20 : 0), 0x00]);

test('the descriptor: TID, Y and frame start; none without the T bit; cut short', () => {
  const t: Vp8Temporal = { tid: 0, sync: false, frameStart: false };
  assert.equal(readVp8Temporal(packet(2, { sync: true }), t), true);
  assert.deepEqual(t, { tid: 2, sync: true, frameStart: true });
  assert.equal(readVp8Temporal(packet(1, { start: false }), t), true);
  assert.deepEqual(t, { tid: 1, sync: false, frameStart: false });
  assert.equal(readVp8Temporal(Buffer.from([0x90, 0xc0, 0x81, 0x02, 0x05, 0x00]), t), true, 'no T bit');
  assert.equal(t.tid, -1);
  assert.equal(readVp8Temporal(Buffer.from([0x90, 0xe0, 0x81, 0x02, 0x05]), t), false, 'cut short before TID');
  assert.equal(readVp8Temporal(Buffer.from([]), t), false);
});

test('thinning: down at the next frame, up one layer at a time on sync frames, streams without TIDs pass', () => {
  const f = new TemporalFilter();
  assert.equal(f.idle, true);
  assert.equal(f.admits(packet(2)), true);
  f.target = 0;
  assert.equal(f.admits(packet(2, { start: false })), true, 'the rest of a frame already begun goes out whole');
  assert.equal(f.admits(packet(1)), false, 'from the next frame on: base layer only');
  assert.equal(f.admits(packet(0)), true);
  assert.equal(f.admits(packet(2, { sync: true })), false);
  assert.equal(f.layer, 0);
  f.target = 2;
  assert.equal(f.admits(packet(2, { sync: true })), false, 'TID 2 needs TID 1 first');
  assert.equal(f.admits(packet(1)), false, 'not a sync frame: it may reference a TID 1 frame we left out');
  assert.equal(f.admits(packet(1, { sync: true })), true, 'a sync frame of TID 1: up one layer');
  assert.equal(f.admits(packet(1, { start: false })), true);
  assert.equal(f.admits(packet(2)), false);
  assert.equal(f.admits(packet(2, { sync: true })), true, 'then TID 2 at its sync frame');
  assert.equal(f.layer, 2);
  assert.equal(f.idle, true);
  assert.equal(f.droppedPackets, 5);
  f.target = 1;
  assert.equal(f.admits(Buffer.from([0x90, 0xc0, 0x81, 0x02, 0x05, 0x00])), true, 'no temporal layers: nothing to thin');
  // A new stretch (a switch at a keyframe) starts at the target.
  f.restart();
  assert.equal(f.layer, 1);
  assert.equal(f.admits(packet(2, { sync: true })), false, 'TID 2 is above the target');
  assert.equal(f.admits(packet(1)), true);
});
