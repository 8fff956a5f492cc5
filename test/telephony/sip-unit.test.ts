// The pieces under the SIP UA, without a network: message parsing, digest, SDP, RTP/RFC 4733,
// status mapping and the SIP configuration.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { parseMessage, parseNameAddr, parseSipUri, serialize, SipHeaders, SipParseError, splitList, request } from '../../src/telephony/sip/message.js';
import { authorization, digestResponse, parseChallenge, pickChallenge } from '../../src/telephony/sip/digest.js';
import { answerDirection, buildSdp, parseRemoteSdp, SdpError } from '../../src/telephony/sdp.js';
import { buildRtp, parseRtp, parseTelephoneEvent, telephoneEventPayload, validDigits } from '../../src/telephony/rtp.js';
import { statusForFailure } from '../../src/telephony/sip/call.js';
import { callbackTimestamp } from '../../src/telephony/status-callbacks.js';
import { ConfigError, loadConfig } from '../../src/config.js';

const INVITE = [
  'INVITE sip:+15551234567@trunk.example.com SIP/2.0',
  'v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKaaa;rport, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKbbb',
  'Max-Forwards: 70',
  'f: "Dr. Smith, MD" <sip:doc@example.com>;tag=abc',
  't: <sip:+15551234567@trunk.example.com>',
  'i: call-1@example.com',
  'CSeq: 7 INVITE',
  'm: <sip:doc@10.0.0.1:5060>',
  'Subject: folded',
  '  continuation',
  'c: application/sdp',
  'l: 11',
  '',
  'v=0\r\nx=éé',
].join('\r\n');

describe('SIP messages', () => {
  it('parses compact forms, folding, comma lists and the body by Content-Length', () => {
    const msg = parseMessage(Buffer.from('\r\n' + INVITE + 'trailing junk'));
    assert.equal(msg.kind, 'request');
    if (msg.kind !== 'request') return;
    assert.equal(msg.method, 'INVITE');
    assert.deepEqual(msg.headers.getAll('via').length, 2);
    assert.equal(msg.headers.get('call-id'), 'call-1@example.com');
    assert.equal(msg.headers.get('subject'), 'folded continuation');
    assert.equal(parseNameAddr(msg.headers.get('from')!).display, 'Dr. Smith, MD');
    assert.equal(parseNameAddr(msg.headers.get('from')!).params.tag, 'abc');
    assert.equal(Buffer.byteLength(msg.body), 11);
    assert.equal(msg.body, 'v=0\r\nx=éé');
  });

  it('accepts bare LF line ends and responses without a reason phrase', () => {
    const res = parseMessage('SIP/2.0 200\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>;tag=2\nCall-ID: x\nCSeq: 1 BYE\n\n');
    assert.equal(res.kind, 'response');
    if (res.kind === 'response') assert.equal(res.status, 200);
  });

  it('serializes with canonical names and a computed Content-Length, and round-trips', () => {
    const req = request('OPTIONS', 'sip:a@b', [
      ['Via', 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1'],
      ['from', '<sip:x@y>;tag=1'],
      ['to', '<sip:a@b>'],
      ['call-id', 'id'],
      ['cseq', '1 OPTIONS'],
      ['www-authenticate', 'Digest realm="r", nonce="n"'],
      ['Content-Length', '999'],
    ], 'héllo');
    const text = serialize(req).toString();
    assert.match(text, /^Call-ID: id$/m);
    assert.match(text, /^CSeq: 1 OPTIONS$/m);
    assert.match(text, /^WWW-Authenticate: /m);
    assert.match(text, /^Content-Length: 6$/m);
    assert.doesNotMatch(text, /999/);
    const back = parseMessage(serialize(req));
    assert.equal(back.body, 'héllo');
    assert.equal(back.headers.get('from'), '<sip:x@y>;tag=1');
  });

  it('refuses header values with line breaks (no header injection)', () => {
    assert.throws(() => new SipHeaders().add('To', '<sip:a@b>\r\nX-Evil: 1'), SipParseError);
    assert.throws(() => new SipHeaders().add('Bad Name', 'x'), SipParseError);
  });

  it('rejects malformed messages with SipParseError', () => {
    const bad = [
      '',
      'INVITE sip:x SIP/2.0\r\n\r\n',
      'INVITE sip:x SIP/3.0\r\nVia: SIP/2.0/UDP h\r\n\r\n',
      'SIP/2.0 99 Low\r\n\r\n',
      INVITE.replace('CSeq: 7 INVITE', 'CSeq: 7 BYE'),
      INVITE.replace('l: 11', 'l: 12345'),
      INVITE.replace('l: 11', 'l: -1'),
      INVITE.replace('i: call-1@example.com\r\n', ''),
      INVITE.replace('t: <sip:+15551234567@trunk.example.com>', 't: <sip:+15551234567@trunk.example.com'),
      'x'.repeat(70_000),
    ];
    for (const b of bad) assert.throws(() => parseMessage(b), SipParseError, JSON.stringify(b.slice(0, 60)));
  });

  it('never throws anything but SipParseError on mutated input (fuzz)', () => {
    const seed = Buffer.from(INVITE);
    for (let i = 0; i < 3000; i++) {
      const buf = Buffer.from(seed.subarray(0, randomInt(seed.length + 1)));
      for (let j = randomInt(8); j > 0 && buf.length > 0; j--) buf[randomInt(buf.length)] = randomInt(256);
      try {
        parseMessage(buf);
      } catch (err) {
        assert.ok(err instanceof SipParseError, `${(err as Error).stack}\ninput: ${JSON.stringify(buf.toString('latin1'))}`);
      }
    }
  });

  it('splits lists outside quotes and parses SIP URIs', () => {
    assert.deepEqual(splitList('"a, b" <sip:x@y>, <sip:z@w;lr>'), ['"a, b" <sip:x@y>', '<sip:z@w;lr>']);
    assert.deepEqual(parseSipUri('sip:+1555@10.0.0.1:5070;transport=udp'), { scheme: 'sip', user: '+1555', host: '10.0.0.1', port: 5070, params: { transport: 'udp' } });
    assert.equal(parseSipUri('sip:trunk.example.com').port, null);
  });
});

describe('digest authentication', () => {
  it('matches the RFC 2617 example (qop=auth)', () => {
    const ch = parseChallenge('Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')!;
    assert.deepEqual(ch.qop, ['auth', 'auth-int']);
    const response = digestResponse(ch, { username: 'Mufasa', password: 'Circle Of Life' }, { method: 'GET', uri: '/dir/index.html', cnonce: '0a4f113b', nc: '00000001', qop: 'auth' });
    assert.equal(response, '6629fae49393a05397450978507c4ef1');
    const header = authorization(ch, { username: 'Mufasa', password: 'Circle Of Life' }, { method: 'GET', uri: '/dir/index.html', cnonce: '0a4f113b' });
    assert.match(header, /response="6629fae49393a05397450978507c4ef1"/);
    assert.match(header, /qop=auth, nc=00000001, cnonce="0a4f113b"/);
    assert.match(header, /opaque="5ccc069c403ebaf9f0171e9517f40e41"/);
  });

  it('answers without qop (RFC 2069 style) and picks the first supported challenge', () => {
    const ch = pickChallenge(['Basic realm="x"', 'Digest realm="r", nonce="n", algorithm=AKAv1-MD5', 'Digest realm="r", nonce="n", stale=TRUE'])!;
    assert.equal(ch.algorithm, 'MD5');
    assert.equal(ch.stale, true);
    const header = authorization(ch, { username: 'u', password: 'p' }, { method: 'INVITE', uri: 'sip:a@b' });
    assert.doesNotMatch(header, /qop|cnonce|nc=/);
    assert.equal(pickChallenge(['Digest nonce="only"']), null);
  });
});

describe('SDP', () => {
  it('offers PCMU, PCMA and telephone-event', () => {
    const sdp = buildSdp({ address: '127.0.0.1', port: 10000, sessionId: '1', version: 1, codecs: [{ name: 'PCMU', payloadType: 0 }, { name: 'PCMA', payloadType: 8 }], telephoneEvent: 101 });
    assert.match(sdp, /^m=audio 10000 RTP\/AVP 0 8 101\r$/m);
    assert.match(sdp, /^a=rtpmap:101 telephone-event\/8000\r$/m);
    assert.match(sdp, /^c=IN IP4 127.0.0.1\r$/m);
  });

  it('reads the answer: media-level c= over session-level, first G.711, telephone-event PT', () => {
    const media = parseRemoteSdp('v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nc=IN IP4 1.1.1.1\r\nt=0 0\r\nm=video 9 RTP/AVP 96\r\nm=audio 4000 RTP/AVP 18 8 0 100\r\nc=IN IP4 2.2.2.2\r\na=rtpmap:100 telephone-event/8000\r\na=sendonly\r\n');
    assert.equal(media.address, '2.2.2.2');
    assert.equal(media.port, 4000);
    assert.deepEqual(media.codec, { name: 'PCMA', payloadType: 8 });
    assert.equal(media.telephoneEvent, 100);
    assert.equal(media.direction, 'sendonly');
    assert.equal(answerDirection(media.direction), 'recvonly');
    assert.equal(parseRemoteSdp('c=IN IP4 1.1.1.1\nm=audio 5 RTP/AVP 96\na=rtpmap:96 PCMU/8000\n').codec.payloadType, 96);
  });

  it('rejects answers we cannot use', () => {
    assert.throws(() => parseRemoteSdp('c=IN IP4 1.1.1.1\r\nm=audio 0 RTP/AVP 0\r\n'), SdpError);
    assert.throws(() => parseRemoteSdp('c=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/AVP 18\r\n'), SdpError);
    assert.throws(() => parseRemoteSdp('m=audio 4000 RTP/AVP 0\r\n'), SdpError);
    assert.throws(() => parseRemoteSdp('c=IN IP4 1.1.1.1\r\nm=audio 4000 RTP/SAVP 0\r\n'), SdpError);
  });
});

describe('RTP and RFC 4733', () => {
  it('builds and parses packets (CSRC, extension and padding skipped)', () => {
    const packet = { marker: true, payloadType: 101, sequence: 65535, timestamp: 0xfffffff0, ssrc: 0x12345678, payload: Buffer.from([1, 2, 3, 4]) };
    assert.deepEqual(parseRtp(buildRtp(packet)), packet);
    const fancy = Buffer.concat([Buffer.from([0xb1, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]), Buffer.alloc(4), Buffer.from([0xbe, 0xde, 0, 1]), Buffer.alloc(4), Buffer.from([9, 9, 0, 2])]);
    assert.deepEqual([...parseRtp(fancy)!.payload], [9, 9]);
    assert.equal(parseRtp(Buffer.alloc(5)), null);
    assert.equal(parseRtp(Buffer.from([0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), null, 'version 1');
    assert.equal(parseRtp(Buffer.from([0x80, 0xc8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), null, 'RTCP SR');
  });

  it('encodes telephone-events and validates SendDigits strings', () => {
    const payload = telephoneEventPayload({ event: 11, end: true, volume: 10, duration: 800 });
    assert.deepEqual([...payload], [11, 0x8a, 0x03, 0x20]);
    assert.deepEqual(parseTelephoneEvent(payload), { event: 11, end: true, volume: 10, duration: 800 });
    assert.ok(validDigits('ww1234#*ABCDW0'));
    assert.ok(!validDigits('12 3'));
    assert.ok(!validDigits('1'.repeat(33)));
  });
});

describe('call status mapping and callbacks', () => {
  it('maps final SIP codes like Programmable Voice', () => {
    const cases: Array<[number, string]> = [[486, 'busy'], [600, 'busy'], [408, 'no-answer'], [480, 'no-answer'], [487, 'no-answer'], [404, 'failed'], [503, 'failed'], [403, 'failed'], [302, 'failed']];
    for (const [code, status] of cases) assert.equal(statusForFailure(code), status, String(code));
  });

  it('formats Timestamp like Twilio voice callbacks', () => {
    assert.equal(callbackTimestamp(Date.UTC(2020, 6, 21, 20, 9, 45)), 'Tue, 21 Jul 2020 20:09:45 +0000');
  });
});

describe('SIP configuration', () => {
  it('is off without SIP_TRUNK_HOST and filled with defaults with it', () => {
    assert.equal(loadConfig({}).sip, null);
    assert.deepEqual(loadConfig({ SIP_TRUNK_HOST: 'trunk.example.com', SIP_USERNAME: 'acct', SIP_PASSWORD: 'pw' }).sip, {
      trunkHost: 'trunk.example.com',
      trunkPort: 5060,
      transport: 'udp',
      username: 'acct',
      password: 'pw',
      fromUser: 'acct',
      localHost: '127.0.0.1',
      localPort: 5060,
      rtpPortRange: [10000, 20000],
      statusCallbackUrl: null,
    });
    const sip = loadConfig({ SIP_TRUNK_HOST: '10.1.1.1', SIP_TRUNK_PORT: '5080', SIP_FROM_USER: '+15550001111', SIP_LOCAL_HOST: '10.1.1.2', SIP_LOCAL_PORT: '0', SIP_RTP_PORT_MIN: '30000', SIP_RTP_PORT_MAX: '30100' }).sip!;
    assert.deepEqual([sip.trunkPort, sip.fromUser, sip.localHost, sip.localPort, sip.rtpPortRange, sip.username], [5080, '+15550001111', '10.1.1.2', 0, [30000, 30100], null]);
  });

  it('rejects bad SIP settings', () => {
    const bad: Array<Record<string, string>> = [
      { SIP_TRUNK_HOST: 'trunk example' },
      { SIP_TRUNK_HOST: 't', SIP_TRUNK_TRANSPORT: 'tcp' },
      { SIP_TRUNK_HOST: 't', SIP_USERNAME: 'only-user' },
      { SIP_TRUNK_HOST: 't', SIP_LOCAL_HOST: '0.0.0.0' },
      { SIP_TRUNK_HOST: 't', SIP_LOCAL_HOST: 'localhost' },
      { SIP_TRUNK_HOST: 't', SIP_FROM_USER: 'a b' },
      { SIP_TRUNK_HOST: 't', SIP_RTP_PORT_MIN: '20000', SIP_RTP_PORT_MAX: '10000' },
      { SIP_TRUNK_HOST: 't', SIP_TRUNK_PORT: '70000' },
    ];
    for (const env of bad) assert.throws(() => loadConfig(env), ConfigError, JSON.stringify(env));
  });
});
