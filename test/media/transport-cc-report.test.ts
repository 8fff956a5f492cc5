// Reading subscribers' transport-cc feedback without werift's per-packet objects
// (src/media/rtcp/transport-cc-report.ts): the bytes come from werift's own serializer and from
// our feedback builder, so the reader is checked against two independent writers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RecvDelta, RtcpHeader, RtcpPacketConverter, RtcpTransportLayerFeedback, RunLengthChunk, StatusVectorChunk, TransportWideCC } from 'werift';
import { TransportCcFeedback } from '../../src/media/rtcp/transport-cc-feedback.js';
import { keepTransportCcRaw, TwccReport, type RawTransportCc } from '../../src/media/rtcp/transport-cc-report.js';

/** The FCI (from the sender SSRC on) of a serialized transport-cc RTCP packet. */
const fciOf = (rtcp: Buffer) => rtcp.subarray(4, (rtcp.readUInt16BE(2) + 1) * 4);
const packets = (r: TwccReport) => Array.from({ length: r.length }, (_, i) => ({ seq: r.seq[i], arrivalMs: Number.isNaN(r.arrivalMs[i]) ? null : r.arrivalMs[i] }));

test('run-length and status-vector chunks (1- and 2-bit symbols), small and large deltas, a sequence-number wrap', () => {
  const bytes = new TransportWideCC({
    senderSsrc: 1,
    mediaSourceSsrc: 2,
    baseSequenceNumber: 65534,
    packetStatusCount: 13,
    referenceTime: 10, // × 64 ms
    fbPktCount: 0,
    packetChunks: [
      new RunLengthChunk({ packetStatus: 1, runLength: 2 }), // 65534, 65535: small deltas
      new StatusVectorChunk({ symbolSize: 1, symbolList: [0, 2, 1, 0, 3, 0, 1] }), // 0 lost, 1 large, 2 small, 3 lost, 4 no delta, 5 lost, 6 small
      new StatusVectorChunk({ symbolSize: 0, symbolList: [1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }), // 7, 9, 10 small; 8 lost; then beyond the count
    ],
    recvDeltas: [1000, 250, -2000, 500, 750, 0, 1250, 63750].map((delta) => new RecvDelta({ delta })),
    header: new RtcpHeader({ count: TransportWideCC.count, type: RtcpTransportLayerFeedback.type }),
  }).serialize();
  const r = new TwccReport();
  assert.ok(r.read(bytes.subarray(4)), 'werift writes no padding (and a length field rounded down): all bytes after the header');
  assert.deepEqual(packets(r), [
    { seq: 65534, arrivalMs: 641 },
    { seq: 65535, arrivalMs: 641.25 },
    { seq: 0, arrivalMs: null },
    { seq: 1, arrivalMs: 639.25 },
    { seq: 2, arrivalMs: 639.75 },
    { seq: 3, arrivalMs: null },
    { seq: 5, arrivalMs: null },
    { seq: 6, arrivalMs: 640.5 },
    { seq: 7, arrivalMs: 640.5 },
    { seq: 8, arrivalMs: null },
    { seq: 9, arrivalMs: 641.75 },
    { seq: 10, arrivalMs: 705.5 },
  ]);
});

test('what our own feedback builder writes reads back as the arrivals it was given', () => {
  const fb = new TransportCcFeedback(0x1234, () => 0xabcd);
  const t0 = 3_000_000_000; // µs
  const sent: { seq: number; at: number | null }[] = [];
  let at = t0;
  for (let i = 0; i < 300; i++) {
    const seq = (65_400 + i) & 0xffff;
    at += i % 50 === 0 ? 90_000 : 250 * (i % 7); // now and then a gap that needs a large delta
    const lost = i % 13 === 5;
    sent.push({ seq, at: lost ? null : at });
    if (!lost) fb.onPacket(seq, at);
  }
  const r = new TwccReport();
  assert.ok(r.read(fciOf(fb.build()!)));
  const got = packets(r);
  assert.equal(got.length, 300, 'every packet from the first to the last, lost ones included');
  const first = got[0]!.arrivalMs!;
  got.forEach((p, i) => {
    assert.equal(p.seq, sent[i]!.seq);
    if (sent[i]!.at === null) assert.equal(p.arrivalMs, null, `packet ${i} reported lost`);
    else assert.equal(Math.round((p.arrivalMs! - first) * 1000), sent[i]!.at! - sent[0]!.at!, `packet ${i}: arrival relative to the first`);
  });
});

test('cut-short and garbage messages: no exception, only what the bytes hold', () => {
  const fb = new TransportCcFeedback(1, () => 2);
  for (let i = 0; i < 20; i++) fb.onPacket(i, 1_000_000 + i * 1000);
  const fci = fciOf(fb.build()!);
  const r = new TwccReport();
  assert.equal(r.read(fci.subarray(0, 15)), false, 'shorter than the fixed fields');
  assert.ok(r.read(fci.subarray(0, fci.length - 4)));
  assert.ok(r.length < 20, `deltas cut off: ${r.length} packets`);
  for (let i = 0; i < 2000; i++) {
    const junk = randomBytes(16 + (i % 64));
    assert.doesNotThrow(() => r.read(junk));
    assert.ok(r.length <= junk.readUInt16BE(10));
  }
  // A status count far above the usual (65535 packets) grows the arrays instead of failing.
  const big = Buffer.alloc(16 + 2);
  big.writeUInt16BE(65535, 10);
  big.writeUInt16BE(0x1fff, 16); // one run of 8191 "not received"
  assert.ok(r.read(big));
  assert.equal(r.length, 8191);
});

test('werift, once told, keeps transport-cc messages as bytes and still routes them by media SSRC', () => {
  keepTransportCcRaw();
  const fb = new TransportCcFeedback(0x1111, () => 0x2222);
  fb.onPacket(7, 5_000_000);
  const [packet] = RtcpPacketConverter.deSerialize(fb.build()!) as RtcpTransportLayerFeedback[];
  const raw = packet!.feedback as unknown as RawTransportCc;
  assert.equal(raw.count, TransportWideCC.count);
  assert.equal(raw.mediaSourceSsrc, 0x2222);
  assert.equal(raw.senderSsrc, 0x1111);
  assert.deepEqual(raw.packetResults, []);
  const r = new TwccReport();
  assert.ok(r.read(raw.fci));
  assert.deepEqual(packets(r).map((p) => p.seq), [7]);
});
