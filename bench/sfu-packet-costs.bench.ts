// Per-packet costs of the forwarding path's pure-CPU pieces, in one process, without sockets,
// so that before/after comparisons are not lost in this VM's noise (the full benchmark's
// per-packet figure moves by ±30 % between identical runs):
//   - SRTP protection of a 1,150-byte video payload for 8 subscribers (SrtpSendContext.protect);
//   - reading a subscribers' transport-cc feedback that reports 33 packets (about one per 100 ms
//     per subscriber at 330 packets/s): werift's parser against ours (TwccReport);
//   - SRTP unprotection of a publisher's 1,150-byte video packet, and SRTCP protection and
//     unprotection of a 64-byte RTCP packet: werift's sessions against our contexts
//     (src/media/srtp/srtp-receive.ts, srtcp.ts).
//
//   npx tsx bench/sfu-packet-costs.bench.ts [--srtp=path/to/srtp.ts]   (--srtp: another SrtpSendContext, e.g. an older one)
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RtcpPacketConverter, RtpHeader, SrtcpSession, SrtpSession } from 'werift';
import { SrtpReceiveContext } from '../src/media/srtp/srtp-receive.js';
import { SrtcpContext } from '../src/media/srtp/srtcp.js';
import { TransportCcFeedback } from '../src/media/rtcp/transport-cc-feedback.js';
import { TwccReport } from '../src/media/rtcp/transport-cc-report.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const srtpPath = args.get('srtp') ?? path.resolve('src/media/srtp/srtp.ts');
const { SrtpSendContext, SRTP_AES128_CM_HMAC_SHA1_80 } = (await import(pathToFileURL(path.resolve(srtpPath)).href)) as typeof import('../src/media/srtp/srtp.js');

/** Median µs per operation over `rounds` rounds of `n` operations (after one warm-up round). */
function measure(n: number, rounds: number, op: (i: number) => void): number {
  const per: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) op(i);
    if (r > 0) per.push(Number(process.hrtime.bigint() - t0) / n / 1000);
  }
  per.sort((a, b) => a - b);
  return per[per.length >> 1]!;
}

// SRTP: 8 contexts (one per subscriber), payloads of 1,100–1,199 bytes, consecutive sequence numbers per SSRC.
const contexts = Array.from({ length: 8 }, () => new SrtpSendContext(randomBytes(16), randomBytes(14), SRTP_AES128_CM_HMAC_SHA1_80));
const payload = randomBytes(1200);
let sink = 0;
let weriftRtpIn: SrtpSession;
let oursRtpIn: SrtpReceiveContext;
const srtpUs = measure(100_000, 7, (i) => {
  const ctx = contexts[i & 7]!;
  const length = 1100 + (i % 100);
  payload.copy(ctx.packetBuffer(), ctx.packetOffset + 24, 0, length);
  sink += ctx.protect(24, length, 0x1234, (i >> 3) & 0xffff, 0)[30]!;
});

// transport-cc: one message reporting 33 packets (2 lost), as our feedback builder writes it.
const fb = new TransportCcFeedback(1, () => 2);
for (let i = 0; i < 33; i++) if (i % 16 !== 7) fb.onPacket(1000 + i, 5_000_000 + i * 3_000);
const message = fb.build()!;
const weriftUs = measure(20_000, 7, () => {
  sink += (RtcpPacketConverter.deSerialize(message) as unknown as { feedback: { packetStatusCount: number } }[])[0]!.feedback.packetStatusCount;
});
const report = new TwccReport();
const fci = message.subarray(4);
const oursUs = measure(20_000, 7, () => {
  report.read(fci);
  sink += report.length;
});

// Receive side: a publisher's packets (consecutive sequence numbers) and RTCP, werift against ours.
const master = { key: randomBytes(16), salt: randomBytes(14) };
const config = { keys: { localMasterKey: master.key, localMasterSalt: master.salt, remoteMasterKey: master.key, remoteMasterSalt: master.salt }, profile: SRTP_AES128_CM_HMAC_SHA1_80 };
const publisher = new SrtpSession(config);
const incoming = Array.from({ length: 4096 }, (_, i) => publisher.encrypt(randomBytes(1100 + (i % 100)), new RtpHeader({ payloadType: 96, sequenceNumber: (60_000 + i) & 0xffff, timestamp: i * 3000, ssrc: 0x5678, extension: true, extensions: [{ id: 3, payload: Buffer.from([i >> 8, i & 0xff]) }] })));
// Each round decrypts the packets again with fresh state, as a stream that starts over.
const unprotectWerift = measure(4096, 7, (i) => {
  if (i === 0) weriftRtpIn = new SrtpSession(config);
  sink += weriftRtpIn.decrypt(incoming[i]!)[20]!;
});
const unprotectOurs = measure(4096, 7, (i) => {
  if (i === 0) oursRtpIn = new SrtpReceiveContext(master.key, master.salt);
  sink += oursRtpIn.unprotect(incoming[i]!)[20]!;
});
const rtcp = Buffer.concat([Buffer.from([0x8f, 205, 0, 15, 0, 0, 0x12, 0x34]), randomBytes(56)]);
const weriftRtcp = new SrtcpSession(config);
const oursRtcp = new SrtcpContext(master.key, master.salt);
const rtcpProtectWerift = measure(20_000, 7, () => {
  sink += weriftRtcp.encrypt(rtcp)[9]!;
});
const rtcpProtectOurs = measure(20_000, 7, () => {
  sink += oursRtcp.protect(rtcp)[9]!;
});
const protectedRtcp = oursRtcp.protect(rtcp);
const rtcpUnprotectWerift = measure(20_000, 7, () => {
  sink += weriftRtcp.decrypt(protectedRtcp)[9]!;
});
const rtcpUnprotectOurs = measure(20_000, 7, () => {
  sink += oursRtcp.unprotect(protectedRtcp)[9]!;
});

const us = (x: number) => +x.toFixed(3);
const result = {
  srtp: srtpPath,
  srtpProtectUs: us(srtpUs),
  twccWeriftUs: us(weriftUs),
  twccOursUs: us(oursUs),
  twccPackets: report.length,
  srtpUnprotectWeriftUs: us(unprotectWerift),
  srtpUnprotectOursUs: us(unprotectOurs),
  srtcpProtectWeriftUs: us(rtcpProtectWerift),
  srtcpProtectOursUs: us(rtcpProtectOurs),
  srtcpUnprotectWeriftUs: us(rtcpUnprotectWerift),
  srtcpUnprotectOursUs: us(rtcpUnprotectOurs),
  sink: sink > 0,
};
console.log(JSON.stringify(result));
