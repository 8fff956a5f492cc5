// Access tokens made by the real `twilio` package are accepted, and every kind of tampering is
// refused with Twilio's code. Runs on both databases (keys live in the store).
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import twilio from 'twilio';
import { SignJWT } from 'jose';
import { eachDatabase, startServer, type TestServer } from '../helpers/server.js';
import { TwilioError } from '../../src/video/errors.js';
import { roomAccess } from '../../src/video/tokens/access-token.js';
import { mintAccessToken } from '../../src/video/tokens/mint-token.js';

const { AccessToken } = twilio.jwt;
const { VideoGrant } = AccessToken;

function twilioToken(s: { accountSid: string; apiKey: string; apiSecret: string }, opts: { identity?: string; room?: string; ttl?: number; nbf?: number; alg?: string } = {}): string {
  const token = new AccessToken(s.accountSid, s.apiKey, s.apiSecret, {
    identity: opts.identity ?? 'alice',
    ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
    ...(opts.nbf !== undefined ? { nbf: opts.nbf } : {}),
  });
  token.addGrant(new VideoGrant(opts.room ? { room: opts.room } : {}));
  return token.toJwt(opts.alg as 'HS256' | undefined);
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const parts = (jwt: string) => jwt.split('.') as [string, string, string];

async function refused(server: TestServer, token: unknown, code: number): Promise<void> {
  const err = await server.tv.tokens.verify(token).then(
    () => assert.fail(`token was accepted; expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TwilioError, `expected a TwilioError, got ${String(err)}`);
  assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
  assert.ok(err.message.length > 10);
}

eachDatabase('access tokens', (db) => {
  let server: TestServer;
  before(async () => {
    server = await startServer(db);
  });
  after(async () => server.stop());

  test('a token from twilio.jwt.AccessToken with a VideoGrant is accepted, in all three HMAC algorithms', async () => {
    for (const alg of ['HS256', 'HS384', 'HS512']) {
      const v = await server.tv.tokens.verify(twilioToken(server, { identity: 'dr-7', room: 'visit-42', alg }));
      assert.equal(v.identity, 'dr-7');
      assert.equal(v.accountSid, server.accountSid);
      assert.equal(v.keySid, server.apiKey);
      assert.deepEqual(v.video, { room: 'visit-42' });
    }
  });

  test('our minted tokens have the same shape and verify too', async () => {
    const jwt = await mintAccessToken({ accountSid: server.accountSid, keySid: server.apiKey, keySecret: server.apiSecret, identity: 'bob', room: 'r1' });
    const [h] = parts(jwt);
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { alg: 'HS256', typ: 'JWT', cty: 'twilio-fpa;v=1' });
    const v = await server.tv.tokens.verify(jwt);
    assert.equal(v.identity, 'bob');
    assert.deepEqual(v.video, { room: 'r1' });
  });

  test('tamper matrix', async (t) => {
    const good = twilioToken(server);
    const [h, p, s] = parts(good);
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());

    await t.test('expired', async () => {
      server.clock.advance(2 * 3600_000);
      try {
        await refused(server, good, 20104);
      } finally {
        server.clock.advance(-2 * 3600_000);
      }
    });
    await t.test('not yet valid', () => refused(server, twilioToken(server, { nbf: Math.floor(Date.now() / 1000) + 3600 }), 20105));
    await t.test('within clock skew is accepted', async () => {
      await server.tv.tokens.verify(twilioToken(server, { nbf: Math.floor(Date.now() / 1000) + 10 }));
    });
    await t.test('wrong secret', () => refused(server, twilioToken({ ...server, apiSecret: randomBytes(16).toString('hex') }), 20107));
    await t.test('unknown key', () => refused(server, twilioToken({ ...server, apiKey: 'SK' + randomBytes(16).toString('hex') }), 20103));
    await t.test('wrong account', () => refused(server, twilioToken({ ...server, accountSid: 'AC' + randomBytes(16).toString('hex') }), 20103));
    await t.test('revoked key', async () => {
      const key = await server.tv.credentials.createKey(server.accountSid, 'short-lived');
      const jwt = twilioToken({ accountSid: server.accountSid, apiKey: key.sid, apiSecret: key.secret });
      assert.equal((await server.tv.tokens.verify(jwt)).keySid, key.sid);
      assert.equal(await server.tv.credentials.revokeKey(key.sid), true);
      await refused(server, jwt, 20103);
    });
    await t.test('alg none', () => refused(server, `${b64({ ...header, alg: 'none' })}.${p}.`, 20102));
    await t.test('alg none with the signature kept', () => refused(server, `${b64({ ...header, alg: 'none' })}.${p}.${s}`, 20102));
    await t.test('algorithm confusion: RS256', async () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const jwt = await new SignJWT(payload).setProtectedHeader({ ...header, alg: 'RS256' }).sign(privateKey);
      await refused(server, jwt, 20102);
    });
    await t.test('header swapped to HS512 with the HS256 signature', () => refused(server, `${b64({ ...header, alg: 'HS512' })}.${p}.${s}`, 20107));
    await t.test('header without the twilio-fpa content type', async () => {
      const { cty: _omit, ...noCty } = header;
      const body = `${b64(noCty)}.${p}`;
      const sig = createHmac('sha256', server.apiSecret).update(body).digest('base64url');
      await refused(server, `${body}.${sig}`, 20102);
    });
    await t.test('payload changed after signing', () => refused(server, `${h}.${b64({ ...payload, grants: { ...payload.grants, identity: 'mallory' } })}.${s}`, 20107));
    await t.test('lifetime over 24 hours', () => refused(server, twilioToken(server, { ttl: 24 * 3600 + 60 }), 20157));
    await t.test('exactly 24 hours is accepted', async () => {
      await server.tv.tokens.verify(twilioToken(server, { ttl: 24 * 3600 }));
    });
    await t.test('no identity', async () => {
      // twilio refuses to build a token without identity; craft the same payload by hand.
      const body = `${h}.${b64({ ...payload, grants: { video: {} } })}`;
      await refused(server, `${body}.${createHmac('sha256', server.apiSecret).update(body).digest('base64url')}`, 20106);
    });
    await t.test('garbage', async () => {
      await refused(server, 'not-a-token', 20101);
      await refused(server, '', 20101);
      await refused(server, 42, 20101);
      await refused(server, 'a.b.c', 20102);
      await refused(server, `${h}.!!!.${s}`, 20101);
      await refused(server, 'x'.repeat(20_000), 20101);
    });
  });

  test('room scope: a name grant reaches only that name; an RM grant reaches only that room and never creates one', async () => {
    const byName = await server.tv.tokens.verify(twilioToken(server, { room: 'visit-42' }));
    assert.deepEqual(roomAccess(byName, { name: 'visit-42', existingSid: null }), { allowed: true, mayCreate: true });
    const other = roomAccess(byName, { name: 'visit-43', existingSid: null });
    assert.equal(other.allowed, false);
    assert.equal(!other.allowed && other.error.code, 20106);

    const room = await server.tv.rooms.createRoom(server.accountSid, { uniqueName: 'guest-room' });
    const bySid = await server.tv.tokens.verify(twilioToken(server, { identity: 'thirdParty', room: room.sid }));
    assert.deepEqual(roomAccess(bySid, { name: 'guest-room', existingSid: room.sid }), { allowed: true, mayCreate: false });
    assert.equal(roomAccess(bySid, { name: 'another-room', existingSid: null }).allowed, false);
    assert.equal(roomAccess(bySid, { name: 'another-room', existingSid: 'RM' + randomBytes(16).toString('hex') }).allowed, false);

    const unscoped = await server.tv.tokens.verify(twilioToken(server));
    assert.deepEqual(roomAccess(unscoped, { name: 'anything', existingSid: null }), { allowed: true, mayCreate: true });
  });
});
