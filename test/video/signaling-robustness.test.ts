// No malformed signaling message, SDP, or UDP packet (STUN, DTLS, RTP, RTCP shapes) crashes the
// server: bad input gets an error the SDK understands, and the server keeps serving.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import twilio from 'twilio';
import { RTCPeerConnection } from 'werift';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';
import { RawSignaling } from '../helpers/raw-signaling.js';

let server: TestServer;
let wsUrl: string;

function token(identity: string, room?: string): string {
  const t = new twilio.jwt.AccessToken(server.accountSid, server.apiKey, server.apiSecret, { identity });
  t.addGrant(new twilio.jwt.AccessToken.VideoGrant(room ? { room } : {}));
  return t.toJwt();
}

async function healthy(): Promise<void> {
  const res = await fetch(`${server.url}/healthz`);
  assert.equal(res.status, 200);
  // And signaling still answers a well-formed client.
  const s = await RawSignaling.open(wsUrl);
  s.hello({ type: 'ice', token: token('probe'), edge: 'roaming', version: 1 });
  await s.next((f) => f.type === 'msg' && f.body.type === 'iced');
  s.close();
}

/** A real offer from a Node WebRTC peer (what a client's connect carries). */
async function realOffer(): Promise<{ pc: RTCPeerConnection; sdp: string }> {
  const pc = new RTCPeerConnection({ iceServers: [], iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise<void>((r) => {
    if (pc.iceGatheringState === 'complete') return r();
    pc.iceGatheringStateChange.subscribe((st) => st === 'complete' && r());
  });
  return { pc, sdp: pc.localDescription!.sdp };
}

before(async () => {
  server = await startServer('sqlite');
  wsUrl = server.url.replace('http', 'ws') + '/signaling';
});
after(async () => server?.stop());

test('malformed transport frames: the server answers with bad or closes, and keeps serving', async () => {
  const cases: (string | Buffer)[] = [
    'not json',
    '[]',
    '42',
    'null',
    JSON.stringify({ type: 'msg', body: { type: 'connect' } }), // msg before hello
    JSON.stringify({ type: 'hello', version: 99 }),
    JSON.stringify({ type: 'unknown-type' }),
    randomBytes(512),
    JSON.stringify({ type: 'hello', version: 2, timeout: 'soon', body: 'not an object' }),
    JSON.stringify({ type: 'hello', version: 2, timeout: -5 }) + 'trailing',
  ];
  for (const c of cases) {
    const s = await RawSignaling.open(wsUrl);
    s.sendRaw(c);
    await new Promise((r) => setTimeout(r, 50));
    s.close();
  }
  const big = await RawSignaling.open(wsUrl);
  big.sendRaw('x'.repeat(1024 * 1024));
  await waitFor('oversized frame closes the socket', () => big.closeCode !== null);
  await healthy();
});

test('malformed room messages get a Twilio error code, never a crash', async () => {
  const bodies: [unknown, number][] = [
    [{ type: 'connect' }, 20101],
    [{ type: 'connect', token: 'abc' }, 20101],
    [{ type: 'connect', token: token('x'), name: 'r1', participant: 'nope' }, 53004],
    [{ type: 'connect', token: token('x'), name: 'r1', participant: { revision: 1, tracks: [{ id: 1 }] } }, 53004],
    [{ type: 'connect', token: token('x'), name: 'r1', participant: { revision: 1, tracks: [] }, peer_connections: 'x' }, 53004],
    [{ type: 'connect', token: token('x'), name: 'r1', participant: { revision: 1, tracks: [] }, peer_connections: [] }, 53402],
    [{ type: 'connect', token: token('x'), name: 'r2', participant: { revision: 1, tracks: [] }, peer_connections: [{ id: 'pc', description: { type: 'offer', revision: 1, sdp: 'garbage' } }] }, 53403],
    [{ type: 'connect', token: token('x'), name: 'r3', participant: { revision: 1, tracks: [] }, peer_connections: [{ id: 'pc', description: { type: 'offer', revision: 1, sdp: 'v=0\r\nm=audio 9 RTP/AVP 0\r\n' } }] }, 53403],
    [{ type: 'connect', token: token('x'), name: 'x'.repeat(300), participant: { revision: 1, tracks: [] } }, 53101],
    [{ type: 'connect', token: token('x', 'room-a'), name: 'room-b', participant: { revision: 1, tracks: [] } }, 20106],
    [{ type: 'sync', token: token('x'), session: 'SSnope' }, 53001],
    [{ type: 'dance' }, 53004],
  ];
  for (const [body, code] of bodies) {
    const s = await RawSignaling.open(wsUrl);
    s.hello(body);
    const err = await s.next((f) => f.type === 'msg' && f.body.type === 'error');
    assert.equal(err.body.code, code, `${JSON.stringify(body).slice(0, 120)} → ${JSON.stringify(err.body)}`);
    s.close();
  }
  // No participant was left half-joined by the failures.
  const rooms = await server.tv.rooms.listRooms(server.accountSid, {}, { pageSize: 100, page: 0 });
  for (const r of rooms.items) {
    const ps = await server.tv.rooms.listParticipants(server.accountSid, r.sid, { status: 'connected' }, { pageSize: 100, page: 0 });
    assert.equal(ps.items.length, 0, `room ${r.unique_name} has no connected participant`);
  }
  await healthy();
});

test('garbage UDP at the media port (STUN-, DTLS-, RTP- and RTCP-shaped) is dropped', async () => {
  const { pc, sdp } = await realOffer();
  const s = await RawSignaling.open(wsUrl);
  s.hello({ type: 'connect', token: token('udp-victim'), name: 'udp-room', participant: { revision: 1, tracks: [] }, peer_connections: [{ id: 'pc1', description: { type: 'offer', revision: 1, sdp } }] });
  const connected = await s.next((f) => f.type === 'msg' && f.body.type === 'connected', 10_000);
  const answer: string = connected.body.peer_connections[0].description.sdp;
  assert.match(answer, /\r\n/);
  const ports = [...answer.matchAll(/a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+) typ host/g)].map((m) => Number(m[1]));
  assert.ok(ports.length > 0, 'the answer announces a loopback UDP candidate');
  assert.ok(!/a=candidate:\S+ \d+ \w+ \d+ (?!127\.0\.0\.1)[\d.]+ /.test(answer), 'only loopback candidates are announced');
  const sock = dgram.createSocket('udp4');
  const shapes = [
    () => randomBytes(1 + Math.floor(Math.random() * 1400)),
    () => Buffer.concat([Buffer.from([0x00, 0x01, 0x00, 0x50, 0x21, 0x12, 0xa4, 0x42]), randomBytes(92)]), // STUN header, junk body
    () => Buffer.concat([Buffer.from([0x16, 0xfe, 0xfd]), randomBytes(60)]), // DTLS record
    () => Buffer.concat([Buffer.from([0x80, 0x60]), randomBytes(200)]), // RTP
    () => Buffer.concat([Buffer.from([0x80, 0xc8]), randomBytes(50)]), // RTCP SR
    () => Buffer.from([0x80]),
  ];
  for (let i = 0; i < 600; i++) {
    const packet = shapes[i % shapes.length]!();
    await new Promise<void>((r) => sock.send(packet, ports[0]!, '127.0.0.1', () => r()));
  }
  sock.close();
  await new Promise((r) => setTimeout(r, 200));
  await healthy();
  s.msg({ type: 'disconnect' });
  s.close();
  await pc.close();
});

test('iced hands out configured STUN/TURN servers with time-limited coturn credentials', async () => {
  const turnServer = await startServer('sqlite', {
    env: { STUN_URLS: 'stun:127.0.0.1:3478', TURN_URLS: 'turn:127.0.0.1:3478?transport=udp,turn:127.0.0.1:3478?transport=tcp', TURN_SECRET: 'coturn-shared-secret', TURN_CREDENTIAL_TTL_SECONDS: '600' },
  });
  try {
    const t = new twilio.jwt.AccessToken(turnServer.accountSid, turnServer.apiKey, turnServer.apiSecret, { identity: 'patient-x' });
    t.addGrant(new twilio.jwt.AccessToken.VideoGrant({}));
    const s = await RawSignaling.open(turnServer.url.replace('http', 'ws') + '/signaling');
    s.hello({ type: 'ice', edge: 'roaming', preflight: true, token: t.toJwt() });
    const iced = await s.next((f) => f.type === 'msg' && f.body.type === 'iced');
    s.close();
    const servers = iced.body.ice_servers as { urls: string[]; username?: string; credential?: string }[];
    assert.deepEqual(servers[0], { urls: ['stun:127.0.0.1:3478'] });
    const turn = servers[1]!;
    assert.deepEqual(turn.urls, ['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp']);
    const [expiry, user] = turn.username!.split(':');
    const now = Date.now() / 1000;
    assert.ok(Number(expiry) > now + 590 && Number(expiry) < now + 610, 'expires after the configured TTL');
    assert.ok(!turn.username!.includes('patient-x'), 'the identity does not appear in TURN usernames');
    assert.match(user!, /^[0-9a-f]{16}$/);
    const { createHmac } = await import('node:crypto');
    assert.equal(turn.credential, createHmac('sha1', 'coturn-shared-secret').update(turn.username!).digest('base64'));
  } finally {
    await turnServer.stop();
  }
});
