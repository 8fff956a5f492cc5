// Our transport-cc feedback parses as RFC-style TWCC (checked with werift's independent parser)
// and reports exactly which packets arrived and when.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtcpPacketConverter, TransportWideCC } from 'werift';
import { TransportCcFeedback } from '../../src/media/rtcp/transport-cc-feedback.js';

function parse(buf: Buffer): TransportWideCC {
  const [packet] = RtcpPacketConverter.deSerialize(buf) as unknown as { feedback: TransportWideCC }[];
  assert.ok(packet && packet.feedback instanceof TransportWideCC, 'parses as a transport-wide CC feedback');
  return packet.feedback;
}

test('reports received and lost packets with their arrival deltas', () => {
  const fb = new TransportCcFeedback(0x1234, () => 0xabcd);
  const t0 = 1_000_000_000; // µs
  const arrivals: [number, number][] = [
    [100, t0],
    [101, t0 + 1_000],
    // 102 lost
    [103, t0 + 5_000],
    [104, t0 + 5_250],
    [105, t0 + 200_000], // a large delta (needs two bytes)
  ];
  for (const [seq, at] of arrivals) fb.onPacket(seq, at);
  const buf = fb.build()!;
  assert.equal(buf.length % 4, 0, 'RTCP packets are 32-bit aligned');
  assert.equal(buf.readUInt16BE(2), buf.length / 4 - 1, 'length field');
  const twcc = parse(buf);
  assert.equal(twcc.baseSequenceNumber, 100);
  assert.equal(twcc.packetStatusCount, 6);
  assert.equal(twcc.mediaSourceSsrc, 0xabcd);
  const deltasUs = twcc.recvDeltas.map((d) => d.delta);
  // First delta is from the reference time (64 ms units); the rest are inter-arrival.
  assert.deepEqual(deltasUs.slice(1), [1_000, 4_000, 250, 194_750]);
  assert.equal(twcc.recvDeltas.length, 5, 'one delta per received packet, none for the lost one');
  assert.equal(fb.build(), null, 'nothing new, no packet');
});

test('sequence numbers wrap around 65535 and reordering inside a report is fine', () => {
  const fb = new TransportCcFeedback(1, () => 2);
  const t0 = 5_000_000;
  fb.onPacket(65534, t0);
  fb.onPacket(0, t0 + 2_000);
  fb.onPacket(65535, t0 + 1_000);
  fb.onPacket(1, t0 + 3_000);
  const twcc = parse(fb.build()!);
  assert.equal(twcc.baseSequenceNumber, 65534);
  assert.equal(twcc.packetStatusCount, 4);
  assert.equal(twcc.recvDeltas.length, 4);
  fb.onPacket(2, t0 + 4_000);
  const next = parse(fb.build()!);
  assert.equal(next.baseSequenceNumber, 2);
  assert.equal(next.packetStatusCount, 1);
});

test('a feedback count byte increases per packet', () => {
  const fb = new TransportCcFeedback(1, () => 2);
  fb.onPacket(10, 1_000_000);
  const a = parse(fb.build()!);
  fb.onPacket(11, 1_001_000);
  const b = parse(fb.build()!);
  assert.equal(b.fbPktCount, (a.fbPktCount + 1) & 0xff);
});
