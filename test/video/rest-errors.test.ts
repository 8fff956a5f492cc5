// Bad input on every endpoint gets a 4xx with a Twilio error code, nothing crashes, nothing is
// half-written. Authentication with account or key credentials; key management by REST.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { eachDatabase, startServer, type TestServer } from '../helpers/server.js';

eachDatabase('REST errors and auth', (db) => {
  let server: TestServer;
  let auth: string;
  let roomSid: string;
  let participantSid: string;
  before(async () => {
    server = await startServer(db);
    auth = 'Basic ' + Buffer.from(`${server.apiKey}:${server.apiSecret}`).toString('base64');
    const room = await server.tv.rooms.createRoom(server.accountSid, { uniqueName: 'errors-room' });
    roomSid = room.sid;
    participantSid = (await server.tv.rooms.connectParticipant(room.sid, 'someone')).participant.sid;
  });
  after(async () => server.stop());

  async function call(method: string, path: string, body?: string | Record<string, string | string[]>, headers: Record<string, string> = {}) {
    let payload: string | undefined;
    if (typeof body === 'string') payload = body;
    else if (body) {
      const p = new URLSearchParams();
      for (const [k, v] of Object.entries(body)) for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
      payload = p.toString();
    }
    const res = await fetch(server.url + path, {
      method,
      headers: { authorization: auth, ...(payload !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...headers },
      body: payload,
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  }

  async function expectError(method: string, path: string, body: string | Record<string, string | string[]> | undefined, status: number, code: number, headers?: Record<string, string>) {
    const r = await call(method, path, body, headers);
    assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.json)}`);
    assert.equal(r.json.code, code, `${method} ${path} ${JSON.stringify(body)} → code ${r.json.code}: ${r.json.message}`);
    assert.equal(r.json.status, status);
    assert.match(r.json.more_info, /^https:\/\/www\.twilio\.com\/docs\/errors\/\d+$/);
    assert.ok(typeof r.json.message === 'string' && r.json.message.length > 5);
  }

  test('room creation: wrong types, unknown enums, out-of-range values, oversized input', async () => {
    const cases: [Record<string, string | string[]> | string, number, number][] = [
      [{ Type: 'huge' }, 400, 53108],
      [{ MaxParticipants: 'many' }, 400, 53107],
      [{ MaxParticipants: '0' }, 400, 53107],
      [{ MaxParticipants: '51' }, 400, 53107],
      [{ Type: 'group-small', MaxParticipants: '5' }, 400, 53107],
      [{ VideoCodecs: 'VP9' }, 400, 53114],
      [{ VideoCodecs: ['VP8', 'AV1'] }, 400, 53114],
      [{ StatusCallbackMethod: 'PUT' }, 400, 53110],
      [{ StatusCallback: 'not a url' }, 400, 53111],
      [{ StatusCallback: 'ftp://example.test/x' }, 400, 53111],
      [{ EmptyRoomTimeout: '0' }, 400, 53109],
      [{ UnusedRoomTimeout: '99999' }, 400, 53109],
      [{ UnusedRoomTimeout: 'soon' }, 400, 53109],
      [{ MaxParticipantDuration: '10' }, 400, 53109],
      [{ MediaRegion: 'mars1' }, 400, 53115],
      [{ UniqueName: 'x'.repeat(129) }, 400, 53101],
      [{ UniqueName: 'bad\u0001name' }, 400, 53102],
      [{ UniqueName: '' }, 400, 53100],
      [{ AudioOnly: 'perhaps' }, 400, 20001],
      [{ Type: 'go', AudioOnly: 'true' }, 400, 53124],
      [{ UniqueName: 'y'.repeat(70_000) }, 413, 20001],
      ['MaxParticipants=%%%&Type=%ZZ', 400, 53108],
    ];
    const before = (await server.tv.rooms.listRooms(server.accountSid, {}, { pageSize: 1000, page: 0 })).items.length;
    for (const [body, status, code] of cases) await expectError('POST', '/v1/Rooms', body, status, code);
    await expectError('POST', '/v1/Rooms', '{"UniqueName": 5', 400, 20001, { 'content-type': 'application/json' });
    const afterCount = (await server.tv.rooms.listRooms(server.accountSid, {}, { pageSize: 1000, page: 0 })).items.length;
    assert.equal(afterCount, before, 'no room was half-created');
  });

  test('room lookups, updates and lists', async () => {
    await expectError('GET', '/v1/Rooms/RM' + '0'.repeat(32), undefined, 404, 20404);
    await expectError('GET', '/v1/Rooms/no-such-room', undefined, 404, 20404);
    await expectError('POST', `/v1/Rooms/${roomSid}`, { Status: 'paused' }, 400, 53112);
    await expectError('POST', `/v1/Rooms/${roomSid}`, {}, 400, 53112);
    await expectError('GET', '/v1/Rooms?Status=sleeping', undefined, 400, 53112);
    await expectError('GET', '/v1/Rooms?PageSize=0', undefined, 400, 20001);
    await expectError('GET', '/v1/Rooms?PageSize=abc', undefined, 400, 20001);
    await expectError('GET', '/v1/Rooms?PageToken=forged', undefined, 400, 20001);
    await expectError('GET', '/v1/Rooms?DateCreatedAfter=yesterday', undefined, 400, 20001);
    await expectError('GET', '/v1/Nope', undefined, 404, 20404);
    const still = await call('GET', `/v1/Rooms/${roomSid}`);
    assert.equal(still.json.status, 'in-progress', 'failed updates changed nothing');
  });

  test('participants, tracks and rules', async () => {
    const base = `/v1/Rooms/${roomSid}/Participants`;
    await expectError('GET', `${base}/PA${'0'.repeat(32)}`, undefined, 404, 20404);
    await expectError('GET', `${base}/nobody`, undefined, 404, 20404);
    await expectError('POST', `${base}/${participantSid}`, { Status: 'connected' }, 400, 53112);
    await expectError('GET', `${base}?Status=maybe`, undefined, 400, 53112);
    await expectError('GET', `${base}/${participantSid}/PublishedTracks/MT${'0'.repeat(32)}`, undefined, 404, 20404);
    await expectError('GET', `${base}/${participantSid}/SubscribedTracks/MT${'0'.repeat(32)}`, undefined, 404, 20404);
    await expectError('POST', `${base}/${participantSid}/SubscribeRules`, {}, 400, 20001);
    await expectError('POST', `${base}/${participantSid}/SubscribeRules`, { Rules: 'not json' }, 400, 20001);
    await expectError('POST', `${base}/${participantSid}/SubscribeRules`, { Rules: '{"a":1}' }, 400, 20001);
    await expectError('POST', `${base}/${participantSid}/SubscribeRules`, { Rules: '[{"type":"maybe","all":true}]' }, 400, 20001);
    await expectError('POST', `${base}/${participantSid}/SubscribeRules`, { Rules: '[{"type":"include","colour":"red"}]' }, 400, 20001);
    await expectError('POST', `${base}/${participantSid}/SubscribeRules`, { Rules: '[{"type":"include"}]' }, 400, 20001);
    await expectError('POST', `${base}/${participantSid}/SubscribeRules`, { Rules: '[{"type":"include","kind":"smell"}]' }, 400, 20001);
    await expectError('POST', `/v1/Rooms/${roomSid}/RecordingRules`, { Rules: '[{"type":"include","priority":"high"}]' }, 400, 20001);
    await expectError('GET', `/v1/Rooms/RM${'1'.repeat(32)}/RecordingRules`, undefined, 404, 20404);
    const rules = await call('GET', `${base}/${participantSid}/SubscribeRules`);
    assert.deepEqual(rules.json.rules, [{ type: 'include', all: true }], 'failed rule updates changed nothing');
  });

  test('authentication: none, wrong secret, unknown key, revoked key, and the account auth token', async () => {
    await expectError('GET', '/v1/Rooms', undefined, 401, 20003, { authorization: '' });
    await expectError('GET', '/v1/Rooms', undefined, 401, 20003, { authorization: 'Bearer abc' });
    await expectError('GET', '/v1/Rooms', undefined, 401, 20003, { authorization: 'Basic ' + Buffer.from(`${server.apiKey}:wrong`).toString('base64') });
    await expectError('GET', '/v1/Rooms', undefined, 401, 20003, { authorization: 'Basic ' + Buffer.from(`SK${randomBytes(16).toString('hex')}:x`).toString('base64') });
    await expectError('GET', '/v1/Rooms', undefined, 401, 20003, { authorization: 'Basic !!!' });
    const asAccount = await server.client(server.accountSid, server.authToken).video.v1.rooms.list({ limit: 1 });
    assert.ok(Array.isArray(asAccount));

    // Keys by REST, with the twilio client's own calls; only account credentials may manage keys.
    const owner = server.client(server.accountSid, server.authToken);
    const key = await owner.newKeys.create({ friendlyName: 'front desk app' });
    assert.match(key.sid, /^SK[0-9a-f]{32}$/);
    assert.match(key.secret, /^[0-9a-f]{32}$/);
    const listed = await owner.keys.list();
    assert.ok(listed.some((k) => k.sid === key.sid && k.friendlyName === 'front desk app'));
    const viaNewKey = server.client(key.sid, key.secret);
    assert.ok(Array.isArray(await viaNewKey.video.v1.rooms.list({ limit: 1 })));
    const denied = await server.client().newKeys.create({ friendlyName: 'nope' }).then(
      () => assert.fail('an API key created a key'),
      (e: { status: number; code: number }) => e,
    );
    assert.equal(denied.status, 403);
    assert.equal(denied.code, 20003);
    assert.equal(await owner.keys(key.sid).remove(), true);
    const revoked = await viaNewKey.video.v1.rooms.list({ limit: 1 }).then(
      () => assert.fail('a revoked key still authenticates'),
      (e: { status: number; code: number }) => e,
    );
    assert.equal(revoked.status, 401);
    assert.equal(revoked.code, 20003);
  });

  test('the server still serves after all of that', async () => {
    const r = await call('GET', '/healthz');
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'ok');
  });
});
