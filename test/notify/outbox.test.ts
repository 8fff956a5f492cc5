// The embedded default provider: messages are stored, marked delivered, and shown on the
// development outbox page. Dedupe keys, opt-outs and the page's gating. SQLite and PostgreSQL.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { eachDatabase, startServer, waitFor, type TestServer } from '../helpers/server.js';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';
import { SMS_DELIVER_QUEUE, SmsValidationError, type SmsMessage } from '../../src/notify/sms-service.js';

eachDatabase('sms outbox', (db) => {
  let server: TestServer;
  before(async () => {
    server = await startServer(db);
  });
  after(async () => {
    await server.stop();
  });

  const outboxJson = async (): Promise<SmsMessage[]> => {
    const res = await fetch(`${server.url}/dev/outbox.json`);
    assert.equal(res.status, 200);
    return ((await res.json()) as { messages: SmsMessage[] }).messages;
  };

  test('a queued message is delivered to the outbox and listed with its link', async () => {
    const { sms } = server.tv;
    const body = 'Your video visit with Dr. <Lee> & team: http://127.0.0.1/v/Tok3nAbc123';
    const { id, suppressed } = await sms.queue({ clinicId: 'clinic-1', appointmentId: 'appt-1', to: '+15551230001', body, kind: 'invite' });
    assert.match(id, /^SM[0-9a-f]{32}$/);
    assert.equal(suppressed, false);
    const delivered = await waitFor('delivered', async () => ((await sms.get(id))?.status === 'delivered' ? sms.get(id) : false));
    assert.equal(delivered!.provider, 'outbox');
    assert.equal(delivered!.from, '+15005550006');
    assert.equal(delivered!.attempts, 1);
    assert.ok(delivered!.sentAt);

    const listed = (await outboxJson()).find((m) => m.id === id);
    assert.ok(listed);
    assert.equal(listed.body, body, 'the outbox shows the full body, link included');
    assert.equal(listed.to, '+15551230001');
    assert.equal(listed.kind, 'invite');
    assert.equal(listed.status, 'delivered');

    const page = await fetch(`${server.url}/dev/outbox`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const html = await page.text();
    assert.match(html, /Dr\. &lt;Lee&gt; &amp; team/, 'content is escaped');
    assert.doesNotMatch(html, /<Lee>/);
    assert.match(html, /<a href="http:\/\/127\.0\.0\.1\/v\/Tok3nAbc123" rel="noreferrer">/, 'the link is clickable');

    assert.deepEqual((await sms.listForAppointment('appt-1')).map((m) => m.id), [id]);
    assert.equal(await sms.get('SM' + '0'.repeat(32)), null);
  });

  test('the outbox lists the newest message first', async () => {
    const a = await server.tv.sms.queue({ clinicId: 'clinic-1', to: '+15551230002', body: 'first', kind: 'test' });
    server.clock.advance(10);
    const b = await server.tv.sms.queue({ clinicId: 'clinic-1', to: '+15551230002', body: 'second', kind: 'test' });
    const ids = (await outboxJson()).map((m) => m.id);
    assert.ok(ids.indexOf(b.id) < ids.indexOf(a.id));
  });

  test('a dedupe key returns the same message and sends once', async () => {
    const { sms } = server.tv;
    const input = { clinicId: 'clinic-1', appointmentId: 'appt-2', to: '+15551230003', body: 'Reminder', kind: 'reminder', dedupeKey: 'appt-2:reminder' };
    const first = await sms.queue(input);
    const again = await sms.queue(input);
    const concurrent = await Promise.all([sms.queue(input), sms.queue(input)]);
    assert.equal(again.id, first.id);
    assert.deepEqual(concurrent.map((r) => r.id), [first.id, first.id]);
    // Another clinic's key space is its own.
    const other = await sms.queue({ ...input, clinicId: 'clinic-2' });
    assert.notEqual(other.id, first.id);
    await waitFor('delivered', async () => (await sms.get(first.id))?.status === 'delivered');
    assert.equal((await sms.listForAppointment('appt-2')).filter((m) => m.clinicId === 'clinic-1').length, 1);
  });

  test('a dedupe key inside the caller’s transaction: rolled back means never queued', async () => {
    const { sms, database } = server.tv;
    const input = { clinicId: 'clinic-1', to: '+15551230004', body: 'Rolled back', kind: 'test', dedupeKey: 'trx-1' };
    await assert.rejects(
      database.db.transaction().execute(async (trx) => {
        await sms.queue(input, trx);
        throw new Error('caller failed');
      }),
      /caller failed/,
    );
    assert.equal((await outboxJson()).some((m) => m.body === 'Rolled back'), false);
    const committed = await database.db.transaction().execute((trx) => sms.queue(input, trx));
    await waitFor('delivered', async () => (await sms.get(committed.id))?.status === 'delivered');
  });

  test('an opted-out number is suppressed when queued and when delivered', async () => {
    const { sms, jobs } = server.tv;
    assert.equal(await sms.optOut('(555) 123-0005'), true);
    assert.equal(await sms.isOptedOut('+15551230005'), true);
    const r = await sms.queue({ clinicId: 'clinic-1', to: '+15551230005', body: 'x', kind: 'test' });
    assert.equal(r.suppressed, true);
    assert.equal((await sms.get(r.id))!.status, 'suppressed');

    // Opted out between queueing and delivery.
    await jobs.stop();
    const later = await sms.queue({ clinicId: 'clinic-1', to: '+15551230006', body: 'y', kind: 'test' });
    assert.equal(later.suppressed, false);
    await sms.optOut('+15551230006');
    jobs.start();
    await waitFor('suppressed', async () => (await sms.get(later.id))?.status === 'suppressed');
    assert.equal((await sms.get(later.id))!.attempts, 0, 'never handed to the provider');

    assert.equal(await sms.optIn('+15551230006'), true);
    assert.equal(await sms.isOptedOut('+15551230006'), false);
    const again = await sms.queue({ clinicId: 'clinic-1', to: '+15551230006', body: 'z', kind: 'test' });
    await waitFor('delivered', async () => (await sms.get(again.id))?.status === 'delivered');
  });

  test('invalid input is refused before anything is stored', async () => {
    const { sms } = server.tv;
    const ok = { clinicId: 'c', to: '+15551230007', body: 'b', kind: 'k' };
    await assert.rejects(sms.queue({ ...ok, to: '555-123-0007' }), SmsValidationError);
    await assert.rejects(sms.queue({ ...ok, body: '  ' }), SmsValidationError);
    await assert.rejects(sms.queue({ ...ok, body: 'x'.repeat(1601) }), SmsValidationError);
    await assert.rejects(sms.queue({ ...ok, clinicId: '' }), SmsValidationError);
    await assert.rejects(sms.queue({ ...ok, kind: '' }), SmsValidationError);
    const counts = await server.tv.jobs.counts(SMS_DELIVER_QUEUE);
    assert.equal(counts.failed ?? 0, 0);
  });

  test('Twilio and webhook routes do not exist with the outbox provider', async () => {
    for (const path of ['/sms/status', '/sms/inbound', '/sms/webhook-status']) {
      const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'a=b' });
      assert.equal(res.status, 404, path);
    }
  });

  test('logs carry neither the link token nor the full phone number', async () => {
    let logs = '';
    const sink = new Writable({ write: (chunk, _enc, done) => ((logs += String(chunk)), done()) });
    const logged = await startServer(db, { logger: createLogger('debug', sink) });
    try {
      const { id } = await logged.tv.sms.queue({ clinicId: 'c', to: '+15551239876', body: 'Join: https://clinic.example/v/SecretTok3n99xyz', kind: 'invite' });
      await waitFor('delivered', async () => (await logged.tv.sms.get(id))?.status === 'delivered');
      await logged.tv.sms.handleInbound('+15551239876', 'STOP');
    } finally {
      await logged.stop();
    }
    const lines = logs.split('\n').filter((l) => l.includes('"part":"sms"'));
    assert.equal(lines.filter((l) => l.includes('"level":30') && l.includes('outbox')).length, 1, 'one info line per outbox message');
    assert.ok(lines.some((l) => l.includes('https://clinic.example/v/…')));
    assert.ok(lines.some((l) => l.includes('…9876')));
    assert.doesNotMatch(logs, /SecretTok3n99xyz/);
    assert.doesNotMatch(logs, /5551239876/);
  });

  test('the outbox page is off in production unless SMS_OUTBOX_PAGE=1', async () => {
    const prod = await startServer(db, { env: { NODE_ENV: 'production' } });
    try {
      assert.equal((await fetch(`${prod.url}/dev/outbox`)).status, 404);
      assert.equal((await fetch(`${prod.url}/dev/outbox.json`)).status, 404);
      // Messages are still stored and "delivered" to the outbox table.
      const { id } = await prod.tv.sms.queue({ clinicId: 'c', to: '+15551230008', body: 'b', kind: 'k' });
      await waitFor('delivered', async () => (await prod.tv.sms.get(id))?.status === 'delivered');
    } finally {
      await prod.stop();
    }
    const allowed = await startServer(db, { env: { NODE_ENV: 'production', SMS_OUTBOX_PAGE: '1' } });
    try {
      assert.equal((await fetch(`${allowed.url}/dev/outbox`)).status, 200);
    } finally {
      await allowed.stop();
    }
  });
});
