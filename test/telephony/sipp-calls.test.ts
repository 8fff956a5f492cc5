// Dial-out calls against a real SIPp as the trunk / far end (one scenario per test).
import '../helpers/unhandled.js';
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { assertSippSucceeded as sippOk, freeUdpPort, killAllSipp, requireSipp, startSipp, type Sipp } from './sipp.js';
import { CREDENTIALS, RTP_RANGE, sent, startUa, waitEvent, type Captured } from './helpers.js';
import type { SipUserAgent } from '../../src/telephony/sip/user-agent.js';
import type { AnsweredInfo, CallStatus, EndedInfo, SipCall } from '../../src/telephony/sip/call.js';
import { parseRtp, parseTelephoneEvent, type RtpPacket } from '../../src/telephony/rtp.js';

const TO = '+15551234567';
let ua: SipUserAgent | null = null;

async function setup(scenario: string, opts: { keys?: Record<string, string | number>; credentials?: typeof CREDENTIALS | null } = {}): Promise<{ sipp: Sipp; ua: SipUserAgent; captured: Captured }> {
  const sipp = await startSipp(scenario, { keys: opts.keys });
  const started = await startUa(sipp.port, { credentials: opts.credentials });
  ua = started.ua;
  return { sipp, ...started };
}

function record(call: SipCall): CallStatus[] {
  const statuses: CallStatus[] = [];
  call.on('status', (s) => statuses.push(s));
  return statuses;
}

describe('SIP dial-out against SIPp', () => {
  afterEach(async () => {
    killAllSipp();
    await ua?.stop();
    ua = null;
  });
  after(() => killAllSipp());

  // Not a skip: without SIPp this and every test below fail, naming the package to install.
  it('SIPp is installed', () => requireSipp());

  it('answered call: ACK seen by the far end, our BYE ends it as completed', async () => {
    const { sipp, ua, captured } = await setup('answer-local-bye.xml');
    const call = ua.call({ to: TO, fromUser: 'televisit', ringTimeoutSeconds: 10 });
    const statuses = record(call);
    const ringing = waitEvent<{ sipCode: number }>(call, 'ringing');
    const answered = await waitEvent<AnsweredInfo>(call, 'answered');
    assert.equal((await ringing).sipCode, 180);
    assert.deepEqual(
      { address: answered.address, port: answered.port, codec: answered.codec, payloadType: answered.payloadType, telephoneEvent: answered.telephoneEvent },
      { address: '127.0.0.1', port: sipp.mediaPort, codec: 'PCMU', payloadType: 0, telephoneEvent: 101 },
    );
    const invite = sent(captured, /^INVITE /)[0]!;
    const m = /m=audio (\d+) RTP\/AVP 0 8 101/.exec(invite);
    assert.ok(m, invite);
    const rtpPort = Number(m[1]);
    assert.ok(rtpPort >= RTP_RANGE[0] && rtpPort <= RTP_RANGE[1] && rtpPort % 2 === 0, `RTP port ${rtpPort} from the range`);
    assert.equal(call.rtp?.port, rtpPort);
    await new Promise((r) => setTimeout(r, 300));
    const ended = await call.hangup();
    assert.equal(ended.status, 'completed');
    assert.equal(ended.by, 'local');
    assert.equal(ended.duration, 0);
    await sippOk(sipp);
    assert.deepEqual(statuses, ['initiated', 'ringing', 'in-progress', 'completed']);
    assert.equal(sent(captured, /^ACK /).length, 1);
    assert.match(sent(captured, /^BYE /)[0]!, /^CSeq: 2 BYE$/m);
  });

  it('BYE from the far end: 200 OK and completed with the duration', async () => {
    const { sipp, ua, captured } = await setup('answer-remote-bye.xml');
    const call = ua.call({ to: TO, fromUser: 'televisit', ringTimeoutSeconds: 10 });
    const answered = await waitEvent<AnsweredInfo>(call, 'answered');
    assert.equal(answered.codec, 'PCMA');
    assert.equal(answered.payloadType, 8);
    const completed = await waitEvent<EndedInfo>(call, 'completed');
    assert.equal(completed.by, 'remote');
    assert.equal(completed.sipCode, 200);
    assert.ok(completed.duration >= 0 && completed.duration <= 2, `duration ${completed.duration}`);
    await sippOk(sipp);
    const ok = sent(captured, /^SIP\/2\.0 200 OK/);
    assert.equal(ok.length, 1);
    assert.match(ok[0]!, /^CSeq: 1 BYE$/m);
    assert.equal(sent(captured, /^BYE /).length, 0);
  });

  it('486 Busy Here: ACKed, busy', async () => {
    const { sipp, ua, captured } = await setup('busy.xml');
    const call = ua.call({ to: TO, fromUser: 'televisit', ringTimeoutSeconds: 10 });
    const statuses = record(call);
    const busy = await waitEvent<EndedInfo>(call, 'busy');
    assert.equal(busy.sipCode, 486);
    await sippOk(sipp);
    assert.deepEqual(statuses, ['initiated', 'busy']);
    assert.equal(sent(captured, /^ACK /).length, 1);
  });

  it('503 Service Unavailable: ACKed, failed with the SIP code', async () => {
    const { sipp, ua } = await setup('unavailable.xml');
    const call = ua.call({ to: TO, fromUser: 'televisit', ringTimeoutSeconds: 10 });
    const failed = await waitEvent<EndedInfo>(call, 'failed');
    assert.equal(failed.sipCode, 503);
    await sippOk(sipp);
  });

  it('hang up while ringing: CANCEL, 487 ACKed, canceled', async () => {
    const { sipp, ua, captured } = await setup('ring-no-answer.xml');
    const call = ua.call({ to: TO, fromUser: 'televisit', ringTimeoutSeconds: 10 });
    await waitEvent(call, 'ringing');
    const ended = await call.hangup();
    assert.equal(ended.status, 'canceled');
    assert.equal(ended.sipCode, 487);
    await sippOk(sipp);
    const cancel = sent(captured, /^CANCEL /);
    assert.equal(cancel.length, 1);
    const invite = sent(captured, /^INVITE /)[0]!;
    const branch = (t: string) => /branch=([^;\r\n]+)/.exec(t)![1];
    assert.equal(branch(cancel[0]!), branch(invite), 'CANCEL has the INVITE branch');
  });

  it('hang up before any provisional response: the CANCEL waits for the 180', async () => {
    const { sipp, ua, captured } = await setup('ring-no-answer.xml');
    const call = ua.call({ to: TO, fromUser: 'televisit', ringTimeoutSeconds: 10 });
    const hungUp = new Promise<EndedInfo>((resolve) => call.once('initiated', () => resolve(call.hangup())));
    const ended = await hungUp;
    assert.equal(ended.status, 'canceled');
    await sippOk(sipp);
    const out = captured.sip.filter((m) => m.dir === 'out').map((m) => m.text.split(' ')[0]);
    assert.deepEqual(out, ['INVITE', 'CANCEL', 'ACK']);
    const ringingAt = captured.sip.findIndex((m) => m.dir === 'in' && m.text.startsWith('SIP/2.0 180'));
    const cancelAt = captured.sip.findIndex((m) => m.dir === 'out' && m.text.startsWith('CANCEL'));
    assert.ok(ringingAt >= 0 && ringingAt < cancelAt);
  });

  it('hang up before the INVITE leaves: nothing is sent, canceled', async () => {
    const port = await freeUdpPort();
    const started = await startUa(port);
    ua = started.ua;
    const call = ua.call({ to: TO, fromUser: 'televisit', ringTimeoutSeconds: 10 });
    const ended = await call.hangup();
    assert.equal(ended.status, 'canceled');
    assert.equal(started.captured.sip.length, 0);
  });

  it('no answer at all from the trunk: INVITE retransmitted (timer A), failed 408 at timer B', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    const arrivals: number[] = [];
    silent.on('message', () => arrivals.push(performance.now()));
    try {
      const started = await startUa(silent.address().port, { timers: { t1: 50 } });
      ua = started.ua;
      const t0 = performance.now();
      const call = ua.call({ to: TO, fromUser: 'televisit', ringTimeoutSeconds: 30 });
      const failed = await waitEvent<EndedInfo>(call, 'failed');
      const elapsed = performance.now() - t0;
      assert.equal(failed.sipCode, 408);
      assert.ok(elapsed >= 64 * 50 && elapsed < 64 * 50 + 1000, `timer B after ${Math.round(elapsed)} ms`);
      // Sent at 0, then after 50, 100, 200, 400, 800 and 1600 ms (doubling); the last one (at
      // 3150 ms) may lose the race with timer B (3200 ms) on a loaded machine.
      assert.ok(arrivals.length === 7 || arrivals.length === 6, `${arrivals.length} INVITEs`);
      const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!);
      gaps.forEach((g, i) => assert.ok(g >= 50 * 2 ** i - 15, `gap ${i}: ${Math.round(g)} ms`));
    } finally {
      silent.close();
    }
  });

  it('ring timeout: CANCEL after N seconds, no-answer', async () => {
    const { sipp, ua, captured } = await setup('ring-no-answer.xml');
    const started = Date.now();
    const call = ua.call({ to: TO, fromUser: 'televisit', ringTimeoutSeconds: 1 });
    const ended = await waitEvent<EndedInfo>(call, 'no-answer');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 950 && elapsed < 3000, `ended after ${elapsed} ms`);
    assert.equal(ended.sipCode, 487);
    await sippOk(sipp);
    assert.equal(sent(captured, /^CANCEL /).length, 1);
  });

  it('401 digest challenge (MD5, qop=auth): retried with credentials SIPp verifies, answered', async () => {
    const { sipp, ua, captured } = await setup('auth-401.xml');
    const call = ua.call({ to: TO, fromUser: 'televisit', ringTimeoutSeconds: 10 });
    const statuses = record(call);
    await waitEvent(call, 'answered');
    await call.hangup();
    await sippOk(sipp);
    assert.deepEqual(statuses, ['initiated', 'in-progress', 'completed']);
    const invites = sent(captured, /^INVITE /);
    assert.equal(invites.length, 2);
    assert.equal(/^Call-ID: (.*)$/m.exec(invites[0]!)![1], /^Call-ID: (.*)$/m.exec(invites[1]!)![1]);
    assert.match(invites[1]!, /^Authorization: Digest username="interp", realm="televisit.test"/m);
  });

  it('407 proxy challenge (MD5, no qop): Proxy-Authorization with the right digest, answered', async () => {
    const { sipp, ua, captured } = await setup('auth-407.xml');
    const call = ua.call({ to: TO, fromUser: 'televisit', ringTimeoutSeconds: 10 });
    await waitEvent(call, 'answered');
    await call.hangup();
    await sippOk(sipp);
    const retry = sent(captured, /^INVITE /)[1]!;
    const header = /^Proxy-Authorization: (.*)$/m.exec(retry)![1]!;
    const param = (n: string) => new RegExp(`${n}="([^"]*)"`).exec(header)?.[1];
    assert.equal(param('qop'), undefined);
    assert.doesNotMatch(header, /cnonce|nc=/);
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const uri = param('uri')!;
    assert.equal(uri, call.requestUri);
    const expected = md5(`${md5(`interp:proxy.televisit.test:${CREDENTIALS.password}`)}:a1b2c3d4e5f60718:${md5(`INVITE:${uri}`)}`);
    assert.equal(param('response'), expected);
    // The 2xx ACK carries the INVITE's credentials (RFC 3261 section 22.1).
    assert.match(sent(captured, /^ACK sip:127/)[0]!, /^Proxy-Authorization: Digest/m);
  });

  it('a second challenge is not answered again: failed with 401', async () => {
    const { sipp, ua, captured } = await setup('auth-reject.xml');
    const call = ua.call({ to: TO, fromUser: 'televisit', ringTimeoutSeconds: 10 });
    const failed = await waitEvent<EndedInfo>(call, 'failed');
    assert.equal(failed.sipCode, 401);
    await sippOk(sipp);
    assert.equal(sent(captured, /^INVITE /).length, 2);
  });

  it('a challenge without credentials configured fails the call at once', async () => {
    const { sipp, ua, captured } = await setup('auth-reject.xml', { credentials: null });
    const call = ua.call({ to: TO, fromUser: 'televisit', ringTimeoutSeconds: 10 });
    const failed = await waitEvent<EndedInfo>(call, 'failed');
    assert.equal(failed.sipCode, 401);
    assert.equal(sent(captured, /^INVITE /).length, 1);
    sipp.kill();
  });

  it('re-INVITE (hold, new port) and OPTIONS from the far end: answered 200, the call stays up', async () => {
    const reinvitePort = await freeUdpPort();
    const { sipp, ua, captured } = await setup('reinvite.xml', { keys: { reinvite_port: reinvitePort } });
    const call = ua.call({ to: TO, fromUser: 'televisit', ringTimeoutSeconds: 10 });
    const statuses = record(call);
    const answered = await waitEvent<AnsweredInfo>(call, 'answered');
    assert.equal(answered.port, sipp.mediaPort);
    const deadline = Date.now() + 5000;
    while (!sent(captured, /^SIP\/2\.0 200 OK[\s\S]*CSeq: 2 OPTIONS/).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const reinviteOk = sent(captured, /^SIP\/2\.0 200 OK[\s\S]*CSeq: 1 INVITE/);
    assert.equal(reinviteOk.length >= 1, true, 'the re-INVITE was answered 200');
    assert.match(reinviteOk[0]!, /^o=televisit \d+ 2 IN IP4/m, 'the SDP version went up (the description changed)');
    assert.equal(call.status, 'in-progress');
    assert.equal(call.rtp?.remoteMedia?.port, reinvitePort, 'media follows the re-INVITE');
    assert.equal(call.rtp?.remoteMedia?.codec.name, 'PCMU', 'codec kept');
    assert.equal(sent(captured, /^BYE /).length, 0);
    await call.hangup();
    await sippOk(sipp);
    assert.deepEqual(statuses, ['initiated', 'in-progress', 'completed']);
  });

  it("sendDigits('ww12#'): RFC 4733 events for 1, 2 and # on the negotiated RTP socket", async () => {
    const media = dgram.createSocket('udp4');
    await new Promise<void>((r) => media.bind(0, '127.0.0.1', () => r()));
    const packets: Array<{ at: number; p: RtpPacket }> = [];
    media.on('message', (msg) => {
      const p = parseRtp(msg);
      if (p) packets.push({ at: performance.now(), p });
    });
    try {
      const { sipp, ua } = await setup('dtmf.xml', { keys: { dtmf_port: media.address().port } });
      const call = ua.call({ to: TO, fromUser: 'televisit', ringTimeoutSeconds: 10 });
      const answered = await waitEvent<AnsweredInfo>(call, 'answered');
      assert.equal(answered.telephoneEvent, 96);
      await assert.rejects(call.sendDigits('12x'), /digits may only hold/);
      const start = performance.now();
      await call.sendDigits('ww12#');
      await new Promise((r) => setTimeout(r, 100));
      await call.hangup();
      await sippOk(sipp);

      assert.equal(packets.length, 21, '7 packets per digit');
      assert.ok(packets.every(({ p }) => p.payloadType === 96));
      assert.equal(new Set(packets.map(({ p }) => p.ssrc)).size, 1);
      for (let i = 1; i < packets.length; i++) {
        assert.equal(packets[i]!.p.sequence, (packets[i - 1]!.p.sequence + 1) & 0xffff, 'sequence numbers count up');
      }
      assert.ok(packets[0]!.at - start >= 950, `first event after the two w (${Math.round(packets[0]!.at - start)} ms)`);
      const byTs = new Map<number, Array<{ at: number; p: RtpPacket }>>();
      for (const x of packets) byTs.set(x.p.timestamp, [...(byTs.get(x.p.timestamp) ?? []), x]);
      const events = [...byTs.values()];
      assert.deepEqual(events.map((e) => parseTelephoneEvent(e[0]!.p.payload)!.event), [1, 2, 11]);
      for (const e of events) {
        const payloads = e.map((x) => parseTelephoneEvent(x.p.payload)!);
        assert.deepEqual(e.map((x) => x.p.marker), [true, false, false, false, false, false, false]);
        assert.deepEqual(payloads.map((t) => t.duration), [160, 320, 480, 640, 800, 800, 800]);
        assert.deepEqual(payloads.map((t) => t.end), [false, false, false, false, true, true, true]);
        assert.ok(payloads.every((t) => t.volume === 10));
        const span = e[4]!.at - e[0]!.at;
        assert.ok(span >= 60 && span < 200, `packets 20 ms apart (${Math.round(span)} ms for 4 intervals)`);
      }
      const tsGap = [events[1]![0]!.p.timestamp - events[0]![0]!.p.timestamp, events[2]![0]!.p.timestamp - events[1]![0]!.p.timestamp];
      for (const gap of tsGap) assert.ok(gap >= 1500 && gap <= 2400, `digits ~200 ms apart in RTP time (${gap} units)`);
      assert.equal(call.sendAudio(Buffer.alloc(160)), false, 'no audio after hangup');
    } finally {
      media.close();
    }
  });

  it('malformed datagrams are dropped and logged; the UA keeps working', async () => {
    const { sipp, ua, captured } = await setup('answer-remote-bye.xml');
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
    const replies: string[] = [];
    probe.on('message', (m) => replies.push(m.toString()));
    const to = ua.local;
    const base = (method: string, extra = '') =>
      `${method} sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${probe.address().port};branch=z9hG4bKprobe${method}\r\nFrom: <sip:p@127.0.0.1>;tag=p1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: probe-${method}\r\nCSeq: 1 ${method}\r\n${extra}Content-Length: 0\r\n\r\n`;
    const garbage: Array<Buffer | string> = [
      '',
      '\r\n\r\n',
      Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x81]),
      'INVITE\r\n\r\n',
      'HELLO WORLD\r\n\r\n',
      'INVITE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4\r\n\r\n',
      base('OPTIONS').replace('CSeq: 1 OPTIONS', 'CSeq: one OPTIONS'),
      base('OPTIONS').replace('CSeq: 1 OPTIONS', 'CSeq: 1 INVITE'),
      base('OPTIONS').replace('Content-Length: 0', 'Content-Length: 500'),
      base('OPTIONS').replace('Via: SIP/2.0/UDP', 'Via: garbage'),
      base('OPTIONS').replace('From: <sip:p@127.0.0.1>', 'From: <sip:p@127.0.0.1'),
      base('OPTIONS').replace(/\r\n\r\n$/, ''),
      'SIP/2.0 999 Nope\r\n' + base('OPTIONS').split('\r\n').slice(1).join('\r\n'),
      'SIP/2.0 OK\r\n\r\n',
      base('OPTIONS', 'X-Long: ' + 'a'.repeat(2000) + '\r\n'.repeat(1)).replace(/X-Long.*\r\n/, Array.from({ length: 300 }, (_, i) => `X-${i}: y\r\n`).join('')),
      base('OPTIONS', ' folded-before-any-header\r\n').replace(/^OPTIONS.*\r\n/, 'OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n folded\r\n'),
      base('OPTIONS').replace('Call-ID: probe-OPTIONS\r\n', ''),
      'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKnobody\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: nobody\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
    ];
    for (const g of garbage) probe.send(typeof g === 'string' ? Buffer.from(g, 'latin1') : g, to.port, to.host);
    // Well-formed requests outside any dialog get proper answers.
    probe.send(base('OPTIONS'), to.port, to.host);
    probe.send(base('BYE').replace('To: <sip:x@127.0.0.1>', 'To: <sip:x@127.0.0.1>;tag=nosuch'), to.port, to.host);
    probe.send(base('FOO'), to.port, to.host);
    const deadline = Date.now() + 3000;
    while (replies.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    probe.close();
    assert.ok(replies.some((r) => /^SIP\/2\.0 200 OK[\s\S]*CSeq: 1 OPTIONS/.test(r)), 'OPTIONS answered 200');
    assert.ok(replies.some((r) => /^SIP\/2\.0 481 [\s\S]*CSeq: 1 BYE/.test(r)), 'BYE for no dialog answered 481');
    assert.ok(replies.some((r) => /^SIP\/2\.0 501 [\s\S]*CSeq: 1 FOO/.test(r)), 'unknown method answered 501');
    assert.equal(replies.length, 3, `nothing else answered: ${replies.join('\n---\n')}`);
    // All but the keep-alive and the well-formed stray response.
    assert.equal(ua.droppedDatagrams, garbage.length - 2);
    assert.ok(captured.logs.some((l) => l.msg === 'malformed SIP datagram dropped'));

    // And a real call still goes through.
    const call = ua.call({ to: TO, fromUser: 'televisit', ringTimeoutSeconds: 10 });
    await waitEvent(call, 'answered');
    await waitEvent(call, 'completed');
    await sippOk(sipp);
  });
});
