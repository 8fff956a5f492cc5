// Staff sign-in: passwords, lockout, logout, the 15-minute idle timeout, TOTP enrollment and
// codes, deactivation, the JSON-only guard and no-store caching. SQLite and PostgreSQL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { eachDatabase, startServer, type TestServer } from '../helpers/server.js';
import { currentTotp } from '../../src/clinic/staff/totp.js';
import { eventSocket, StaffClient, staffClient, wrongTotp } from './clinic-client.js';

const PASSWORD = 'correct horse battery staple';

eachDatabase('clinic staff auth', (db) => {
  let server: TestServer;
  let clinicId: string;
  let n = 0;
  /** A fresh account, so tests do not share lockouts or sessions. */
  const account = async (role: 'admin' | 'provider' | 'front_desk' = 'provider') => {
    const email = `user${++n}.${role}@auth.test`;
    const s = await server.tv.clinic.staff.create(clinicId, { email, displayName: `Auth User ${n}`, role, password: PASSWORD });
    return { email, id: s.id };
  };

  before(async () => {
    server = await startServer(db);
    clinicId = server.tv.clinic.demo!.clinicId;
  });
  after(async () => {
    await server.stop();
  });

  test('good password signs in; a bad password and an unknown email get the same 401', async () => {
    const demo = server.tv.clinic.demo!;
    const c = new StaffClient(server);
    const good = await c.login(demo.provider.email, demo.provider.password);
    assert.equal(good.status, 200);
    assert.deepEqual(good.body, { stage: 'active' });
    const cookie = good.setCookies.find((l) => l.startsWith('tv_staff='));
    assert.ok(cookie);
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Strict/i);
    const me = await c.get('/api/auth/me');
    assert.equal(me.status, 200);
    assert.equal(me.body.id, demo.provider.id);
    assert.equal(me.body.role, 'provider');
    assert.equal(me.body.idleTimeoutSeconds, 900);

    const bad = await new StaffClient(server).login(demo.provider.email, 'not the password at all');
    const unknown = await new StaffClient(server).login('nobody@nowhere.example', 'not the password at all');
    for (const r of [bad, unknown]) {
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 'bad_credentials');
      assert.equal(r.setCookies.length, 0);
    }
    assert.equal(bad.body.error.message, unknown.body.error.message);
    // Email case and spaces do not matter.
    assert.equal((await new StaffClient(server).login(`  ${demo.provider.email.toUpperCase()} `, demo.provider.password)).status, 200);
  });

  test('five wrong passwords lock the account (429) for 15 minutes, even with the right password', async () => {
    const { email } = await account();
    const c = new StaffClient(server);
    for (let i = 0; i < 5; i++) {
      const r = await c.login(email, `wrong password ${i}`);
      assert.equal(r.status, 401, `attempt ${i + 1}`);
    }
    const locked = await c.login(email, PASSWORD);
    assert.equal(locked.status, 429);
    assert.equal(locked.body.error.code, 'locked');
    assert.equal(c.session, undefined);
    server.clock.advance(15 * 60_000 + 1000);
    assert.equal((await c.login(email, PASSWORD)).status, 200);
    // A success resets the count: four more failures do not lock.
    const other = new StaffClient(server);
    for (let i = 0; i < 4; i++) assert.equal((await other.login(email, 'wrong again')).status, 401);
    assert.equal((await other.login(email, PASSWORD)).status, 200);
  });

  test('logout ends the session', async () => {
    const { email } = await account();
    const c = await staffClient(server, email, PASSWORD);
    const old = c.session!;
    assert.equal((await c.get('/api/auth/me')).status, 200);
    const out = await c.post('/api/auth/logout');
    assert.equal(out.status, 200);
    assert.equal(c.session, undefined, 'the cookie is cleared');
    // The old cookie value no longer works either.
    c.cookies.set('tv_staff', old);
    const me = await c.get('/api/auth/me');
    assert.equal(me.status, 401);
    assert.equal(me.body.error.code, 'session_expired');
    assert.equal((await c.get('/api/appointments?from=2030-01-01&to=2030-01-02')).status, 401);
  });

  test('15 minutes without a request end the session; a request at 14 minutes keeps it alive', async () => {
    const { email } = await account();
    const c = await staffClient(server, email, PASSWORD);
    server.clock.advance(14 * 60_000);
    assert.equal((await c.get('/api/auth/me')).status, 200);
    server.clock.advance(14 * 60_000);
    assert.equal((await c.post('/api/auth/ping')).status, 200);
    server.clock.advance(15 * 60_000 + 1000);
    const me = await c.get('/api/auth/me');
    assert.equal(me.status, 401);
    assert.equal(me.body.error.code, 'session_expired');
    assert.equal((await c.post('/api/auth/ping')).status, 401, 'expired stays expired');
  });

  test('an admin must enroll TOTP before anything else; the code is checked', async () => {
    const { email } = await account('admin');
    const c = new StaffClient(server);
    const login = await c.login(email, PASSWORD);
    assert.equal(login.status, 200);
    assert.deepEqual(login.body, { stage: 'enroll' });
    for (const path of ['/api/auth/me', '/api/staff', '/api/audit', '/api/appointments?from=2030-01-01&to=2030-01-02']) {
      const r = await c.get(path);
      assert.equal(r.status, 401, path);
      assert.equal(r.body.error.code, 'enroll_required', path);
    }
    assert.equal((await c.post('/api/auth/ping')).body.error.code, 'enroll_required');
    // The TOTP login step is not for enrollment.
    assert.equal((await c.post('/api/auth/totp', { code: '123456' })).status, 400);
    // Confirming before starting enrollment is refused.
    assert.equal((await c.post('/api/auth/totp/confirm', { code: '123456' })).status, 400);

    const enroll = await c.post('/api/auth/totp/enroll');
    assert.equal(enroll.status, 200);
    const { secret, uri } = enroll.body as { secret: string; uri: string };
    assert.match(secret, /^[A-Z2-7]{32}$/);
    assert.match(uri, /^otpauth:\/\/totp\//);
    assert.ok(uri.includes(`secret=${secret}`));

    const wrong = await c.post('/api/auth/totp/confirm', { code: wrongTotp(secret, server.clock.now()) });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.code, 'bad_code');
    assert.equal((await c.get('/api/auth/me')).body.error.code, 'enroll_required');

    const right = await c.post('/api/auth/totp/confirm', { code: currentTotp(secret, server.clock.now()) });
    assert.equal(right.status, 200);
    assert.deepEqual(right.body, { stage: 'active' });
    const me = await c.get('/api/auth/me');
    assert.equal(me.status, 200);
    assert.equal(me.body.role, 'admin');
    assert.equal((await c.get('/api/audit')).status, 200);
    // Enrolling again is refused.
    assert.equal((await c.post('/api/auth/totp/enroll')).status, 409);

    // The next login asks for a code: a wrong one is rejected, the right one accepted.
    const next = new StaffClient(server);
    assert.deepEqual((await next.login(email, PASSWORD)).body, { stage: 'totp' });
    const before = await next.get('/api/auth/me');
    assert.equal(before.status, 401);
    assert.equal(before.body.error.code, 'totp_required');
    const bad = await next.post('/api/auth/totp', { code: wrongTotp(secret, server.clock.now()) });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error.code, 'bad_code');
    assert.equal((await next.post('/api/auth/totp', { code: 'abcdef' })).status, 401);
    assert.equal((await next.get('/api/auth/me')).status, 401);
    // The enrollment's code cannot be replayed; the next step's code works once.
    assert.equal((await next.post('/api/auth/totp', { code: currentTotp(secret, server.clock.now()) })).status, 401);
    server.clock.advance(30_000);
    const good = await next.post('/api/auth/totp', { code: currentTotp(secret, server.clock.now()) });
    assert.equal(good.status, 200);
    assert.equal((await next.get('/api/auth/me')).status, 200);

    // A half-finished login (password only) cannot enroll a new secret over the real one.
    const half = new StaffClient(server);
    assert.deepEqual((await half.login(email, PASSWORD)).body, { stage: 'totp' });
    assert.equal((await half.post('/api/auth/totp/enroll')).status, 401);
    // …and it ends after 5 minutes.
    server.clock.advance(5 * 60_000 + 1000);
    const late = await half.post('/api/auth/totp', { code: currentTotp(secret, server.clock.now()) });
    assert.equal(late.status, 401);
    assert.equal(late.body.error.code, 'session_expired');
  });

  test('a provider can enroll TOTP too, and then needs the code', async () => {
    const { email } = await account('provider');
    const c = await staffClient(server, email, PASSWORD);
    const enroll = await c.post('/api/auth/totp/enroll');
    assert.equal(enroll.status, 200);
    assert.equal((await c.post('/api/auth/totp/confirm', { code: currentTotp(enroll.body.secret, server.clock.now()) })).status, 200);
    const next = new StaffClient(server);
    assert.deepEqual((await next.login(email, PASSWORD)).body, { stage: 'totp' });
    assert.equal((await next.get('/api/appointments?from=2030-01-01&to=2030-01-02')).body.error.code, 'totp_required');
  });

  test("a deactivated staff member's session ends and they cannot sign in", async () => {
    const demo = server.tv.clinic.demo!;
    const { email, id } = await account('front_desk');
    const member = await staffClient(server, email, PASSWORD);
    const admin = await staffClient(server, demo.admin.email, demo.admin.password);
    const socket = await eventSocket(member);
    const off = await admin.patch(`/api/staff/${id}`, { active: false });
    assert.equal(off.status, 200);
    assert.equal(off.body.active, false);
    const me = await member.get('/api/auth/me');
    assert.equal(me.status, 401);
    assert.equal(me.body.error.code, 'session_expired');
    const again = await new StaffClient(server).login(email, PASSWORD);
    assert.equal(again.status, 401);
    assert.equal(again.body.error.code, 'bad_credentials');
    socket.close();
    // Back on: a new login works (the old session stays ended).
    assert.equal((await admin.patch(`/api/staff/${id}`, { active: true })).status, 200);
    assert.equal((await member.get('/api/auth/me')).status, 401);
    assert.equal((await new StaffClient(server).login(email, PASSWORD)).status, 200);
    // An admin cannot deactivate themselves.
    const self = await admin.get('/api/auth/me');
    const selfOff = await admin.patch(`/api/staff/${self.body.id}`, { active: false });
    assert.equal(selfOff.status, 400);
    assert.equal(selfOff.body.error.code, 'self_lockout');
  });

  test('mutating requests must be JSON (415); every response is no-store', async () => {
    const demo = server.tv.clinic.demo!;
    const form = await fetch(`${server.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: demo.provider.email, password: demo.provider.password }).toString(),
    });
    assert.equal(form.status, 415);
    assert.equal(((await form.json()) as { error: { code: string } }).error.code, 'json_required');
    assert.equal(form.headers.getSetCookie().length, 0);
    const plain = await fetch(`${server.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ email: demo.provider.email, password: demo.provider.password }) });
    assert.equal(plain.status, 415);

    const c = await staffClient(server, demo.provider.email, demo.provider.password);
    // A cross-site form post to an action route with the session cookie: refused before it runs.
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
      const r = await c.req('POST', '/api/auth/logout', 'a=b', { 'content-type': type });
      assert.equal(r.status, 415, type);
    }
    // A chunked body (no content-length) is no way around it.
    const chunked = await rawPost(server.url, '/api/auth/logout', { 'content-type': 'text/plain', 'transfer-encoding': 'chunked', cookie: c.cookieHeader() }, 'a=b');
    assert.equal(chunked.status, 415);
    assert.equal((await c.get('/api/auth/me')).status, 200, 'still signed in');

    for (const r of [
      await c.get('/api/auth/me'),
      await c.get('/api/staff'),
      await new StaffClient(server).get('/api/auth/me'),
      await c.get('/api/appointments/ap_nope'),
      await c.get('/api/no-such-route'),
      await new StaffClient(server).login(demo.provider.email, 'wrong wrong wrong'),
    ]) {
      assert.equal(r.headers.get('cache-control'), 'no-store', `status ${r.status}`);
    }
    assert.equal(plain.headers.get('cache-control'), 'no-store');
  });
});

function rawPost(base: string, path: string, headers: Record<string, string>, body: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, { method: 'POST', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.write(body);
    req.end();
  });
}
