// Reminder texts go through the durable job queue: a reminder due while the server was down is
// sent exactly once by the next process, and never for a cancelled appointment or an old time.
// SQLite and PostgreSQL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { eachDatabase, startServer, waitFor, type TestServer } from '../helpers/server.js';
import { OffsetClock } from '../../src/util/clock.js';
import { REMINDER_QUEUE } from '../../src/clinic/appointment-service.js';
import { book, messagesFor, sleep, staffClient, tokenIn } from './clinic-client.js';

const HOUR = 3600_000;
const MINUTE = 60_000;

eachDatabase('clinic reminders', (db) => {
  const reminderJobs = (server: TestServer, appointmentId: string) =>
    server.tv.database.db.selectFrom('jobs').select(['payload', 'status', 'run_at']).where('queue', '=', REMINDER_QUEUE).where('group_key', '=', appointmentId).orderBy('id').execute();

  test('a reminder due while the server was down is sent once by the next process', async () => {
    const place = {
      dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'tv-clinic-reminder-')),
      schema: `t_rem_${randomBytes(5).toString('hex')}`,
      env: {
        TWILIO_ACCOUNT_SID: 'AC' + randomBytes(16).toString('hex'),
        TWILIO_AUTH_TOKEN: randomBytes(16).toString('hex'),
        TWILIO_API_KEY: 'SK' + randomBytes(16).toString('hex'),
        TWILIO_API_SECRET: randomBytes(16).toString('hex'),
      },
    };
    let current: TestServer | null = await startServer(db, { ...place, keep: true });
    try {
      const demo = current.tv.clinic.demo!;
      const desk = await staffClient(current, demo.frontDesk.email, demo.frontDesk.password);
      const bookedAt = current.clock.now();
      const a = await book(desk, demo.provider.id, { startsAt: new Date(bookedAt + 2 * HOUR).toISOString() });
      const link = tokenIn((await messagesFor(current, a.id, 'invite'))[0]!.body);
      const jobs = await reminderJobs(current, a.id);
      assert.equal(jobs.length, 1, 'the 24 h reminder is already past: only the 15-minute one');
      assert.deepEqual(JSON.parse(jobs[0]!.payload), { appointmentId: a.id, version: 1, minutes: 15 });
      assert.equal(Date.parse(jobs[0]!.run_at), Date.parse(a.view.startsAt) - 15 * MINUTE);
      assert.equal(jobs[0]!.status, 'pending');
      await sleep(200);
      assert.equal((await messagesFor(current, a.id, 'reminder')).length, 0, 'not yet');
      await current.stop();
      current = null;

      // The next process starts 1 h 50 min later: the reminder is overdue, the visit not begun.
      const later = new OffsetClock();
      later.offsetMs = 2 * HOUR - 10 * MINUTE;
      current = await startServer(db, { ...place, keep: true, clock: later });
      assert.equal(current.tv.clinic.demo, null, 'the same data: no second demo clinic');
      const first = await waitFor('the reminder', async () => {
        const r = (await current!.tv.sms.listForAppointment(a.id)).filter((m) => m.kind === 'reminder');
        return r.length > 0 && r;
      });
      assert.equal(first.length, 1);
      assert.equal(tokenIn(first[0]!.body), link, 'the reminder repeats the live link');
      assert.ok(!first[0]!.body.includes(a.patientName));
      await waitFor('delivered', async () => (await current!.tv.sms.get(first[0]!.id))?.status === 'delivered');
      await sleep(500);
      assert.equal((await messagesFor(current, a.id, 'reminder')).length, 1, 'exactly one, in the outbox');
      assert.deepEqual((await reminderJobs(current, a.id)).map((j) => j.status), ['done']);
      await current.stop();
      current = null;

      // Yet another process, later still: nothing more.
      const latest = new OffsetClock();
      latest.offsetMs = 2 * HOUR - 5 * MINUTE;
      current = await startServer(db, { ...place, clock: latest });
      await sleep(500);
      assert.equal((await messagesFor(current, a.id, 'reminder')).length, 1, 'still exactly one after another restart');
      assert.deepEqual((await messagesFor(current, a.id)).map((m) => m.kind), ['invite', 'reminder']);
    } finally {
      await current?.stop();
      fs.rmSync(place.dataDir, { recursive: true, force: true });
    }
  });

  describeOnServer(db);

  function describeOnServer(kind: typeof db) {
    let server: TestServer;
    before(async () => {
      server = await startServer(kind);
    });
    after(async () => {
      await server.stop();
    });
    const desk = () => staffClient(server, server.tv.clinic.demo!.frontDesk.email, server.tv.clinic.demo!.frontDesk.password);

    test('a cancelled appointment sends no reminder', async () => {
      const d = await desk();
      const a = await book(d, server.tv.clinic.demo!.provider.id, { startsAt: new Date(server.clock.now() + 2 * HOUR).toISOString() });
      assert.equal((await reminderJobs(server, a.id)).length, 1);
      assert.equal((await d.post(`/api/appointments/${a.id}/cancel`, { notifyPatient: true })).status, 200);
      server.clock.advance(2 * HOUR - 10 * MINUTE);
      await waitFor('the reminder job ran', async () => (await reminderJobs(server, a.id)).every((j) => j.status === 'done'));
      await sleep(200);
      assert.deepEqual((await messagesFor(server, a.id)).map((m) => m.kind), ['invite', 'cancelled']);
    });

    test('a rescheduled appointment is reminded once, at the new time only', async () => {
      const d = await desk();
      const a = await book(d, server.tv.clinic.demo!.provider.id, { startsAt: new Date(server.clock.now() + 2 * HOUR).toISOString() });
      const moved = await d.patch(`/api/appointments/${a.id}`, { startsAt: new Date(server.clock.now() + 4 * HOUR).toISOString() });
      assert.equal(moved.status, 200);
      const jobs = await reminderJobs(server, a.id);
      assert.deepEqual(jobs.map((j) => JSON.parse(j.payload).version), [1, 2]);

      // Past the old reminder time: the old job runs and sends nothing.
      server.clock.advance(2 * HOUR - 10 * MINUTE);
      await waitFor('the old reminder job ran', async () => (await reminderJobs(server, a.id))[0]!.status === 'done');
      await sleep(200);
      assert.equal((await messagesFor(server, a.id, 'reminder')).length, 0);
      assert.equal((await reminderJobs(server, a.id))[1]!.status, 'pending');

      // Past the new one: exactly one reminder.
      server.clock.advance(2 * HOUR);
      await waitFor('the new reminder', async () => (await messagesFor(server, a.id, 'reminder')).length > 0);
      await sleep(300);
      const reminders = await messagesFor(server, a.id, 'reminder');
      assert.equal(reminders.length, 1);
      assert.deepEqual((await messagesFor(server, a.id)).map((m) => m.kind), ['invite', 'rescheduled', 'reminder']);
      assert.deepEqual((await reminderJobs(server, a.id)).map((j) => j.status), ['done', 'done']);
    });
  }
});
