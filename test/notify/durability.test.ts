// A queued message survives a restart and is delivered exactly once. SQLite and PostgreSQL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { eachDatabase, startServer, waitFor } from '../helpers/server.js';
import { startFakeGateway, type FakeGateway } from './fakes.js';
import { SMS_DELIVER_QUEUE } from '../../src/notify/sms-service.js';

eachDatabase('sms durability', (db) => {
  const secret = randomBytes(24).toString('hex');
  let gw: FakeGateway;
  before(async () => {
    gw = await startFakeGateway(secret);
  });
  after(async () => {
    await gw.close();
  });

  const fresh = () => ({
    dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'tv-sms-restart-')),
    schema: `t_sms_${randomBytes(5).toString('hex')}`,
    env: {
      TWILIO_ACCOUNT_SID: 'AC' + randomBytes(16).toString('hex'),
      TWILIO_AUTH_TOKEN: randomBytes(16).toString('hex'),
      TWILIO_API_KEY: 'SK' + randomBytes(16).toString('hex'),
      TWILIO_API_SECRET: randomBytes(16).toString('hex'),
    },
  });

  test('queued while the gateway is down, delivered once by the next process', async () => {
    const place = fresh();
    const env = { ...place.env, SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: gw.url, SMS_WEBHOOK_SECRET: secret };
    gw.status = 503;
    const first = await startServer(db, { ...place, env, keep: true });
    const { id } = await first.tv.sms.queue({ clinicId: 'c', to: '+15553330001', body: 'survive', kind: 'test', dedupeKey: 'restart-1' });
    await waitFor('a failed attempt', () => gw.requests.some((r) => r.json.id === id));
    await first.stop();
    gw.status = 200;
    const second = await startServer(db, { ...place, env });
    try {
      const m = await waitFor('sent after restart', async () => ((await second.tv.sms.get(id))?.status === 'sent' ? second.tv.sms.get(id) : false), 10_000);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(gw.accepted.filter((r) => r.json.id === id).length, 1, 'accepted exactly once');
      assert.ok(m!.attempts >= 2);
      // The retried caller on the new process still gets the same message.
      assert.equal((await second.tv.sms.queue({ clinicId: 'c', to: '+15553330001', body: 'survive', kind: 'test', dedupeKey: 'restart-1' })).id, id);
      const counts = await second.tv.jobs.counts(SMS_DELIVER_QUEUE);
      assert.equal(counts.pending ?? 0, 0);
      assert.equal(counts.running ?? 0, 0);
      assert.equal(counts.done, 1);
    } finally {
      await second.stop();
    }
  });

  test('queued while the job queue is stopped, delivered once after a restart (outbox)', async () => {
    const place = fresh();
    const first = await startServer(db, { ...place, keep: true });
    await first.tv.jobs.stop();
    const { id } = await first.tv.sms.queue({ clinicId: 'c', to: '+15553330002', body: 'later', kind: 'test' });
    await first.stop();
    const second = await startServer(db, { ...place });
    try {
      await waitFor('delivered after restart', async () => (await second.tv.sms.get(id))?.status === 'delivered');
      await new Promise((r) => setTimeout(r, 300));
      const m = await second.tv.sms.get(id);
      assert.equal(m!.attempts, 1, 'handed to the provider once');
      assert.deepEqual(await second.tv.jobs.counts(SMS_DELIVER_QUEUE), { done: 1 });
    } finally {
      await second.stop();
    }
  });
});
