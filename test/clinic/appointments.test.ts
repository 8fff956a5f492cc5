// Appointments over HTTP: booking and its invitation SMS, validation, reschedule, cancel, link
// replacement, and listing by day and week. SQLite and PostgreSQL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { eachDatabase, startServer, waitFor, type TestServer } from '../helpers/server.js';
import { REMINDER_QUEUE } from '../../src/clinic/appointment-service.js';
import { book, linkToken, messagesFor, newPatient, PatientClient, patientClient, sleep, staffClient, tokenIn, type StaffClient } from './clinic-client.js';

eachDatabase('clinic appointments', (db) => {
  let server: TestServer;
  let frontDesk: StaffClient;
  let provider: StaffClient;
  let providerId: string;
  let providerName: string;
  let otherClinicProviderId: string;

  const signIn = async () => {
    const demo = server.tv.clinic.demo!;
    frontDesk = await staffClient(server, demo.frontDesk.email, demo.frontDesk.password);
    provider = await staffClient(server, demo.provider.email, demo.provider.password);
  };

  before(async () => {
    server = await startServer(db);
    const demo = server.tv.clinic.demo!;
    providerId = demo.provider.id;
    const other = await server.tv.clinic.clinics.create('Elsewhere Clinic', 'UTC');
    otherClinicProviderId = (await server.tv.clinic.staff.create(other.id, { email: 'dr@elsewhere.test', displayName: 'Dr. Elsewhere', role: 'provider', password: 'elsewhere password' })).id;
    await signIn();
    providerName = (await provider.get('/api/auth/me')).body.displayName;
  });
  after(async () => {
    await server.stop();
  });

  const input = (overrides: Record<string, unknown> = {}) => ({
    providerId,
    ...newPatient(),
    language: 'en',
    interpreterNeeded: false,
    startsAt: new Date(server.clock.now() + 26 * 3600_000).toISOString(),
    durationMinutes: 30,
    copayCents: 1500,
    ...overrides,
  });

  const assertNothingPrivate = (body: string, a: { patientName: string; reason: string; patientDob: string }) => {
    assert.ok(!body.includes(a.patientName), 'no patient name');
    for (const part of a.patientName.split(/[\s-]+/)) assert.ok(!body.includes(part), `no part of the name (${part})`);
    assert.ok(!body.includes(a.reason), 'no reason');
    assert.ok(!body.includes(a.patientDob), 'no DOB');
    assert.ok(!body.includes(providerName), 'no provider name');
    assert.ok(!body.includes('Rivera'), 'no provider surname');
  };

  test('booking returns 201 and texts an invitation with a link and nothing private', async () => {
    const a = input();
    const res = await frontDesk.post('/api/appointments', a);
    assert.equal(res.status, 201);
    assert.match(res.body.id, /^ap_[0-9a-f]{32}$/);
    assert.equal(res.body.patientName, a.patientName);
    assert.equal(res.body.patientPhone, a.patientPhone);
    assert.equal(res.body.status, 'scheduled');
    assert.equal(res.body.visitState, 'none');
    assert.equal(res.body.expectedParticipants, 2);
    assert.equal(res.body.providerName, providerName);
    assert.equal(res.body.clinical, undefined, 'front desk gets no clinical fields back');
    assert.equal(res.body.linkLocked, false);

    const sms = await messagesFor(server, res.body.id);
    assert.equal(sms.length, 1);
    const invite = sms[0]!;
    assert.equal(invite.kind, 'invite');
    assert.equal(invite.to, a.patientPhone);
    assert.match(invite.body, new RegExp(`${server.url.replace(/[.:/]/g, '\\$&')}/v/[A-Za-z0-9_-]{43}(\\s|$)`));
    assert.match(invite.body, /Demo Family Clinic/);
    assertNothingPrivate(invite.body, a);
    await waitFor('delivered', async () => (await messagesFor(server, res.body.id))[0]!.status === 'delivered');

    // A phone typed with punctuation is stored as E.164; a Spanish invitation is in Spanish.
    const es = await frontDesk.post('/api/appointments', input({ patientPhone: '(555) 201-3344', language: 'es', interpreterNeeded: true }));
    assert.equal(es.status, 201);
    assert.equal(es.body.patientPhone, '+15552013344');
    assert.equal(es.body.expectedParticipants, 3);
    const esSms = (await messagesFor(server, es.body.id))[0]!;
    assert.match(esSms.body, /su visita por video/);
    assert.equal(esSms.to, '+15552013344');
  });

  test('validation', async () => {
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ patientPhone: '555-1234' }, 400, 'bad_phone'],
      [{ patientPhone: 'call me' }, 400, 'bad_phone'],
      [{ patientDob: '1990-13-45' }, 400, 'bad_dob'],
      [{ patientDob: '03/04/1990' }, 400, 'bad_dob'],
      [{ patientDob: '2999-01-01' }, 400, 'bad_dob'],
      [{ patientDob: '1850-01-01' }, 400, 'bad_dob'],
      [{ durationMinutes: 4 }, 400, 'invalid'],
      [{ durationMinutes: 241 }, 400, 'invalid'],
      [{ durationMinutes: 30.5 }, 400, 'invalid'],
      [{ copayCents: -1 }, 400, 'invalid'],
      [{ expectedParticipants: 5 }, 400, 'invalid'],
      [{ startsAt: 'tomorrow at noon' }, 400, 'bad_time'],
      [{ patientName: '   ' }, 400, 'bad_name'],
      [{ language: 'fr' }, 400, 'invalid'],
      [{ providerId: 'st_00000000000000000000000000000000' }, 400, 'bad_provider'],
      [{ providerId: otherClinicProviderId }, 400, 'bad_provider'],
    ];
    for (const [overrides, status, code] of cases) {
      const res = await frontDesk.post('/api/appointments', input(overrides));
      assert.equal(res.status, status, `${JSON.stringify(overrides)}: ${res.text}`);
      assert.equal(res.body.error.code, code, JSON.stringify(overrides));
    }
    // Missing fields.
    const { reason: _r, ...noReason } = input();
    assert.equal((await frontDesk.post('/api/appointments', noReason)).status, 400);
    // A start in the past is allowed (booking a visit that is about to happen, or late entry).
    const past = await frontDesk.post('/api/appointments', input({ startsAt: new Date(server.clock.now() - 3600_000).toISOString() }));
    assert.equal(past.status, 201);
    assert.equal(past.body.startsAt, new Date(Date.parse(past.body.startsAt)).toISOString());
    // Durations at the edges are fine.
    assert.equal((await frontDesk.post('/api/appointments', input({ durationMinutes: 5 }))).status, 201);
    assert.equal((await frontDesk.post('/api/appointments', input({ durationMinutes: 240 }))).status, 201);
    // The same checks apply to edits.
    const a = await book(frontDesk, providerId);
    assert.equal((await frontDesk.patch(`/api/appointments/${a.id}`, { patientPhone: 'nope' })).body.error.code, 'bad_phone');
    assert.equal((await frontDesk.patch(`/api/appointments/${a.id}`, { providerId: otherClinicProviderId })).body.error.code, 'bad_provider');
    assert.equal((await frontDesk.patch(`/api/appointments/${a.id}`, { durationMinutes: 0 })).status, 400);
    assert.equal((await frontDesk.get(`/api/appointments/${a.id}`)).body.patientPhone, a.patientPhone, 'nothing changed');
  });

  test('reschedule texts the new time; reminders of the old time skip themselves', async () => {
    const start = server.clock.now() + 2 * 86400_000;
    const a = await book(frontDesk, providerId, { startsAt: new Date(start).toISOString() });
    const jobs = () =>
      server.tv.database.db.selectFrom('jobs').select(['payload', 'status', 'run_at']).where('queue', '=', REMINDER_QUEUE).where('group_key', '=', a.id).orderBy('id').execute();
    assert.equal((await jobs()).length, 2, '24 h and 15 min reminders');
    const invite = (await messagesFor(server, a.id, 'invite'))[0]!;
    const link = tokenIn(invite.body);

    // Editing without moving the time sends nothing and schedules nothing.
    assert.equal((await frontDesk.patch(`/api/appointments/${a.id}`, { copayCents: 4000 })).status, 200);
    assert.equal((await messagesFor(server, a.id)).length, 1);
    assert.equal((await jobs()).length, 2);

    const moved = start + 3 * 3600_000;
    const res = await frontDesk.patch(`/api/appointments/${a.id}`, { startsAt: new Date(moved).toISOString() });
    assert.equal(res.status, 200);
    assert.equal(res.body.startsAt, new Date(moved).toISOString());
    const resched = await messagesFor(server, a.id, 'rescheduled');
    assert.equal(resched.length, 1);
    assert.equal(tokenIn(resched[0]!.body), link, 'the same link, the new time');
    assertNothingPrivate(resched[0]!.body, a);
    const all = await jobs();
    assert.equal(all.length, 4);
    assert.deepEqual(all.map((j) => JSON.parse(j.payload).version), [1, 1, 2, 2]);

    // Past the old reminder times (not the new ones): the old jobs run and send nothing.
    // (The new 24 h reminder is due too: the start moved 3 h, so it is 21 h from now.)
    server.clock.advance(2 * 86400_000 - 10 * 60_000);
    try {
      await waitFor('due reminders done', async () => (await jobs()).slice(0, 3).every((j) => j.status === 'done'));
      await sleep(200);
      assert.equal((await jobs())[3]!.status, 'pending', 'the new 15-minute reminder is not due yet');
      const reminders = await messagesFor(server, a.id, 'reminder');
      assert.equal(reminders.length, 1, 'only the new version reminded');
      assert.equal(tokenIn(reminders[0]!.body), link);
    } finally {
      await signIn();
    }
  });

  test('cancel texts a notice and the link stops working', async () => {
    const a = await book(frontDesk, providerId);
    const token = await linkToken(server, a.id);
    const p = await patientClient(server, token, a.patientDob);
    const res = await frontDesk.post(`/api/appointments/${a.id}/cancel`, { notifyPatient: true });
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'cancelled');
    const cancelled = await messagesFor(server, a.id, 'cancelled');
    assert.equal(cancelled.length, 1);
    assert.doesNotMatch(cancelled[0]!.body, /\/v\//, 'no link in a cancellation');
    assertNothingPrivate(cancelled[0]!.body, a);

    const open = await new PatientClient(server).open(token);
    assert.equal(open.status, 410);
    assert.equal(open.body.error.code, 'link_invalid');
    assert.equal((await new PatientClient(server).verify(token, a.patientDob)).status, 410);
    assert.equal((await p.get('/api/patient/me')).status, 401, 'the open patient session ended');
    // Cancelling again, or editing a cancelled appointment, is refused.
    assert.equal((await frontDesk.post(`/api/appointments/${a.id}/cancel`, {})).status, 409);
    assert.equal((await frontDesk.patch(`/api/appointments/${a.id}`, { copayCents: 1 })).status, 409);
    // Without notifying: no message.
    const b = await book(frontDesk, providerId);
    assert.equal((await frontDesk.post(`/api/appointments/${b.id}/cancel`, { notifyPatient: false })).status, 200);
    assert.deepEqual((await messagesFor(server, b.id)).map((m) => m.kind), ['invite']);
    // With no body at all, the patient is told.
    const c = await book(frontDesk, providerId);
    assert.equal((await frontDesk.post(`/api/appointments/${c.id}/cancel`)).status, 200);
    assert.deepEqual((await messagesFor(server, c.id)).map((m) => m.kind), ['invite', 'cancelled']);
  });

  test('replacing the link kills the old one and texts the new one', async () => {
    const a = await book(frontDesk, providerId);
    const old = await linkToken(server, a.id);
    const p = await patientClient(server, old, a.patientDob);
    const res = await frontDesk.post(`/api/appointments/${a.id}/link`, { sendNew: true });
    assert.equal(res.status, 200);
    const fresh = await messagesFor(server, a.id, 'new-link');
    assert.equal(fresh.length, 1);
    assertNothingPrivate(fresh[0]!.body, a);
    const token = tokenIn(fresh[0]!.body);
    assert.notEqual(token, old);
    assert.equal((await new PatientClient(server).open(old)).status, 410);
    assert.equal((await p.get('/api/patient/me')).status, 401, 'sessions from the old link end');
    const opened = await new PatientClient(server).open(token);
    assert.equal(opened.status, 200);
    assert.equal(opened.body.verified, false);
    await patientClient(server, token, a.patientDob);
    // Revoke without a new one: nothing works, nothing is sent.
    assert.equal((await frontDesk.post(`/api/appointments/${a.id}/link`, { sendNew: false })).status, 200);
    assert.equal((await new PatientClient(server).open(token)).status, 410);
    assert.equal((await messagesFor(server, a.id, 'new-link')).length, 1);
    assert.equal((await frontDesk.post(`/api/appointments/${a.id}/link`, {})).status, 400, 'sendNew is required');
  });

  test('lists by day and by week; at most six weeks', async () => {
    // A fixed week well in the future: Monday 2031-03-03 … Sunday 2031-03-09 (UTC).
    const at = (d: string) => new Date(`2031-03-${d}Z`).toISOString();
    const mon = await book(frontDesk, providerId, { startsAt: at('03T15:00:00') });
    const tue1 = await book(frontDesk, providerId, { startsAt: at('04T09:00:00') });
    const tue2 = await book(frontDesk, providerId, { startsAt: at('04T23:59:00') });
    const sun = await book(frontDesk, providerId, { startsAt: at('09T12:00:00') });
    const nextMon = await book(frontDesk, providerId, { startsAt: at('10T00:00:00') });
    const list = async (from: string, to: string) => {
      const r = await provider.get(`/api/appointments?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
      assert.equal(r.status, 200, r.text);
      return (r.body as Array<{ id: string; startsAt: string }>).map((a) => a.id);
    };
    assert.deepEqual(await list(at('04T00:00:00'), at('05T00:00:00')), [tue1.id, tue2.id], 'one day, in time order');
    assert.deepEqual(await list(at('03T00:00:00'), at('10T00:00:00')), [mon.id, tue1.id, tue2.id, sun.id], 'one week; the end is exclusive');
    assert.deepEqual(await list('2031-03-10', '2031-03-11'), [nextMon.id], 'dates alone are midnight UTC');
    // A day in another time zone: 2031-03-04 in New York is 05:00Z to 05:00Z next day.
    assert.deepEqual(await list('2031-03-04T00:00:00-05:00', '2031-03-05T00:00:00-05:00'), [tue1.id, tue2.id]);
    assert.deepEqual(await list('2031-03-01T00:00:00Z', '2031-04-12T00:00:00Z'), [mon.id, tue1.id, tue2.id, sun.id, nextMon.id], 'exactly six weeks');

    for (const [from, to] of [
      ['2031-03-01T00:00:00Z', '2031-04-12T00:00:01Z'],
      ['2031-03-05', '2031-03-04'],
      ['2031-03-05', '2031-03-05'],
      ['not-a-date', '2031-03-04'],
    ]) {
      const r = await provider.get(`/api/appointments?from=${encodeURIComponent(from!)}&to=${encodeURIComponent(to!)}`);
      assert.equal(r.status, 400, `${from}..${to}`);
      assert.equal(r.body.error.code, 'bad_range');
    }
    assert.equal((await provider.get('/api/appointments')).status, 400, 'from and to are required');
  });
});
