// The webhook provider: a signed JSON POST per message to an HTTP gateway, signed status updates
// and inbound keywords back. The gateway here checks signatures with its own HMAC. SQLite and
// PostgreSQL.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { eachDatabase, startServer, waitFor, type TestServer } from '../helpers/server.js';
import { hmacHex, postSigned, startFakeGateway, type FakeGateway } from './fakes.js';

eachDatabase('sms via webhook', (db) => {
  const secret = 'whsec_' + 'k'.repeat(32);
  let gw: FakeGateway;
  let server: TestServer;
  before(async () => {
    gw = await startFakeGateway(secret);
    server = await startServer(db, { env: { SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: gw.url, SMS_WEBHOOK_SECRET: secret, SMS_FROM: '+15550009999' } });
  });
  after(async () => {
    await server.stop();
    await gw.close();
  });

  const statusUrl = () => `${server.url}/sms/webhook-status`;

  test('each message is POSTed as signed JSON; the gateway’s answer is recorded', async () => {
    const { sms } = server.tv;
    const { id } = await sms.queue({ clinicId: 'c', to: '+15552220001', body: 'Visit link https://x.example/v/t0k', kind: 'invite' });
    const m = await waitFor('sent', async () => ((await sms.get(id))?.status === 'sent' ? sms.get(id) : false));
    const req = gw.accepted.find((r) => r.json.id === id);
    assert.ok(req);
    assert.equal(req.signatureValid, true);
    assert.ok(Math.abs(Number(req.timestamp) - Date.now() / 1000) < 60);
    assert.deepEqual(req.json, { id, to: '+15552220001', from: '+15550009999', body: 'Visit link https://x.example/v/t0k', statusCallbackUrl: statusUrl() });
    assert.match(m!.providerMessageId!, /^gw-\d+$/);
  });

  test('a signed status update is applied; unsigned, badly signed and stale ones are refused', async () => {
    const { sms } = server.tv;
    const { id } = await sms.queue({ clinicId: 'c', to: '+15552220002', body: 'hi', kind: 'test' });
    await waitFor('sent', async () => (await sms.get(id))?.status === 'sent');

    assert.equal((await postSigned(statusUrl(), secret, { id, status: 'delivered' }, { signature: null })).status, 403);
    assert.equal((await postSigned(statusUrl(), secret, { id, status: 'delivered' }, { signature: 'v1=' + 'ab'.repeat(32) })).status, 403);
    assert.equal((await postSigned(statusUrl(), 'not-the-secret-at-all', { id, status: 'delivered' })).status, 403);
    const old = Math.floor(Date.now() / 1000) - 301;
    assert.equal((await postSigned(statusUrl(), secret, { id, status: 'delivered' }, { timestamp: old })).status, 403);
    // Signed over a different body than the one sent.
    const ts = String(Math.floor(Date.now() / 1000));
    const tampered = await fetch(statusUrl(), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Televisit-Timestamp': ts, 'X-Televisit-Signature': 'v1=' + hmacHex(secret, `${ts}.{"id":"${id}","status":"failed"}`) },
      body: JSON.stringify({ id, status: 'delivered' }),
    });
    assert.equal(tampered.status, 403);
    assert.equal((await sms.get(id))!.status, 'sent');

    assert.equal((await postSigned(statusUrl(), secret, { id, status: 'delivered' })).status, 204);
    assert.equal((await sms.get(id))!.status, 'delivered');
    assert.equal((await postSigned(statusUrl(), secret, { id: 'SM' + '0'.repeat(32), status: 'delivered' })).status, 404);
    assert.equal((await postSigned(statusUrl(), secret, { id, status: 'teleported' })).status, 400);
  });

  test('a gateway that refuses a message (422) fails it; one that is down (503) is retried', async () => {
    const { sms } = server.tv;
    gw.status = 422;
    const refused = await sms.queue({ clinicId: 'c', to: '+15552220003', body: 'no', kind: 'test' });
    await waitFor('failed', async () => (await sms.get(refused.id))?.status === 'failed');
    assert.match((await sms.get(refused.id))!.error!, /HTTP 422/);

    gw.status = 503;
    const retried = await sms.queue({ clinicId: 'c', to: '+15552220004', body: 'later', kind: 'test' });
    await waitFor('first attempt', () => gw.requests.some((r) => r.json.id === retried.id));
    gw.status = 200;
    await waitFor('sent after retry', async () => (await sms.get(retried.id))?.status === 'sent', 8000);
    assert.equal(gw.accepted.filter((r) => r.json.id === retried.id).length, 1);
  });

  test('a message that keeps failing past SMS_MAX_AGE_HOURS is marked failed', async () => {
    const { sms } = server.tv;
    gw.status = 503;
    try {
      const { id } = await sms.queue({ clinicId: 'c', to: '+15552220006', body: 'too late', kind: 'test' });
      await waitFor('first attempt', () => gw.requests.some((r) => r.json.id === id));
      server.clock.advance(25 * 3600_000);
      const m = await waitFor('failed', async () => ((await sms.get(id))?.status === 'failed' ? sms.get(id) : false), 8000);
      assert.match(m!.error!, /^gave up after \d+ attempts: SMS webhook answered HTTP 503/);
    } finally {
      server.clock.advance(-25 * 3600_000);
      gw.status = 200;
    }
  });

  test('signed inbound STOP and START through the webhook', async () => {
    const { sms } = server.tv;
    const url = `${server.url}/sms/webhook-inbound`;
    assert.equal((await postSigned(url, secret, { from: '+15552220005', body: 'STOP' }, { signature: null })).status, 403);
    const stop = await postSigned(url, secret, { from: '+15552220005', body: 'STOP' });
    assert.equal(stop.status, 200);
    const answer = (await stop.json()) as { action: string; reply: string };
    assert.equal(answer.action, 'opt-out');
    assert.match(answer.reply, /unsubscribed/);
    assert.equal(await sms.isOptedOut('+15552220005'), true);
    assert.equal(((await (await postSigned(url, secret, { from: '+15552220005', body: 'start' })).json()) as { action: string }).action, 'opt-in');
    assert.equal(await sms.isOptedOut('+15552220005'), false);
  });
});
