// Our SRTP receive context and SRTCP contexts (src/media/srtp/), and the hook that puts them under
// werift's DTLS transports: against werift's SRTP/SRTCP (byte for byte both ways), against our
// send context across ROC wraps with late packets, and against tampered and garbage packets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RTCDtlsTransport, RtpHeader, RtpPacket, SrtcpSession, SrtpAuthenticationError, SrtpSession } from 'werift';
import { RolloverCounter, SrtpSendContext, SRTP_AES128_CM_HMAC_SHA1_80 } from '../../src/media/srtp/srtp.js';
import { SrtpReceiveContext, SrtpUnprotectError } from '../../src/media/srtp/srtp-receive.js';
import { SrtcpContext, SrtcpUnprotectError } from '../../src/media/srtp/srtcp.js';
import { useOwnSrtpContexts } from '../../src/media/srtp/werift-sessions.js';
import { protectPacket, rtpHeader } from '../helpers/rtp.js';

function keyPair() {
  const a = { key: randomBytes(16), salt: randomBytes(14) };
  const b = { key: randomBytes(16), salt: randomBytes(14) };
  const config = (local: typeof a, remote: typeof a) => ({
    keys: { localMasterKey: local.key, localMasterSalt: local.salt, remoteMasterKey: remote.key, remoteMasterSalt: remote.salt },
    profile: SRTP_AES128_CM_HMAC_SHA1_80,
  });
  return { a, b, aToB: config(a, b), bToA: config(b, a) };
}

test('SRTP unprotect: what werift encrypts decrypts to what werift decrypts (CSRCs, extensions, padding, empty payload, a sequence wrap)', () => {
  const { a, aToB, bToA } = keyPair();
  const sender = new SrtpSession(aToB);
  const weriftReceiver = new SrtpSession(bToA);
  const ours = new SrtpReceiveContext(a.key, a.salt);
  let seq = 65500;
  for (let i = 0; i < 120; i++, seq = (seq + 1) & 0xffff) {
    const padding = i % 7 === 1 ? 1 + (i % 13) : 0;
    const body = randomBytes(i % 11 === 0 ? 0 : 20 + ((i * 97) % 1150));
    const payload = padding ? Buffer.concat([body, Buffer.alloc(padding - 1), Buffer.from([padding])]) : body;
    const header = new RtpHeader({
      payloadType: 96 + (i % 3),
      marker: i % 5 === 0,
      sequenceNumber: seq,
      timestamp: 3000 * i,
      ssrc: i % 2 ? 0x11223344 : 0xcafe0001,
      padding: padding > 0,
      csrc: i % 9 === 0 ? [1, 2, 3] : [],
      extension: i % 3 !== 0,
      extensions: i % 3 !== 0 ? [{ id: 3, payload: Buffer.from([0, i & 0xff]) }, { id: 5, payload: randomBytes(1 + (i % 6)) }] : [],
    });
    const packet = sender.encrypt(payload, header);
    const expected = weriftReceiver.decrypt(packet);
    assert.deepEqual(ours.unprotect(packet), expected, `packet ${i} (seq ${seq}, ${payload.length} bytes, padding ${padding})`);
  }
});

test('SRTP unprotect: ROC guessed across wraps, with late packets, several SSRCs', () => {
  const key = randomBytes(16);
  const salt = randomBytes(14);
  const send = new SrtpSendContext(key, salt, SRTP_AES128_CM_HMAC_SHA1_80);
  const receive = new SrtpReceiveContext(key, salt);
  const streams = [0x01020304, 0x0a0b0c0d].map((ssrc, n) => ({ ssrc, seq: n === 0 ? 65_000 : 100, roc: new RolloverCounter(), held: [] as { plain: Buffer; packet: Buffer; due: number }[] }));
  let checked = 0;
  for (let i = 0; i < 3000; i++) {
    const s = streams[i % 2]!;
    const seq = s.seq;
    s.seq = (s.seq + 1 + (i % 23 === 0 ? 300 : 0)) & 0xffff; // now and then a gap
    const plain = Buffer.concat([rtpHeader(seq, i, s.ssrc), randomBytes(40 + (i % 900))]);
    const packet = protectPacket(send, plain, 12, s.roc.next(seq));
    // Mostly in order; every 17th packet arrives up to 40 packets late (across a wrap too).
    if (i % 17 === 16) s.held.push({ plain, packet, due: i + 2 * (1 + ((i * 7) % 40)) });
    else {
      assert.deepEqual(receive.unprotect(packet), plain, `packet ${i}: ssrc ${s.ssrc.toString(16)} seq ${seq}`);
      checked++;
    }
    for (const late of s.held.filter((h) => h.due <= i)) {
      assert.deepEqual(receive.unprotect(late.packet), late.plain, `late packet, seq ${late.plain.readUInt16BE(2)}`);
      checked++;
    }
    s.held = s.held.filter((h) => h.due > i);
  }
  assert.ok(checked > 2900, `${checked} checked`);
  assert.ok(streams[0]!.seq < 65_000, 'the first stream wrapped');
});

test('SRTP unprotect: tampered packets are refused and do not move the rollover state', () => {
  const key = randomBytes(16);
  const salt = randomBytes(14);
  const send = new SrtpSendContext(key, salt, SRTP_AES128_CM_HMAC_SHA1_80);
  const receive = new SrtpReceiveContext(key, salt);
  const roc = new RolloverCounter();
  const make = (seq: number) => {
    const plain = Buffer.concat([Buffer.from([0x80, 111, seq >> 8, seq & 0xff, 0, 0, 0, 1, 0, 0, 0, 42]), randomBytes(80)]);
    return { plain, packet: protectPacket(send, plain, 12, roc.next(seq)) };
  };
  const before = make(65_529);
  assert.deepEqual(receive.unprotect(before.packet), before.plain);
  // Every single-bit flip in the header, payload or tag of a packet not yet received is refused
  // (its authentication fails; none is marked received: the genuine packet still decrypts).
  const first = make(65_530);
  for (let at = 0; at < first.packet.length; at++) {
    const bad = Buffer.from(first.packet);
    bad[at]! ^= 1 << (at % 8);
    assert.throws(() => receive.unprotect(bad), SrtpUnprotectError, `flip at byte ${at}`);
  }
  assert.deepEqual(receive.unprotect(first.packet), first.plain);
  // A forged packet whose sequence number would imply a wrap does not advance the ROC: the next
  // genuine packets (before and after the real wrap) still decrypt.
  const forged = Buffer.from(first.packet);
  forged.writeUInt16BE(3, 2);
  assert.throws(() => receive.unprotect(forged), SrtpUnprotectError);
  for (const seq of [65_531, 65_535, 0, 2]) {
    const p = make(seq);
    assert.deepEqual(receive.unprotect(p.packet), p.plain, `seq ${seq}`);
  }
});

test('SRTP unprotect: a replayed packet is refused, before and after a wrap, and so is one older than the window', () => {
  const key = randomBytes(16);
  const salt = randomBytes(14);
  const send = new SrtpSendContext(key, salt, SRTP_AES128_CM_HMAC_SHA1_80);
  const receive = new SrtpReceiveContext(key, salt);
  const roc = new RolloverCounter();
  const packets = new Map<number, Buffer>();
  const sendSeq = (seq: number) => {
    const packet = protectPacket(send, Buffer.concat([rtpHeader(seq, seq, 0x0badf00d), randomBytes(60)]), 12, roc.next(seq));
    packets.set(seq, packet);
    return packet;
  };
  // 65 000 … 65 535, 0 … 499, with 65 100 and 10 held back.
  for (let i = 0; i < 1036; i++) {
    const seq = (65_000 + i) & 0xffff;
    const packet = sendSeq(seq);
    if (seq !== 65_100 && seq !== 10) receive.unprotect(packet);
  }
  const replay = (seq: number) => assert.throws(() => receive.unprotect(packets.get(seq)!), (e: Error) => e instanceof SrtpUnprotectError && /replayed/.test(e.message), `seq ${seq}`);
  for (const seq of [499, 498, 0, 65_535, 200]) replay(seq);
  // Late but never received, within the window: accepted once, then a replay.
  receive.unprotect(packets.get(10)!);
  replay(10);
  // 65 100 is now 972 behind the highest (499 after the wrap): still in the window.
  receive.unprotect(packets.get(65_100)!);
  replay(65_100);
  // Beyond the window (1024 behind): refused as too old, never decrypted.
  assert.throws(() => receive.unprotect(packets.get(65_000)!), /too old/);
  // A replay is refused before any work: it does not move the state, and new packets still come.
  const next = sendSeq(500);
  assert.equal(receive.unprotect(next).readUInt16BE(2), 500);
  replay(500);
});

test('SRTCP unprotect: a replayed packet is refused, per sender SSRC, and so is one older than the window', () => {
  const key = randomBytes(16);
  const salt = randomBytes(14);
  const send = new SrtcpContext(key, salt);
  const receive = new SrtcpContext(key, salt);
  const rtcp = (ssrc: number) => Buffer.from([0x80, 201, 0, 1, ssrc >>> 24, (ssrc >> 16) & 0xff, (ssrc >> 8) & 0xff, ssrc & 0xff]);
  const a = Array.from({ length: 200 }, () => send.protect(rtcp(0xaaaa0001)));
  const b = send.protect(rtcp(0xbbbb0002));
  receive.unprotect(a[0]!);
  receive.unprotect(b);
  assert.throws(() => receive.unprotect(a[0]!), /replayed/);
  assert.throws(() => receive.unprotect(b), /replayed/);
  for (let i = 2; i < 200; i++) receive.unprotect(a[i]!);
  // a[1] (index 2) is 198 behind the highest: outside the 128-index window.
  assert.throws(() => receive.unprotect(a[1]!), /too old/);
  // Another SSRC's indexes are its own.
  receive.unprotect(send.protect(rtcp(0xbbbb0002)));
});

test('SRTP/SRTCP unprotect: garbage never throws anything but a refusal', () => {
  const receive = new SrtpReceiveContext(randomBytes(16), randomBytes(14));
  const rtcp = new SrtcpContext(randomBytes(16), randomBytes(14));
  for (let i = 0; i < 3000; i++) {
    const packet = randomBytes((i * 37) % 1700);
    if (i % 2) packet[0] = 0x80 | (packet[0]! & 0x3f); // version 2, so the header is parsed
    assert.throws(() => receive.unprotect(packet), SrtpUnprotectError);
    assert.throws(() => rtcp.unprotect(packet), SrtcpUnprotectError);
  }
});

test('SRTCP: protect is byte for byte what werift makes (the same indexes per SSRC), and each side unprotects the other', () => {
  const { a, aToB, bToA } = keyPair();
  const weriftSender = new SrtcpSession(aToB);
  const weriftReceiver = new SrtcpSession(bToA);
  const oursSend = new SrtcpContext(a.key, a.salt);
  const oursReceive = new SrtcpContext(a.key, a.salt);
  for (let i = 0; i < 200; i++) {
    const ssrc = [0x11111111, 0x22222222, 0x33333333][i % 3]!;
    const length = 8 + 4 * ((i * 13) % 200);
    const rtcp = Buffer.concat([Buffer.from([0x81, 205, 0, (length >> 2) - 1]), Buffer.alloc(4), randomBytes(length - 8)]);
    rtcp.writeUInt32BE(ssrc, 4);
    const ours = oursSend.protect(rtcp);
    const theirs = weriftSender.encrypt(rtcp);
    assert.deepEqual(ours, theirs, `packet ${i} (${length} bytes, ssrc ${ssrc.toString(16)})`);
    assert.deepEqual(weriftReceiver.decrypt(ours), rtcp, `werift unprotects packet ${i}`);
    assert.deepEqual(oursReceive.unprotect(theirs), rtcp, `we unprotect packet ${i}`);
  }
});

test('SRTCP unprotect: an unencrypted packet (E = 0) is authenticated and returned as is; tampering is refused', () => {
  const key = randomBytes(16);
  const salt = randomBytes(14);
  const send = new SrtcpContext(key, salt);
  const receive = new SrtcpContext(key, salt);
  const rtcp = Buffer.concat([Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 9])]);
  const packet = send.protect(rtcp);
  assert.deepEqual(receive.unprotect(packet), rtcp);
  for (let at = 0; at < packet.length; at++) {
    const bad = Buffer.from(packet);
    bad[at]! ^= 0x10;
    assert.throws(() => receive.unprotect(bad), SrtcpUnprotectError, `flip at byte ${at}`);
  }
  assert.throws(() => send.protect(Buffer.alloc(4)), RangeError);
  assert.throws(() => send.protect(Buffer.alloc(1501)), RangeError);
});

test('werift transports use our contexts after the DTLS keys are set: decrypt, RTCP both ways, refusals as werift expects', () => {
  useOwnSrtpContexts();
  const { a, b } = keyPair();
  // The part of RTCDtlsTransport that updateSrtpSession reads: the negotiated profile and keys.
  const transport = {
    dtls: {
      srtp: { srtpProfile: SRTP_AES128_CM_HMAC_SHA1_80 },
      extractSessionKeys: () => ({ localKey: b.key, localSalt: b.salt, remoteKey: a.key, remoteSalt: a.salt }),
    },
  } as unknown as { srtp: SrtpSession; srtcp: SrtcpSession; updateSrtpSession(): void };
  (RTCDtlsTransport.prototype as unknown as { updateSrtpSession(this: unknown): void }).updateSrtpSession.call(transport);
  const peer = keyPair();
  const remoteConfig = { ...peer.aToB, keys: { localMasterKey: a.key, localMasterSalt: a.salt, remoteMasterKey: b.key, remoteMasterSalt: b.salt } };
  const remoteRtp = new SrtpSession(remoteConfig);
  const remoteRtcp = new SrtcpSession(remoteConfig);
  const decryptSource = transport.srtp.decrypt.toString();
  assert.match(decryptSource, /unprotect/, 'SRTP decrypt is ours');

  const payload = randomBytes(500);
  const header = new RtpHeader({ payloadType: 96, sequenceNumber: 7, timestamp: 1, ssrc: 5, extension: true, extensions: [{ id: 1, payload: Buffer.from([9]) }] });
  assert.deepEqual(transport.srtp.decrypt(remoteRtp.encrypt(payload, header)), new RtpPacket(header, payload).serialize());
  const rtcp = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 5]);
  assert.deepEqual(transport.srtcp.decrypt(remoteRtcp.encrypt(rtcp)), rtcp);
  assert.deepEqual(remoteRtcp.decrypt(transport.srtcp.encrypt(rtcp)), rtcp);
  assert.throws(() => transport.srtp.decrypt(randomBytes(100)), SrtpAuthenticationError);
  assert.throws(() => transport.srtcp.decrypt(randomBytes(100)), SrtpAuthenticationError);
});
