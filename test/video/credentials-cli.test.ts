// Credentials: the TWILIO_* migration path, the development account printed once, secrets
// encrypted at rest, and the `televisit` CLI (keys create/list/revoke, token).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import twilio from 'twilio';
import { ConfigError, loadConfig } from '../../src/config.js';
import { eachDatabase, startServer } from '../helpers/server.js';
import { createTelevisit } from '../../src/app.js';

const run = promisify(execFile);
const cli = (dataDir: string, ...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'src/cli/televisit.ts', ...args], { env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' } });

test('configuration: all four TWILIO_* or none; sane errors for bad values', () => {
  assert.throws(() => loadConfig({ TWILIO_ACCOUNT_SID: 'AC' + '0'.repeat(32) }), (e: Error) => e instanceof ConfigError && /missing TWILIO_AUTH_TOKEN/.test(e.message));
  assert.throws(() => loadConfig({ PORT: 'eighty' }), ConfigError);
  assert.throws(() => loadConfig({ PUBLIC_URL: 'not a url' }), ConfigError);
  assert.throws(() => loadConfig({ AD_HOC_VIDEO_CODECS: 'VP9' }), ConfigError);
  const c = loadConfig({});
  assert.equal(c.port, 3000);
  assert.equal(c.databaseUrl, null);
  assert.equal(c.publicUrl, 'http://127.0.0.1:3000');
});

eachDatabase('credentials', (db) => {
  test('TWILIO_* credentials exist with exactly those values, so an existing app works unchanged', async () => {
    const env = {
      TWILIO_ACCOUNT_SID: 'AC' + randomBytes(16).toString('hex'),
      TWILIO_AUTH_TOKEN: randomBytes(16).toString('hex'),
      TWILIO_API_KEY: 'SK' + randomBytes(16).toString('hex'),
      TWILIO_API_SECRET: randomBytes(16).toString('hex'),
    };
    const server = await startServer(db, { env });
    try {
      const client = twilio(env.TWILIO_API_KEY, env.TWILIO_API_SECRET, { accountSid: env.TWILIO_ACCOUNT_SID });
      client.video.baseUrl = server.url;
      const room = await client.video.v1.rooms.create({ uniqueName: 'migrated' });
      assert.equal(room.accountSid, env.TWILIO_ACCOUNT_SID);
      const token = new twilio.jwt.AccessToken(env.TWILIO_ACCOUNT_SID, env.TWILIO_API_KEY, env.TWILIO_API_SECRET, { identity: 'dr' });
      token.addGrant(new twilio.jwt.AccessToken.VideoGrant({ room: 'migrated' }));
      assert.equal((await server.tv.tokens.verify(token.toJwt())).identity, 'dr');
      // No dev account was made alongside.
      assert.deepEqual((await server.tv.credentials.listAccounts()).map((a) => a.sid), [env.TWILIO_ACCOUNT_SID]);
    } finally {
      await server.stop();
    }
  });
});

test('first start without TWILIO_* creates a development account once; secrets are encrypted at rest', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-dev-'));
  try {
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent' });
    const first = await createTelevisit(config, { sweepIntervalMs: 0 });
    const dev = first.bootstrap.createdDevCredentials;
    assert.ok(dev, 'first start creates dev credentials');
    assert.match(dev.accountSid, /^AC[0-9a-f]{32}$/);
    assert.match(dev.apiKey, /^SK[0-9a-f]{32}$/);
    await first.close();
    const second = await createTelevisit(config, { sweepIntervalMs: 0 });
    assert.equal(second.bootstrap.createdDevCredentials, undefined, 'printed only once');
    assert.equal(second.bootstrap.defaultAccountSid, dev.accountSid);
    await second.close();

    const raw = new Database(path.join(dataDir, 'televisit.sqlite'), { readonly: true });
    const dump = JSON.stringify([raw.prepare('select * from accounts').all(), raw.prepare('select * from api_keys').all()]);
    raw.close();
    assert.ok(!dump.includes(dev.authToken), 'auth token is not stored in the clear');
    assert.ok(!dump.includes(dev.apiSecret), 'API key secret is not stored in the clear');
    assert.equal(fs.statSync(path.join(dataDir, 'secret.key')).mode & 0o077, 0, 'the key file is private');
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('CLI: keys create, list, token, revoke — and the server honours them', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-cli-'));
  try {
    const created = JSON.parse((await cli(dataDir, 'keys', 'create', '--name', 'scheduler', '--json')).stdout) as { sid: string; secret: string; accountSid: string };
    assert.match(created.sid, /^SK[0-9a-f]{32}$/);
    const listed = JSON.parse((await cli(dataDir, 'keys', 'list', '--json')).stdout) as { sid: string; friendlyName: string; status: string }[];
    assert.ok(listed.some((k) => k.sid === created.sid && k.friendlyName === 'scheduler' && k.status === 'active'));
    assert.ok(!JSON.stringify(listed).includes(created.secret), 'list never shows secrets');
    const token = (await cli(dataDir, 'token', '--identity', 'alice', '--room', 'visit-42', '--key', created.sid)).stdout.trim();

    const tv = await createTelevisit(loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent' }), { sweepIntervalMs: 0 });
    try {
      const v = await tv.tokens.verify(token);
      assert.equal(v.identity, 'alice');
      assert.deepEqual(v.video, { room: 'visit-42' });
      assert.equal(v.keySid, created.sid);
    } finally {
      await tv.close();
    }
    await cli(dataDir, 'keys', 'revoke', created.sid);
    const tv2 = await createTelevisit(loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent' }), { sweepIntervalMs: 0 });
    try {
      await assert.rejects(tv2.tokens.verify(token), (e: { code: number }) => e.code === 20103);
    } finally {
      await tv2.close();
    }
    await assert.rejects(cli(dataDir, 'keys', 'revoke', 'SK' + '0'.repeat(32)));
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('CLI: `clinic create` makes a clinic and its first admin, who can sign in (production first run)', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'televisit-cli-clinic-'));
  try {
    // The schema exists once a server has started on the data dir (DEMO_CLINIC=0: no demo clinic).
    const server = await startServer('sqlite', { dataDir, keep: true, env: { DEMO_CLINIC: '0' } });
    assert.equal(server.tv.clinic.demo, null);
    await server.stop();
    const { stdout } = await cli(dataDir, 'clinic', 'create', '--name', 'Eastside Clinic', '--admin-email', 'Boss@Eastside.Example', '--time-zone', 'America/Chicago');
    const password = stdout.match(/password \(shown only now\): (\S+)/)?.[1];
    assert.ok(password, stdout);
    await assert.rejects(cli(dataDir, 'clinic', 'create', '--name', 'X', '--admin-email', 'boss@eastside.example'), /already exists/);
    await assert.rejects(cli(dataDir, 'clinic', 'create', '--name', 'X', '--admin-email', 'x@y.example', '--time-zone', 'Mars/Olympus'), /IANA time zone/);
    const again = await startServer('sqlite', { dataDir, env: { DEMO_CLINIC: '0' } });
    try {
      const res = await fetch(`${again.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'boss@eastside.example', password }) });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { stage: 'enroll' });
    } finally {
      await again.stop();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
