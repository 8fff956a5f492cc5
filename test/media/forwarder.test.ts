// The forwarder's layer switches on a lossy publisher's uplink: a switch waits until the new
// layer's keyframe is complete (holes filled by retransmissions), keeps the old layer until then,
// sends the held packets in order, drops the new layer's late packets from before the keyframe,
// and gives up on a keyframe that never completes.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { RtpHeader, RtpPacket, type RTCRtpTransceiver } from 'werift';
import { Forwarder } from '../../src/media/forwarder.js';
import type { PeerTransport } from '../../src/media/peer-transport.js';
import type { PublishedMedia } from '../../src/media/sfu-room.js';

/** A VP8 packet: `start` = first packet of a frame, `key` = of a keyframe. */
function vp8(seq: number, ts: number, opts: { start?: boolean; key?: boolean; marker?: boolean } = {}): RtpPacket {
  const payload = Buffer.from([opts.start ? 0x10 : 0x00, opts.key ? 0x00 : 0x01, 0xaa, 0xbb]);
  return new RtpPacket(new RtpHeader({ payloadType: 96, sequenceNumber: seq, timestamp: ts, marker: !!opts.marker, ssrc: 1, extensions: [] }), payload);
}

function setup() {
  const sent: { seq: number; ts: number }[] = [];
  const keyframeAsks: (number | undefined)[] = [];
  const switches: number[] = [];
  const transport = { sendRtp: (_t: unknown, rtp: RtpPacket) => sent.push({ seq: rtp.header.sequenceNumber, ts: rtp.header.timestamp }) } as unknown as PeerTransport;
  const transceiver = { sender: { ssrc: 5, canSendRtp: () => true, replaceRTP: (h: RtpHeader) => switches.push(h.sequenceNumber) } } as unknown as RTCRtpTransceiver;
  const track = { kind: 'video', codec: 'VP8' } as unknown as PublishedMedia;
  const f = new Forwarder(track, transport, transceiver, (layer) => keyframeAsks.push(layer));
  return { f, sent, keyframeAsks, switches };
}

/** Starts the forwarder on layer 0 with a whole keyframe (seq 100–102). */
function onLayer0(s: ReturnType<typeof setup>) {
  s.f.setTarget(0, false, Date.now());
  s.f.forward(0, vp8(100, 9000, { start: true, key: true }));
  s.f.forward(0, vp8(101, 9000));
  s.f.forward(0, vp8(102, 9000, { marker: true }));
  assert.deepEqual(s.sent.map((p) => p.seq), [100, 101, 102], 'a whole keyframe starts layer 0 at once');
  assert.equal(s.f.currentLayer, 0);
}

test('a switch waits for the new layer\'s whole keyframe, keeps the old layer until then, and sends the held packets in order', () => {
  const s = setup();
  onLayer0(s);
  s.f.setTarget(1, false, Date.now()); // down or sideways: no upgrade hold
  assert.equal(s.keyframeAsks.at(-1), 1, 'the new layer\'s keyframe is asked for');
  // Layer 1's keyframe: 500, 501, (502 lost on the uplink), 503 (marker); then a delta frame.
  s.f.forward(1, vp8(500, 50_000, { start: true, key: true }));
  s.f.forward(0, vp8(103, 12_000, { start: true }));
  s.f.forward(1, vp8(501, 50_000));
  s.f.forward(1, vp8(503, 50_000, { marker: true }));
  s.f.forward(1, vp8(504, 53_000, { start: true, marker: true }));
  s.f.forward(0, vp8(104, 12_000, { marker: true }));
  assert.equal(s.f.currentLayer, 0, 'still on layer 0: the keyframe has a hole');
  assert.deepEqual(s.sent.map((p) => p.seq), [100, 101, 102, 103, 104]);
  // The retransmission fills the hole: the switch happens, everything held goes out in order.
  s.f.forward(1, vp8(502, 50_000));
  assert.equal(s.f.currentLayer, 1);
  assert.deepEqual(s.switches, [500]);
  assert.deepEqual(s.sent.slice(5).map((p) => p.seq), [500, 501, 502, 503, 504]);
  // Then layer 1 flows; layer 0 is dropped; a late retransmission of layer 1 from before the
  // keyframe is dropped too (it would land on numbers the subscriber had from layer 0).
  s.f.forward(0, vp8(105, 15_000, { start: true, marker: true }));
  s.f.forward(1, vp8(498, 47_000));
  s.f.forward(1, vp8(505, 56_000, { start: true, marker: true }));
  assert.deepEqual(s.sent.slice(10).map((p) => p.seq), [505]);
});

test('a keyframe whose first packet is repaired late cannot start a switch; the next whole one does', () => {
  const s = setup();
  onLayer0(s);
  s.f.setTarget(1, false, Date.now());
  // 700 (the keyframe's first packet) is lost; 701 and 702 come; then 700 as a retransmission.
  s.f.forward(1, vp8(701, 70_000));
  s.f.forward(1, vp8(702, 70_000, { marker: true }));
  s.f.forward(1, vp8(700, 70_000, { start: true, key: true }));
  assert.equal(s.f.currentLayer, 0);
  s.f.forward(1, vp8(703, 73_000, { start: true, key: true, marker: true }));
  assert.equal(s.f.currentLayer, 1, 'a one-packet keyframe is whole at once');
  assert.deepEqual(s.sent.slice(3).map((p) => p.seq), [703]);
});

test('a keyframe that never completes is given up and asked for again; the old layer goes on meanwhile', () => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  try {
    const s = setup();
    onLayer0(s);
    s.f.setTarget(1, false, Date.now());
    const asks = s.keyframeAsks.length;
    s.f.forward(1, vp8(900, 90_000, { start: true, key: true }));
    s.f.forward(1, vp8(902, 90_000, { marker: true })); // 901 never comes
    for (let i = 0; i < 20; i++) {
      mock.timers.tick(100);
      s.f.forward(0, vp8(103 + i, 12_000 + i * 3000, { start: true, marker: true }));
      s.f.forward(1, vp8(903 + i, 93_000 + i * 3000, { start: true, marker: true }));
    }
    assert.equal(s.f.currentLayer, 0, 'never switched onto an incomplete keyframe');
    assert.equal(s.sent.length, 3 + 20, 'layer 0 kept flowing');
    assert.ok(s.keyframeAsks.length > asks, 'another keyframe asked for once the wait was given up');
    // The next keyframe, whole, is taken.
    s.f.forward(1, vp8(950, 200_000, { start: true, key: true }));
    s.f.forward(1, vp8(951, 200_000, { marker: true }));
    assert.equal(s.f.currentLayer, 1);
    assert.deepEqual(s.sent.slice(23).map((p) => p.seq), [950, 951]);
  } finally {
    mock.timers.reset();
  }
});

test('a switch steps our timestamps by the capture time between the frames when the publisher\'s sender reports tell it, else by the time between sends', () => {
  for (const withReports of [true, false]) {
    const steps: number[] = [];
    const transport = { sendRtp: () => undefined } as unknown as PeerTransport;
    const transceiver = { sender: { ssrc: 5, canSendRtp: () => true, replaceRTP: (_h: RtpHeader, _d: boolean, step: number) => steps.push(step) } } as unknown as RTCRtpTransceiver;
    const track = { kind: 'video', codec: 'VP8' } as unknown as PublishedMedia;
    // Layer 0's timestamps start at 9000 at capture second 100; layer 1's at 50 000 at second 100.
    const clocks = [{ ntpSeconds: 100, rtpTimestamp: 9000 }, { ntpSeconds: 100, rtpTimestamp: 50_000 }];
    const f = new Forwarder(track, transport, transceiver, () => undefined, (layer) => (withReports ? clocks[layer] : undefined));
    f.setTarget(0, false, Date.now());
    f.forward(0, vp8(100, 9000, { start: true, key: true, marker: true })); // captured at 100 s
    f.setTarget(1, false, Date.now());
    // The new layer's keyframe was captured 1.2 s after the last frame sent: the old layer's last
    // packets had waited in the publisher's pacer, so it arrives right after them.
    f.forward(1, vp8(500, 50_000 + 1.2 * 90_000, { start: true, key: true, marker: true }));
    assert.equal(f.currentLayer, 1);
    assert.equal(steps.length, 1);
    if (withReports) assert.equal(steps[0], 1.2 * 90_000);
    else assert.ok(steps[0]! >= 1 && steps[0]! < 0.5 * 90_000, `by the time between sends: ${steps[0]}`);
  }
});
