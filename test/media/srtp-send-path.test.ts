// Our SRTP send context and RTP send path (src/media/send-path/) against RFC 3711's test vectors,
// an independent per-packet reference (Node's aes-128-ctr and HMAC), and werift's own SRTP
// implementation: our protected packets must equal werift's byte for byte, and werift's
// receiving side (libsrtp-compatible) must accept and decrypt them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { RtcpPacketConverter, RtcpSourceDescriptionPacket, RtcpSrPacket, RtpHeader, RtpPacket, SrtcpSession, SrtpSession } from 'werift';
import { deriveSessionKey, RolloverCounter, SrtpSendContext, SRTP_AEAD_AES_128_GCM, SRTP_AES128_CM_HMAC_SHA1_80, type SrtpProfile } from '../../src/media/srtp/srtp.js';
import { protectPacket, rtpHeader } from '../helpers/rtp.js';
import { Vp8Ids, Vp8Numbering } from '../../src/media/send-path/vp8-numbering.js';
import { ExtensionLayout, HISTORY_SIZE, RtpSendPath, SR_ACTIVE_MS, URI_PLAYOUT_DELAY, type DtlsTransportLike, type SenderLike } from '../../src/media/send-path/rtp-send-path.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** A 64-bit NTP timestamp as ms since the Unix epoch. */
const ntpToMs = (ntp: bigint) => (Number(ntp >> 32n) - 2_208_988_800) * 1000 + (Number(ntp & 0xffffffffn) / 2 ** 32) * 1000;


function weriftSessions(profile: SrtpProfile) {
  const key = randomBytes(16);
  const salt = randomBytes(profile === SRTP_AEAD_AES_128_GCM ? 12 : 14);
  const other = { key: randomBytes(16), salt: randomBytes(salt.length) };
  const sender = new SrtpSession({ keys: { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: other.key, remoteMasterSalt: other.salt }, profile });
  const receiver = new SrtpSession({ keys: { localMasterKey: other.key, localMasterSalt: other.salt, remoteMasterKey: key, remoteMasterSalt: salt }, profile });
  return { key, salt, sender, receiver };
}

/** An independent per-packet SRTP (AES-CM + HMAC-SHA1-80) from session keys: Node's aes-128-ctr and HMAC. */
function referenceProtect(keys: { key: Buffer; salt: Buffer; auth: Buffer }, header: Buffer, payload: Buffer, ssrc: number, seq: number, roc: number): Buffer {
  const iv = Buffer.alloc(16);
  keys.salt.copy(iv);
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
  iv.writeUInt32BE((iv.readUInt32BE(8) ^ roc) >>> 0, 8);
  iv.writeUInt16BE(iv.readUInt16BE(12) ^ seq, 12);
  const enc = createCipheriv('aes-128-ctr', keys.key, iv).update(payload);
  const rocBytes = Buffer.alloc(4);
  rocBytes.writeUInt32BE(roc);
  const tag = createHmac('sha1', keys.auth).update(header).update(enc).update(rocBytes).digest().subarray(0, 10);
  return Buffer.concat([header, enc, tag]);
}

test('key derivation matches RFC 3711 appendix B.3', () => {
  const masterKey = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
  const masterSalt = hex('0EC675AD498AFEEBB6960B3AABE6');
  assert.equal(deriveSessionKey(masterKey, masterSalt, 0, 16).toString('hex'), 'c61e7a93744f39ee10734afe3ff7a087');
  assert.equal(deriveSessionKey(masterKey, masterSalt, 2, 14).toString('hex'), '30cbbc08863d8c85d49db34a9ae1');
  assert.equal(deriveSessionKey(masterKey, masterSalt, 1, 20).toString('hex'), 'cebe321f6ff7716b6fd4ab49af256a156d38baa4');
});

test('AES-CM keystream matches RFC 3711 appendix B.2', () => {
  const ctx = new SrtpSendContext({ key: hex('2B7E151628AED2A6ABF7158809CF4F3C'), salt: hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD') }, SRTP_AES128_CM_HMAC_SHA1_80);
  // An all-zero payload encrypts to the keystream itself (SSRC 0, ROC 0, SEQ 0).
  const packet = Buffer.alloc(12 + 48);
  packet[0] = 0x80;
  const out = protectPacket(ctx, packet, 12, 0);
  assert.equal(out.subarray(12, 60).toString('hex'), 'e03ead0935c95e80e166b16dd92b4eb4' + 'd23513162b02d0f72a43a2fe4a5f97ab' + '41e95b3bb0a2e8dd477901e4fca894c0');
});

test('protect equals an independent per-packet AES-CTR + HMAC-SHA1 reference', () => {
  const key = randomBytes(16);
  const salt = randomBytes(14);
  const auth = randomBytes(20);
  const ctx = new SrtpSendContext({ key, salt, auth }, SRTP_AES128_CM_HMAC_SHA1_80);
  for (const [payloadLength, seq, roc, ssrc] of [
    [0, 1, 0, 1],
    [1, 2, 0, 0xffffffff],
    [15, 65535, 3, 0x12345678],
    [16, 0, 4, 7],
    [1187, 1234, 0xfffffffe, 0x8000_0001],
    [1400, 9, 1, 99],
  ] as const) {
    const header = Buffer.alloc(20);
    header[0] = 0x90;
    header[1] = 96;
    header.writeUInt16BE(seq, 2);
    header.writeUInt32BE(123456, 4);
    header.writeUInt32BE(ssrc, 8);
    header.writeUInt32BE(0xbede0001, 12);
    header.writeUInt32BE(0x10ab0000, 16);
    const payload = randomBytes(payloadLength);
    const out = protectPacket(ctx, Buffer.concat([header, payload]), 20, roc);
    assert.deepEqual(out, referenceProtect({ key, salt, auth }, header, payload, ssrc, seq, roc), `payload ${payloadLength}, seq ${seq}, roc ${roc}`);
  }
});

test('keystream made ahead: interleaved SSRCs, gaps, late and repeated packets, longer and shorter payloads, a ROC wrap', () => {
  // The context makes the keystream of the next packets of each SSRC in one call; whatever order
  // the packets come in, every one must still equal the per-packet reference.
  const key = randomBytes(16);
  const salt = randomBytes(14);
  const auth = randomBytes(20);
  const ctx = new SrtpSendContext({ key, salt, auth }, SRTP_AES128_CM_HMAC_SHA1_80);
  const streams = [
    { ssrc: 0x11111111, index: 65_520 }, // wraps into ROC 1 within the run
    { ssrc: 0x22222222, index: 7 },
    { ssrc: 0x33333333, index: 3 * 65_536 + 100 },
  ];
  let checked = 0;
  for (let i = 0; i < 400; i++) {
    const s = streams[i % 3]!;
    const r = (i * 7919) % 100;
    let index = s.index;
    if (r < 10) index = s.index + 1 + (r % 5); // a gap (lost at the publisher)
    else if (r < 15) index = Math.max(0, s.index - 1 - (r % 20)); // late: an older packet
    else if (r < 17) index = s.index - 1; // the same index again (a resend without RTX)
    if (index > s.index) s.index = index;
    if (r >= 15) s.index++;
    const payloadLength = r < 30 ? 1 + ((i * 37) % 1400) : 100 + ((i * 13) % 300);
    const seq = index % 65_536;
    const roc = Math.floor(index / 65_536);
    const header = rtpHeader(seq, i, s.ssrc);
    const payload = randomBytes(payloadLength);
    const out = protectPacket(ctx, Buffer.concat([header, payload]), 12, roc);
    assert.deepEqual(out, referenceProtect({ key, salt, auth }, header, payload, s.ssrc, seq, roc), `packet ${i}: ssrc ${s.ssrc.toString(16)}, roc ${roc}, seq ${seq}, ${payloadLength} bytes`);
    checked++;
  }
  assert.equal(checked, 400);
  assert.ok(streams[0]!.index > 65_536, 'the first stream crossed a ROC wrap');
});

for (const [name, profile] of [
  ['AES_CM_128_HMAC_SHA1_80', SRTP_AES128_CM_HMAC_SHA1_80],
  ['AEAD_AES_128_GCM', SRTP_AEAD_AES_128_GCM],
] as const) {
  test(`${name}: byte for byte what werift's SRTP makes, across a sequence-number wrap, and werift decrypts it`, () => {
    const { key, salt, sender, receiver } = weriftSessions(profile);
    const ctx = new SrtpSendContext(key, salt, profile);
    const roc = new RolloverCounter();
    const ssrc = 0xdeadbeef;
    let seq = 65530;
    for (let i = 0; i < 20; i++, seq = (seq + 1) & 0xffff) {
      const payload = randomBytes(i === 3 ? 0 : 50 + i * 60);
      const header = new RtpHeader({ payloadType: 96, marker: i % 4 === 0, sequenceNumber: seq, timestamp: 1000 * i, ssrc, extensions: [{ id: 3, payload: Buffer.from([0, i]) }, { id: 4, payload: Buffer.from('1') }] });
      const plain = new RtpPacket(header, payload).serialize();
      const ours = protectPacket(ctx, plain, header.serializeSize, roc.next(seq));
      const theirs = sender.encrypt(payload, header);
      assert.deepEqual(ours, theirs, `packet ${i} (seq ${seq})`);
      assert.deepEqual(receiver.decrypt(ours), plain, `werift decrypts packet ${i}`);
    }
  });
}

test('a tampered packet is refused by werift (the tag covers header and payload)', () => {
  const { key, salt, receiver } = weriftSessions(SRTP_AES128_CM_HMAC_SHA1_80);
  const ctx = new SrtpSendContext(key, salt, SRTP_AES128_CM_HMAC_SHA1_80);
  const plain = new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: 5, timestamp: 9, ssrc: 42 }), randomBytes(100)).serialize();
  const out = protectPacket(ctx, plain, 12, 0);
  out[20]! ^= 1;
  assert.throws(() => receiver.decrypt(out));
});

test('rollover counter: wraps forward, keeps the old ROC for late packets from before the wrap', () => {
  const r = new RolloverCounter();
  assert.equal(r.next(65000), 0);
  assert.equal(r.next(65535), 0);
  assert.equal(r.next(2), 1, 'wrapped');
  assert.equal(r.next(65534), 0, 'a late packet from before the wrap');
  assert.equal(r.next(3), 1);
  assert.equal(r.next(40000), 0, 'more than half the space ahead is read as late (RFC 3711 §3.3.1)');
  assert.equal(r.next(20000), 1);
  assert.equal(r.next(40000), 1);
  assert.equal(r.next(60000), 1);
  assert.equal(r.next(10), 2, 'wrapped again');
  r.reset();
  assert.equal(r.next(30000), 0);
});

// ------------------------------------------------------------------ the send path, with fake werift objects

const EXTENSIONS = [
  { uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', id: 3 },
  { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4 },
  { uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', id: 2 },
  { uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: 1 },
];

/**
 * A UDP socket as dgram has it, as far as the send path uses it: send() resolves the address
 * with the handle's lookup (asynchronously, as dns.lookup does, unless the send path made it
 * answer IP literals at once) and then either hands a copy to the kernel at once or, when
 * `queued`, keeps the caller's buffer until later (libuv's send queue: the kernel's buffer was
 * full). `wire` gets what the kernel would send, read when it sends it.
 */
function fakeDgramSocket(wire: Buffer[], expect: string, opts: { queued?: boolean } = {}) {
  const held: Buffer[] = [];
  const state = { handle: { lookup: (address: string, cb: (err: Error | null, ip: string) => void) => void setImmediate(() => cb(null, address)) } };
  const socket = {
    [Symbol('state symbol')]: state,
    send(b: Buffer, port: number, host: string) {
      assert.equal(`${host}:${port}`, expect, "sent to the pair's remote candidate");
      state.handle.lookup(host, () => {
        if (opts.queued) held.push(b);
        else wire.push(Buffer.from(b));
      });
    },
    getSendQueueCount: () => held.length,
    /** The queued sends go out now. */
    flush: () => {
      for (const b of held.splice(0)) wire.push(Buffer.from(b));
    },
  };
  return socket;
}

function fakeSender(profile: SrtpProfile = SRTP_AES128_CM_HMAC_SHA1_80, remote = { host: '127.0.0.1', port: 5000 }, socketOpts: { queued?: boolean } = {}) {
  const { key, salt, receiver } = weriftSessions(profile);
  const rtcpKeys = { localMasterKey: randomBytes(16), localMasterSalt: randomBytes(14), remoteMasterKey: randomBytes(16), remoteMasterSalt: randomBytes(14) };
  const rtcpOut = new SrtcpSession({ keys: rtcpKeys, profile: SRTP_AES128_CM_HMAC_SHA1_80 });
  const rtcpIn = new SrtcpSession({ keys: { localMasterKey: rtcpKeys.remoteMasterKey, localMasterSalt: rtcpKeys.remoteMasterSalt, remoteMasterKey: rtcpKeys.localMasterKey, remoteMasterSalt: rtcpKeys.localMasterSalt }, profile: SRTP_AES128_CM_HMAC_SHA1_80 });
  const wire: Buffer[] = [];
  const socket = fakeDgramSocket(wire, `${remote.host}:${remote.port}`, socketOpts);
  const pair = { protocol: { type: 'stun', transport: { type: 'udp', closed: false, socket } }, remoteCandidate: remote, packetsSent: 0, bytesSent: 0 };
  const dtls: DtlsTransportLike = {
    state: 'connected',
    srtp: { config: { keys: { localMasterKey: key, localMasterSalt: salt }, profile } },
    srtcp: { encrypt: (rtcp: Buffer) => rtcpOut.encrypt(rtcp) },
    transportSequenceNumber: 100,
    bytesSent: 0,
    packetsSent: 0,
    iceTransport: { connection: { nominated: pair as never, canSendApplicationData: () => true, send: async () => undefined } },
  };
  const sender = {
    ssrc: 0x11111111,
    rtxSsrc: 0x22222222,
    stopped: false,
    codec: { payloadType: 96, clockRate: 90000 },
    rtxPayloadType: 97,
    rtxSequenceNumber: 65535,
    mid: '2',
    headerExtensions: EXTENSIONS,
    dtlsTransport: dtls,
    packetCount: 0,
    octetCount: 0,
    headerBytesSent: 0,
    rtpTimestamp: 0,
    ntpTimestamp: 0n,
    retransmittedPacketsSent: 0,
    retransmittedBytesSent: 0,
    cname: 'cname-of-the-sender',
    replaceRTP: (_header: unknown, _discontinuity?: boolean, _step?: number) => undefined,
  };
  return { sender, dtls, pair, wire, receiver, rtcpIn, socket };
}

const incoming = (seq: number, ts: number, payload: Buffer, marker = false) => new RtpPacket(new RtpHeader({ payloadType: 100, marker, sequenceNumber: seq, timestamp: ts, ssrc: 0xabc, extensions: [] }), payload);

test('send path: header rewritten, our extensions, transport-wide numbering, counters, and werift decrypts it', () => {
  const f = fakeSender();
  const path = new RtpSendPath();
  const stream = path.attach(f.sender as unknown as SenderLike);
  const payloads = [randomBytes(1100), randomBytes(900), randomBytes(30)];
  const twcc = payloads.map((p, i) => path.send(stream, incoming(500 + i, 90_000 + i * 3000, p, i === 1), 1000 + i));
  assert.deepEqual(twcc, [101, 102, 103]);
  assert.equal(f.dtls.transportSequenceNumber, 103);
  assert.equal(f.wire.length, 3);
  f.wire.forEach((w, i) => {
    const rtp = RtpPacket.deSerialize(f.receiver.decrypt(w));
    assert.equal(rtp.header.ssrc, 0x11111111);
    assert.equal(rtp.header.payloadType, 96);
    assert.equal(rtp.header.sequenceNumber, 500 + i, 'no offset before a switch (as werift)');
    assert.equal(rtp.header.timestamp, 90_000 + i * 3000);
    assert.equal(rtp.header.marker, i === 1);
    assert.equal(rtp.header.padding, false);
    assert.deepEqual(rtp.payload, payloads[i]);
    // Extensions sorted by id; audio level (nothing to say) left out.
    assert.deepEqual(rtp.header.extensions.map((e) => e.id), [2, 3, 4]);
    assert.equal(rtp.header.extensions[1]!.payload.readUInt16BE(0), 101 + i);
    assert.equal(rtp.header.extensions[2]!.payload.toString(), '2');
  });
  assert.equal(f.sender.packetCount, 3);
  assert.equal(f.sender.octetCount, 2030);
  assert.equal(f.sender.rtpTimestamp, 96_000);
  assert.equal(f.dtls.packetsSent, 3);
  assert.equal(f.pair.packetsSent, 3);
  // The sender report's NTP time is the wall clock of the last packet sent.
  const ms = ntpToMs((f.sender as unknown as { ntpTimestamp: bigint }).ntpTimestamp);
  assert.ok(Math.abs(ms - (performance.timeOrigin + 1002)) < 1, `NTP ${ms} vs ${performance.timeOrigin + 1002}`);
});

test('sender reports: one compound per transport for the streams that sent lately, stamped when made, parsed by werift', () => {
  const f = fakeSender();
  const path = new RtpSendPath();
  const video = path.attach(f.sender as unknown as SenderLike);
  const audioSender = { ...f.sender, ssrc: 0x33333333, codec: { payloadType: 111, clockRate: 48000 }, cname: 'cname-of-the-sender' };
  const audio = path.attach(audioSender as unknown as SenderLike);
  const idle = path.attach({ ...f.sender, ssrc: 0x44444444 } as unknown as SenderLike);
  assert.equal(path.senderReports(1000), null, 'nothing sent yet: no report');
  path.send(video, incoming(1, 90_000, randomBytes(500)), 1000);
  path.send(video, incoming(2, 93_000, randomBytes(700)), 1040);
  path.send(audio, incoming(7, 48_000, randomBytes(80)), 1050);
  assert.equal(idle.started, false);

  const plain = path.senderReports(1540)!;
  const packets = RtcpPacketConverter.deSerialize(plain);
  const srs = packets.filter((p): p is RtcpSrPacket => p instanceof RtcpSrPacket);
  assert.deepEqual(srs.map((p) => p.ssrc), [0x11111111, 0x33333333], 'one SR per stream that sent, none for the idle one');
  const wallNow = performance.timeOrigin + 1540;
  for (const sr of srs) {
    const ms = ntpToMs(sr.senderInfo.ntpTimestamp);
    assert.ok(Math.abs(ms - wallNow) < 1, `stamped when made: NTP ${ms} vs ${wallNow}`);
  }
  // The RTP timestamp is the last packet's carried forward to the report's time on the stream's clock.
  assert.equal(srs[0]!.senderInfo.rtpTimestamp, 93_000 + 500 * 90);
  assert.equal(srs[1]!.senderInfo.rtpTimestamp, 48_000 + 490 * 48);
  assert.equal(srs[0]!.senderInfo.packetCount, 2);
  assert.equal(srs[0]!.senderInfo.octetCount, 1200);
  assert.equal(srs[1]!.senderInfo.packetCount, 1);
  const sdes = packets.find((p): p is RtcpSourceDescriptionPacket => p instanceof RtcpSourceDescriptionPacket)!;
  assert.deepEqual(sdes.chunks.map((c) => [c.source, c.items[0]!.type, c.items[0]!.text]), [[0x11111111, 1, 'cname-of-the-sender'], [0x33333333, 1, 'cname-of-the-sender']]);

  // Sent as SRTCP on the selected pair; the other side decrypts exactly the plain compound.
  const before = f.wire.length;
  assert.equal(path.sendRtcp(f.dtls, plain), true);
  assert.equal(f.wire.length, before + 1);
  assert.deepEqual(f.rtcpIn.decrypt(f.wire.at(-1)!), plain);

  // A stream that stopped sending drops out after SR_ACTIVE_MS; a stopped sender at once.
  path.send(video, incoming(3, 96_000, randomBytes(100)), 1000 + SR_ACTIVE_MS);
  const later = RtcpPacketConverter.deSerialize(path.senderReports(1100 + SR_ACTIVE_MS)!);
  assert.deepEqual(later.filter((p) => p instanceof RtcpSrPacket).map((p) => (p as RtcpSrPacket).ssrc), [0x11111111]);
  f.sender.stopped = true;
  assert.equal(path.senderReports(1200 + SR_ACTIVE_MS), null);
});

test('a detached stream (its subscription ended) gets no more sender reports and lets its history go', () => {
  const f = fakeSender();
  const path = new RtpSendPath();
  const kept = path.attach(f.sender as unknown as SenderLike);
  const gone = path.attach({ ...f.sender, ssrc: 0x55555555 } as unknown as SenderLike);
  path.send(kept, incoming(1, 90_000, randomBytes(500)), 1000);
  path.send(gone, incoming(1, 90_000, randomBytes(500)), 1000);
  // (No switch yet, so the sequence numbers go out as they came.)
  assert.equal(gone.holds(1), true);
  const ssrcs = () => RtcpPacketConverter.deSerialize(path.senderReports(1100)!).filter((p): p is RtcpSrPacket => p instanceof RtcpSrPacket).map((p) => p.ssrc);
  assert.deepEqual(ssrcs(), [0x11111111, 0x55555555]);
  path.detach(gone);
  assert.deepEqual(ssrcs(), [0x11111111]);
  assert.equal(gone.holds(1), false, 'nothing left to resend');
  assert.equal(kept.holds(1), true, 'the other stream keeps its history');
  path.detach(gone); // twice is harmless
  assert.deepEqual(ssrcs(), [0x11111111]);
});

test('send path: protected in place; a packet dgram still holds (a queued send, a lookup that went to DNS) is never written over', async () => {
  const burst = async (f: ReturnType<typeof fakeSender>, settle: () => Promise<void> | void) => {
    const path = new RtpSendPath();
    const stream = path.attach(f.sender as unknown as SenderLike);
    const payloads = Array.from({ length: 6 }, (_, i) => randomBytes(200 + i * 150));
    payloads.forEach((p, i) => path.send(stream, incoming(100 + i, 3000 * i, p), i));
    await settle();
    assert.equal(f.wire.length, payloads.length);
    f.wire.forEach((w, i) => assert.deepEqual(RtpPacket.deSerialize(f.receiver.decrypt(w)).payload, payloads[i], `packet ${i} intact`));
    return (path as unknown as { context: { packetBuffer(): Buffer } }).context.packetBuffer();
  };
  // The usual case: an IP literal, sent at once. Every packet is written in the same buffer.
  const direct = fakeSender();
  const path = new RtpSendPath();
  const stream = path.attach(direct.sender as unknown as SenderLike);
  path.send(stream, incoming(1, 0, randomBytes(100)), 0);
  const buffer = (path as unknown as { context: { packetBuffer(): Buffer } }).context.packetBuffer();
  path.send(stream, incoming(2, 3000, randomBytes(100)), 1);
  assert.equal((path as unknown as { context: { packetBuffer(): Buffer } }).context.packetBuffer(), buffer, 'no new buffer per packet');
  await burst(fakeSender(), () => undefined);
  // libuv queued the sends: each packet must stay as it was until the socket sends it.
  const queued = fakeSender(SRTP_AES128_CM_HMAC_SHA1_80, { host: '127.0.0.1', port: 5000 }, { queued: true });
  await burst(queued, () => queued.socket.flush());
  // A name, not an IP literal: dgram's lookup answers on a later tick, holding the packet.
  const named = fakeSender(SRTP_AES128_CM_HMAC_SHA1_80, { host: 'media.example', port: 5000 });
  await burst(named, () => new Promise((r) => setTimeout(r, 10)));
});

test('send path: a source switch continues sequence numbers and timestamps (replaceRTP)', () => {
  const f = fakeSender();
  const path = new RtpSendPath();
  const stream = path.attach(f.sender as unknown as SenderLike);
  path.send(stream, incoming(10, 1000, randomBytes(10)), 0);
  path.send(stream, incoming(11, 4000, randomBytes(10)), 0);
  f.sender.replaceRTP(null, true, 2700); // what the forwarder calls at a layer switch
  path.send(stream, incoming(60000, 777_777, randomBytes(10)), 0);
  path.send(stream, incoming(60001, 780_777, randomBytes(10)), 0);
  const got = f.wire.map((w) => RtpPacket.deSerialize(f.receiver.decrypt(w)).header);
  assert.deepEqual(got.map((h) => h.sequenceNumber), [10, 11, 12, 13]);
  assert.deepEqual(got.map((h) => h.timestamp), [1000, 4000, 6700, 9700]);
});

test('send path: NACKed packets are resent on RTX with the original sequence number first', () => {
  const f = fakeSender();
  const path = new RtpSendPath();
  const stream = path.attach(f.sender as unknown as SenderLike);
  const payloads = Array.from({ length: 5 }, () => randomBytes(200));
  payloads.forEach((p, i) => path.send(stream, incoming(65533 + i, 3000 * i, p, i === 2), 0)); // wraps
  assert.ok(stream.holds(0) && stream.holds(65535) && !stream.holds(5));
  assert.equal(path.retransmit(stream, 65535, 0), 202);
  assert.equal(path.retransmit(stream, 0, 0), 202);
  assert.equal(path.retransmit(stream, 7, 0), 0, 'not in the history');
  const rtx = f.wire.slice(5).map((w) => RtpPacket.deSerialize(f.receiver.decrypt(w)));
  assert.equal(rtx.length, 2);
  assert.deepEqual(rtx.map((r) => r.header.ssrc), [0x22222222, 0x22222222]);
  assert.deepEqual(rtx.map((r) => r.header.payloadType), [97, 97]);
  assert.deepEqual(rtx.map((r) => r.header.sequenceNumber), [65535, 0], 'RTX numbering wraps too');
  assert.deepEqual(rtx.map((r) => r.payload.readUInt16BE(0)), [65535, 0]);
  assert.deepEqual(rtx[0]!.payload.subarray(2), payloads[2]);
  assert.equal(rtx[0]!.header.marker, true);
  assert.equal(rtx[0]!.header.timestamp, 6000);
  assert.equal(rtx[0]!.header.extensions.find((e) => e.id === 3)!.payload.readUInt16BE(0), 103, "the original's transport-wide number, as werift did");
  assert.equal(f.sender.retransmittedPacketsSent, 2);
  assert.equal(f.sender.packetCount, 5, 'retransmissions are not counted as new packets');
  // A switch empties the history.
  f.sender.replaceRTP(null, true, 1);
  assert.equal(path.retransmit(stream, 0, 0), 0);
  assert.ok(HISTORY_SIZE >= 128);
});

/** A VP8 payload: descriptor with a 15-bit picture ID, TL0PICIDX and TID, then `body`. */
const vp8 = (pid: number, tl0: number, tid: number, start: boolean, body: Buffer) =>
  Buffer.concat([Buffer.from([0x80 | (start ? 0x10 : 0), 0xe0, 0x80 | (pid >> 8), pid & 0xff, tl0, tid << 6]), body]);

/** A send path with one VP8 stream on a fake sender. */
function vp8SendPath() {
  const f = fakeSender();
  f.sender.codec = { payloadType: 96, mimeType: 'video/VP8' } as never;
  const path = new RtpSendPath();
  return { f, path, stream: path.attach(f.sender as unknown as SenderLike) };
}

test('send path: VP8 picture IDs and TL0PICIDX continue across a switch; a resent packet carries the rewritten ones', () => {
  const { f, path, stream } = vp8SendPath();
  const body = randomBytes(50);
  // Layer A: picture IDs 32766, 32767, 0 (15-bit wrap), TL0PICIDX 254, 254, 255.
  path.send(stream, incoming(100, 0, vp8(32766, 254, 0, true, body)), 0);
  path.send(stream, incoming(101, 3000, vp8(32767, 254, 1, true, body)), 0);
  path.send(stream, incoming(102, 6000, vp8(0, 255, 0, true, body)), 0);
  // Layer B (a keyframe of another layer: unrelated IDs), then a packet of the same frame, then the next frame.
  f.sender.replaceRTP(null, true, 3000);
  path.send(stream, incoming(5000, 50_000, vp8(1234, 17, 0, true, body)), 0);
  path.send(stream, incoming(5001, 50_000, vp8(1234, 17, 0, false, body)), 0);
  path.send(stream, incoming(5002, 53_000, vp8(1235, 17, 2, true, body)), 0);
  path.send(stream, incoming(5003, 56_000, vp8(1236, 18, 0, true, body)), 0);
  // A late packet (the publisher's retransmission of an earlier frame) keeps its place.
  path.send(stream, incoming(4999, 47_000, vp8(1233, 16, 0, true, body)), 0);
  const ids = (w: Buffer) => {
    const p = RtpPacket.deSerialize(f.receiver.decrypt(w)).payload;
    assert.deepEqual(p.subarray(6), body, 'the payload after the descriptor is untouched');
    return { pid: ((p[2]! & 0x7f) << 8) | p[3]!, m: p[2]! >> 7, tl0: p[4]!, tid: p[5]! >> 6 };
  };
  const got = f.wire.map(ids);
  assert.deepEqual(got.map((g) => g.pid), [32766, 32767, 0, 1, 1, 2, 3, 0]);
  assert.deepEqual(got.map((g) => g.tl0), [254, 254, 255, 0, 0, 0, 1, 255]);
  assert.deepEqual(got.map((g) => g.tid), [0, 1, 0, 0, 0, 2, 0, 0], 'temporal layer ids are kept');
  assert.ok(got.every((g) => g.m === 1), '15-bit picture IDs stay 15-bit');
  // NACKed: the second packet of layer B's keyframe (our sequence number 104), resent on RTX.
  assert.ok(path.retransmit(stream, 104, 0) > 0);
  const rtx = RtpPacket.deSerialize(f.receiver.decrypt(f.wire[f.wire.length - 1]!)).payload.subarray(2);
  assert.deepEqual({ pid: ((rtx[2]! & 0x7f) << 8) | rtx[3]!, tl0: rtx[4]! }, { pid: 1, tl0: 0 });
});

test('send path: packets left out (a thinned temporal layer) close up sequence numbers and picture IDs; late packets keep their place', () => {
  const { f, path, stream } = vp8SendPath();
  const body = randomBytes(40);
  // Frames: pid 10 (TID 0, two packets), 11 (TID 2, two packets: left out), 12 (TID 1), 13 (TID 2: left out), 14 (TID 0).
  path.send(stream, incoming(200, 0, vp8(10, 5, 0, true, body)), 0);
  path.send(stream, incoming(201, 0, vp8(10, 5, 0, false, body)), 0);
  path.skip(stream, incoming(202, 3000, vp8(11, 5, 2, true, body)));
  path.skip(stream, incoming(203, 3000, vp8(11, 5, 2, false, body)));
  path.send(stream, incoming(204, 6000, vp8(12, 5, 1, true, body)), 0);
  path.skip(stream, incoming(205, 9000, vp8(13, 5, 2, true, body)));
  path.send(stream, incoming(206, 12_000, vp8(14, 6, 0, true, body)), 0);
  // The publisher's retransmission of packet 201 (before the first skip) comes late, then one left out again.
  path.send(stream, incoming(201, 0, vp8(10, 5, 0, false, body)), 0);
  path.skip(stream, incoming(203, 3000, vp8(11, 5, 2, false, body)));
  path.send(stream, incoming(207, 12_000, vp8(14, 6, 0, false, body)), 0);
  const got = f.wire.map((w) => {
    const r = RtpPacket.deSerialize(f.receiver.decrypt(w));
    return [r.header.sequenceNumber, ((r.payload[2]! & 0x7f) << 8) | r.payload[3]!];
  });
  assert.deepEqual(got, [
    [200, 10],
    [201, 10],
    [202, 11],
    [203, 12],
    [201, 10],
    [204, 12],
  ]);
  // The history is by our numbers: 203 is the frame sent third (pid 14 as sent: 12).
  assert.ok(path.retransmit(stream, 203, 0) > 0);
  const rtx = RtpPacket.deSerialize(f.receiver.decrypt(f.wire[f.wire.length - 1]!)).payload.subarray(2);
  assert.equal(((rtx[2]! & 0x7f) << 8) | rtx[3]!, 12);
});

test('VP8 numbering: 7-bit picture IDs, packets without the fields, and cut-short descriptors', () => {
  const ids = new Vp8Ids();
  assert.equal(ids.read(Buffer.from([0x10, 0x00])), false, 'no extension byte: nothing to rewrite');
  assert.equal(ids.read(Buffer.from([0x90, 0x80])), false, 'cut short before the picture ID');
  assert.equal(ids.read(Buffer.from([0x90, 0xc0, 0x85])), false, 'cut short before TL0PICIDX');
  assert.equal(ids.read(Buffer.from([0x90, 0x80, 0x05, 0x00])), true);
  assert.deepEqual([ids.pidAt, ids.wide, ids.pid, ids.tl0At], [2, false, 5, -1]);
  const n = new Vp8Numbering();
  n.map(ids); // 5 -> 5
  ids.read(Buffer.from([0x90, 0x80, 0x7f, 0x00]));
  n.scheduleContinuity();
  n.map(ids);
  assert.equal(ids.pid, 6, 'continues from the last one sent');
  const out = Buffer.from([0x90, 0x80, 0x7f, 0x00]);
  ids.write(out, 0);
  assert.deepEqual([...out], [0x90, 0x80, 0x06, 0x00], 'written back as 7 bits');
  // TL0PICIDX only (no picture ID): offsets are kept per field.
  assert.equal(ids.read(Buffer.from([0x90, 0x40, 0x09, 0x00])), true);
  n.map(ids);
  assert.deepEqual([ids.pidAt, ids.tl0], [-1, 9], 'the first TL0PICIDX passes as it came');
});

test('send path: GCM-protected packets decrypt in werift', () => {
  const f = fakeSender(SRTP_AEAD_AES_128_GCM);
  const path = new RtpSendPath();
  const stream = path.attach(f.sender as unknown as SenderLike);
  const payload = randomBytes(1000);
  path.send(stream, incoming(1, 2, payload), 0);
  assert.deepEqual(RtpPacket.deSerialize(f.receiver.decrypt(f.wire[0]!)).payload, payload);
});

test('send path: nothing is sent before DTLS is up or without keys', () => {
  const f = fakeSender();
  const path = new RtpSendPath();
  const stream = path.attach(f.sender as unknown as SenderLike);
  f.dtls.state = 'connecting';
  assert.equal(path.send(stream, incoming(1, 2, randomBytes(10)), 0), -2);
  f.dtls.state = 'connected';
  const srtp = f.dtls.srtp;
  f.dtls.srtp = undefined;
  assert.equal(path.send(stream, incoming(1, 2, randomBytes(10)), 0), -2);
  f.dtls.srtp = srtp;
  assert.equal(path.send(stream, incoming(1, 2, randomBytes(10)), 0), 101);
  assert.equal(f.wire.length, 1);
});

test('a far publisher\'s video carries the playout-delay extension (min, max in 10 ms units); none when the delay is 0', () => {
  const exts = [
    { uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', id: 3 },
    { uri: URI_PLAYOUT_DELAY, id: 12 },
  ];
  const near = new ExtensionLayout(exts, undefined, undefined, undefined, 0);
  assert.equal(near.bytes.indexOf(Buffer.from([(12 << 4) | 2])), -1, 'no playout-delay element');
  const far = new ExtensionLayout(exts, undefined, undefined, undefined, 260);
  const at = far.bytes.indexOf(Buffer.from([(12 << 4) | 2]), 4);
  assert.ok(at > 0, 'a 3-byte element with id 12');
  // min 26 (260 ms), max 100 (1 s): 0x01A, 0x064 packed into 24 bits.
  assert.deepEqual([...far.bytes.subarray(at + 1, at + 4)], [0x01, 0xa0, 0x64]);
  assert.equal(far.bytes.readUInt16BE(0), 0xbede);
  assert.equal(far.bytes.length % 4, 0, 'padded to 32 bits');
});
