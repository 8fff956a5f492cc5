// A visit from the patient's side, with the clinic watching live: the link and the DOB check
// (and its lockout), intake, copay and consent, check-in, the waiting room (status, chat) over
// the events WebSocket, admit, room tokens, end, the record and the audit trail.
// SQLite and PostgreSQL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { eachDatabase, startServer, type TestServer } from '../helpers/server.js';
import { roomAccess } from '../../src/video/tokens/access-token.js';
import {
  book,
  eventSocket,
  jwtPayload,
  linkToken,
  messagesFor,
  PatientClient,
  patientClient,
  staffClient,
  tokenIn,
  type Booked,
  type EventSocket,
  type Res,
  type StaffClient,
} from './clinic-client.js';

const INTAKE = { reason: 'Sore throat for three days', symptoms: 'Fever at night', medications: '', allergies: 'Penicillin', notes: '' };

eachDatabase('clinic patient flow', (db) => {
  let server: TestServer;
  let provider: StaffClient;
  let desk: StaffClient;
  let admin: StaffClient;
  let providerId: string;
  let providerName: string;
  let visit: Booked;
  let token: string;
  let patient: PatientClient;
  let staffSocket: EventSocket;
  let deskSocket: EventSocket;
  let patientSocket: EventSocket;
  let tokens: { staff: { token: string; identity: string; roomSid: string }; patient: { token: string; identity: string; roomSid: string } };

  before(async () => {
    server = await startServer(db);
    const demo = server.tv.clinic.demo!;
    providerId = demo.provider.id;
    provider = await staffClient(server, demo.provider.email, demo.provider.password);
    desk = await staffClient(server, demo.frontDesk.email, demo.frontDesk.password);
    admin = await staffClient(server, demo.admin.email, demo.admin.password);
    providerName = (await provider.get('/api/auth/me')).body.displayName;
    visit = await book(desk, providerId, { startsAt: new Date(server.clock.now() + 10 * 60_000).toISOString() });
    token = await linkToken(server, visit.id);
    staffSocket = await eventSocket(provider);
    deskSocket = await eventSocket(desk);
  });
  after(async () => {
    for (const s of [staffSocket, deskSocket, patientSocket]) s?.close();
    await server.stop();
  });

  test('the link opens with the language only; unknown links are gone (410)', async () => {
    const p = new PatientClient(server);
    const open = await p.open(token);
    assert.equal(open.status, 200);
    assert.deepEqual(open.body, { language: 'en', clinicName: 'Demo Family Clinic', verified: false });
    assert.equal(open.setCookies.length, 0);
    for (const bad of [randomBytes(32).toString('base64url'), 'short', token.slice(0, 42) + '!']) {
      const r = await p.open(bad);
      assert.equal(r.status, 410, bad);
      assert.equal(r.body.error.code, 'link_invalid');
    }
    // Without a session, patient routes ask for the link.
    const me = await p.get('/api/patient/me');
    assert.equal(me.status, 401);
    assert.equal(me.body.error.code, 'verify_required');
  });

  test('five wrong dates of birth lock the link (429) and the clinic sees it; a new link unlocks', async () => {
    const locked = await book(desk, providerId);
    const lockedToken = await linkToken(server, locked.id);
    const p = new PatientClient(server);
    for (let i = 0; i < 4; i++) {
      const r = await p.verify(lockedToken, `1999-01-0${i + 1}`);
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 'bad_dob');
    }
    assert.equal((await desk.get(`/api/appointments/${locked.id}`)).body.linkLocked, false);
    const fifth = await p.verify(lockedToken, '1999-02-02');
    assert.equal(fifth.status, 429);
    assert.equal(fifth.body.error.code, 'locked');
    await staffSocket.next((m) => m.type === 'appointment.changed' && m.appointmentId === locked.id && m.notice === 'link-locked', 'link-locked');
    await deskSocket.next((m) => m.type === 'appointment.changed' && m.appointmentId === locked.id && m.notice === 'link-locked', 'link-locked at the desk');
    assert.equal((await desk.get(`/api/appointments/${locked.id}`)).body.linkLocked, true);
    const day = new Date(server.clock.now()).toISOString().slice(0, 10);
    const listed = await desk.get(`/api/appointments?from=${day}&to=${new Date(Date.parse(day) + 2 * 86400_000).toISOString()}`);
    assert.equal(listed.body.find((a: { id: string }) => a.id === locked.id).linkLocked, true);
    // Even the right date is refused while locked.
    assert.equal((await p.verify(lockedToken, locked.patientDob)).status, 429);
    assert.equal(p.session, undefined);

    assert.equal((await desk.post(`/api/appointments/${locked.id}/link`, { sendNew: true })).status, 200);
    assert.equal((await desk.get(`/api/appointments/${locked.id}`)).body.linkLocked, false);
    const fresh = await linkToken(server, locked.id, 'new-link');
    assert.equal((await p.verify(lockedToken, locked.patientDob)).status, 410, 'the old link is gone');
    const p2 = await patientClient(server, fresh, locked.patientDob);

    // Logging out ends the session itself, not just the cookie in this browser.
    const copy = p2.session!;
    assert.equal((await p2.post('/api/patient/logout')).status, 200);
    assert.equal(p2.session, undefined);
    p2.cookies.set('tv_patient', copy);
    assert.equal((await p2.get('/api/patient/me')).status, 401);
    assert.equal((await p2.open(fresh)).body.verified, false);
  });

  test('the right date of birth starts a session (HttpOnly, SameSite=Lax); /me has no DOB or reason', async () => {
    const p = new PatientClient(server);
    const wrong = await p.verify(token, '1901-01-01');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.code, 'bad_dob');
    assert.equal((await p.verify(token, 'yesterday!')).status, 401);
    const ok = await p.verify(token, visit.patientDob);
    assert.equal(ok.status, 200);
    const cookie = ok.setCookies.find((l) => l.startsWith('tv_patient='));
    assert.ok(cookie);
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Lax/i);
    assert.match(cookie, /Path=\//);
    const maxAge = Number(/Max-Age=(\d+)/i.exec(cookie)?.[1]);
    const expected = (Date.parse(visit.view.startsAt) + 30 * 60_000 + 4 * 3600_000 - server.clock.now()) / 1000;
    assert.ok(Math.abs(maxAge - expected) < 5, `cookie lifetime ${maxAge} s ≈ link lifetime ${expected} s`);
    patient = p;
    assert.equal((await p.open(token)).body.verified, true, 'reopening the link resumes the session');

    const me = await p.get('/api/patient/me');
    assert.equal(me.status, 200);
    assert.equal(me.body.appointmentId, visit.id);
    assert.equal(me.body.providerName, providerName);
    assert.equal(me.body.copay.amountCents, 2500);
    assert.equal(me.body.copay.amountText, '$25.00');
    assert.equal(me.body.intake.answers, null);
    assert.ok(me.body.intake.questions.some((q: { id: string; required: boolean }) => q.id === 'reason' && q.required));
    assert.equal(me.body.patientDob, undefined);
    assert.equal(me.body.reason, undefined);
    assert.equal(me.body.patientPhone, undefined);
    assert.ok(!me.text.includes(visit.patientDob), 'no DOB');
    assert.ok(!me.text.includes(visit.reason), "no clinic-entered reason");
    assert.ok(!me.text.includes(visit.patientPhone), 'no phone');
    assert.ok(!me.text.includes(token), 'no link secret');
  });

  test('intake: required answers; saved and shown to the provider, not to the front desk', async () => {
    const missing = await patient.post('/api/patient/intake', { answers: { symptoms: 'Fever at night' } });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, 'required');
    const blank = await patient.post('/api/patient/intake', { answers: { reason: '   ' } });
    assert.equal(blank.status, 400);
    assert.equal((await patient.post('/api/patient/intake', { answers: { reason: 'x'.repeat(4001) } })).status, 400);
    const ok = await patient.post('/api/patient/intake', { answers: { ...INTAKE, unknownQuestion: 'ignored' } });
    assert.equal(ok.status, 200);
    await staffSocket.next((m) => m.type === 'appointment.changed' && m.appointmentId === visit.id, 'intake change');

    const seen = await provider.get(`/api/appointments/${visit.id}`);
    assert.deepEqual(seen.body.clinical.intake, INTAKE);
    assert.equal(seen.body.intakeDone, true);
    const front = await desk.get(`/api/appointments/${visit.id}`);
    assert.equal(front.body.intakeDone, true);
    assert.equal(front.body.clinical, undefined);
    assert.ok(!front.text.includes(INTAKE.reason) && !front.text.includes(INTAKE.allergies), 'front desk does not see the answers');
    assert.deepEqual((await patient.get('/api/patient/me')).body.intake.answers, INTAKE);
  });

  test('copay and consent are recorded against the wording version; check-in needs consent', async () => {
    const me = (await patient.get('/api/patient/me')).body;
    for (const what of ['copay', 'consent'] as const) {
      const wrong = await patient.post(`/api/patient/${what}`, { version: `${what}-v0` });
      assert.equal(wrong.status, 409, what);
      assert.equal(wrong.body.error.code, 'wording_changed');
    }
    assert.equal((await patient.post('/api/patient/copay', { version: me.copay.version })).status, 200);
    const early = await patient.post('/api/patient/check-in');
    assert.equal(early.status, 409);
    assert.equal(early.body.error.code, 'consent_required');
    assert.equal((await patient.post('/api/patient/consent', { version: me.consent.version })).status, 200);
    const after = (await patient.get('/api/patient/me')).body;
    assert.ok(after.copay.acknowledgedAt);
    assert.ok(after.consent.givenAt);
    const view = (await desk.get(`/api/appointments/${visit.id}`)).body;
    assert.equal(view.copayAcknowledged, true);
    assert.equal(view.consentGiven, true);
    const precall = await patient.post('/api/patient/precall', { browser: 'pass', camera: 'pass', microphone: 'warn', network: 'good', details: { rttMs: 40 } });
    assert.equal(precall.status, 200);
    assert.equal((await patient.post('/api/patient/precall', { browser: 'maybe', camera: 'pass', microphone: 'pass', network: 'good' })).status, 400);
  });

  test('check-in, provider status and chat arrive live on both sides, and chat is kept', async () => {
    patientSocket = await eventSocket(patient, 'patient');
    assert.equal((await patient.post('/api/patient/check-in')).status, 200);
    const checkedIn = await staffSocket.next((m) => m.notice === 'checked-in' && m.appointmentId === visit.id, 'checked-in');
    assert.equal(checkedIn.type, 'appointment.changed');
    assert.equal(checkedIn.providerId, providerId);
    assert.ok(!JSON.stringify(checkedIn).includes(visit.patientName), 'events carry ids, not names');
    await deskSocket.next((m) => m.notice === 'checked-in' && m.appointmentId === visit.id, 'checked-in at the desk');
    const waiting = (await provider.get(`/api/appointments/${visit.id}`)).body;
    assert.equal(waiting.visitState, 'waiting');
    assert.ok(waiting.checkedInAt);
    assert.equal(waiting.precall.microphone, 'warn');

    assert.equal((await provider.post(`/api/appointments/${visit.id}/status`, { message: 'Finishing another visit, 5 minutes' })).status, 200);
    const status = await patientSocket.next((m) => m.type === 'status', 'status');
    assert.equal(status.providerStatus, 'Finishing another visit, 5 minutes');
    assert.equal((await patient.get('/api/patient/me')).body.providerStatus, 'Finishing another visit, 5 minutes');

    const fromPatient = await patient.post('/api/patient/chat', { text: 'I am here, thank you' });
    assert.equal(fromPatient.status, 201);
    assert.equal(fromPatient.body.from, 'patient');
    const p1 = await patientSocket.next((m) => m.type === 'chat' && m.message.body === 'I am here, thank you', 'own chat on the patient socket');
    assert.equal(p1.message.from, 'patient');
    const s1 = await staffSocket.next((m) => m.type === 'chat' && m.message.body === 'I am here, thank you', 'patient chat on the staff socket');
    assert.equal(s1.appointmentId, visit.id);

    const fromStaff = await provider.post(`/api/appointments/${visit.id}/chat`, { text: 'Thanks, see you shortly' });
    assert.equal(fromStaff.status, 201);
    const p2 = await patientSocket.next((m) => m.type === 'chat' && m.message.body === 'Thanks, see you shortly', 'staff chat on the patient socket');
    assert.equal(p2.message.from, 'staff');
    assert.equal(p2.message.name, providerName);
    await staffSocket.next((m) => m.type === 'chat' && m.message.body === 'Thanks, see you shortly', 'staff chat on the staff socket');
    assert.equal((await patient.post('/api/patient/chat', { text: '   ' })).status, 400);

    // Reconnect: the conversation is still there.
    patientSocket.close();
    patientSocket = await eventSocket(patient, 'patient');
    const chat = await patient.get('/api/patient/chat');
    assert.deepEqual(chat.body.map((m: { from: string; body: string }) => [m.from, m.body]), [
      ['patient', 'I am here, thank you'],
      ['staff', 'Thanks, see you shortly'],
    ]);
    const staffChat = await provider.get(`/api/appointments/${visit.id}/chat`);
    assert.deepEqual(staffChat.body.map((m: { id: number }) => m.id), chat.body.map((m: { id: number }) => m.id));
  });

  test('admit: the patient is told; both get tokens for this room only, with opaque identities', async () => {
    assert.equal((await patient.post('/api/patient/visit-token')).status, 409, 'not before admit');
    assert.equal((await provider.post(`/api/appointments/${visit.id}/admit-soon`)).status, 200);
    await patientSocket.next((m) => m.type === 'admit-soon', 'admit-soon');
    assert.equal((await provider.post(`/api/appointments/${visit.id}/admit`)).status, 200);
    await patientSocket.next((m) => m.type === 'admitted', 'admitted');
    assert.equal((await patient.get('/api/patient/me')).body.visitState, 'admitted');

    const st = await provider.post(`/api/appointments/${visit.id}/visit-token`);
    const pt = await patient.post('/api/patient/visit-token');
    assert.equal(st.status, 200, st.text);
    assert.equal(pt.status, 200, pt.text);
    assert.equal(st.body.roomSid, pt.body.roomSid);
    assert.match(st.body.roomSid, /^RM[0-9a-f]{32}$/);
    assert.equal(st.body.connectProfile, 'two-party');
    tokens = { staff: st.body, patient: pt.body };

    const secrets = [visit.patientName, ...visit.patientName.split(/[\s-]+/), visit.patientDob, visit.patientPhone, providerName, 'Rivera'];
    for (const [kind, t, prefix] of [
      ['staff', st.body, 'st-'],
      ['patient', pt.body, 'pt-'],
    ] as const) {
      const payload = jwtPayload(t.token);
      assert.equal(payload.grants.identity, t.identity);
      assert.ok(t.identity.startsWith(prefix), `${kind} identity ${t.identity}`);
      assert.match(t.identity, /^(st|pt)-[0-9a-f]{24}$/);
      assert.equal(payload.grants.video.room, t.roomSid, 'the grant names this room by SID');
      const decoded = Buffer.from(t.token.split('.')[1]!, 'base64url').toString();
      for (const s of secrets) assert.ok(!decoded.includes(s), `${kind} token contains ${s}`);

      const verified = await server.tv.tokens.verify(t.token);
      assert.equal(verified.identity, t.identity);
      const own = roomAccess(verified, { name: t.roomSid, existingSid: t.roomSid });
      assert.ok(own.allowed);
      assert.equal(own.allowed && own.mayCreate, false, 'cannot create rooms');
      const other = roomAccess(verified, { name: 'some-other-room', existingSid: 'RM' + '0'.repeat(32) });
      assert.equal(other.allowed, false, 'refused for any other room');
      assert.equal(roomAccess(verified, { name: 'brand-new-room', existingSid: null }).allowed, false);
    }
    assert.notEqual(st.body.identity, pt.body.identity);
    // The same identities each time (rejoin after a reload).
    assert.equal((await patient.post('/api/patient/visit-token')).body.identity, pt.body.identity);

    // The room itself says nothing about the patient.
    const room = await server.client().video.v1.rooms(st.body.roomSid).fetch();
    assert.equal(room.status, 'in-progress');
    assert.match(room.uniqueName, /^visit-[0-9a-f]{24}$/);

    const expectedDirectory = {
      [st.body.identity]: { name: providerName, role: 'provider' },
      [pt.body.identity]: { name: visit.patientName, role: 'patient' },
    };
    assert.deepEqual((await provider.get(`/api/appointments/${visit.id}/directory`)).body, expectedDirectory);
    assert.deepEqual((await patient.get('/api/patient/directory')).body, expectedDirectory);
  });

  test('end: the link dies, no more tokens, the record has the visit', async () => {
    assert.equal((await desk.post(`/api/appointments/${visit.id}/end`)).status, 403);
    assert.equal((await provider.post(`/api/appointments/${visit.id}/end`)).status, 200);
    await patientSocket.next((m) => m.type === 'ended', 'ended');
    const room = await server.client().video.v1.rooms(tokens.staff.roomSid).fetch();
    assert.equal(room.status, 'completed');

    const open = await new PatientClient(server).open(token);
    assert.equal(open.status, 410);
    assert.equal((await new PatientClient(server).verify(token, visit.patientDob)).status, 410);
    const again = await patient.post('/api/patient/visit-token');
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'visit_ended');
    assert.equal((await provider.post(`/api/appointments/${visit.id}/visit-token`)).status, 409);
    assert.equal((await patient.post('/api/patient/chat', { text: 'one more thing' })).status, 409);
    assert.equal((await patient.get('/api/patient/me')).body.visitState, 'ended', 'the open page can still show the end screen');
    assert.equal((await provider.post(`/api/appointments/${visit.id}/admit`)).status, 409);

    const record = await provider.get(`/api/appointments/${visit.id}/record`);
    assert.equal(record.status, 200, record.text);
    const r = record.body;
    for (const field of ['appointmentId', 'patientName', 'providerName', 'scheduledStart', 'visitStart', 'visitEnd', 'durationSeconds', 'participants', 'chat', 'precall', 'intake', 'copayAcknowledgedAt', 'consentGivenAt']) {
      assert.ok(field in r, `record has ${field}`);
    }
    assert.equal(r.appointmentId, visit.id);
    assert.equal(r.patientName, visit.patientName);
    assert.equal(r.providerName, providerName);
    assert.equal(r.chat.length, 2);
    assert.deepEqual(r.intake, INTAKE);
    assert.equal(r.precall.network, 'good');
    assert.ok(r.visitStart && r.visitEnd);
    assert.equal(typeof r.durationSeconds, 'number');
    assert.ok(r.copayAcknowledgedAt && r.consentGivenAt);
    assert.deepEqual(r.participants, []);
    assert.equal((await desk.get(`/api/appointments/${visit.id}/record`)).status, 403);
    assert.equal((await admin.get(`/api/appointments/${visit.id}/record`)).status, 200);
    const view = (await desk.get(`/api/appointments/${visit.id}`)).body;
    assert.equal(view.status, 'completed');
    assert.equal(view.visitState, 'ended');
    // Reminders for a finished visit stay quiet; no further texts went out.
    assert.deepEqual((await messagesFor(server, visit.id)).map((m) => m.kind), ['invite']);
    assert.equal(tokenIn((await messagesFor(server, visit.id))[0]!.body), token);
  });

  test('the audit log has who, what, when and from where, and no patient names', async () => {
    type Entry = { id: number; at: string; actorKind: string; actorId: string | null; actorName: string | null; action: string; subjectId: string | null; ip: string | null; detail: unknown };
    // Pages of 100, newest first; `before` pages backwards.
    const entries: Entry[] = [];
    const texts: string[] = [];
    for (let before: number | null = null; ; ) {
      const r: Res = await admin.get(`/api/audit${before ? `?before=${before}` : ''}`);
      assert.equal(r.status, 200);
      const page = r.body as Entry[];
      if (page.length === 0) break;
      assert.ok(page.length <= 100);
      for (let i = 1; i < page.length; i++) assert.ok(page[i]!.id < page[i - 1]!.id, 'newest first');
      if (before !== null) assert.ok(page[0]!.id < before);
      entries.push(...page);
      texts.push(r.text);
      before = page[page.length - 1]!.id;
    }
    assert.ok(entries.length > 20);
    const res = { text: texts.join('') };
    const forVisit = entries.filter((e) => e.subjectId === visit.id);
    const find = (action: string, actorKind: string) => {
      const e = forVisit.find((x) => x.action === action && x.actorKind === actorKind);
      assert.ok(e, `audit has ${action} by ${actorKind}: ${[...new Set(forVisit.map((x) => x.action))].join(', ')}`);
      assert.equal(e.ip, '127.0.0.1', `${action} has the IP`);
      assert.ok(Date.parse(e.at) > 0);
      return e;
    };
    const verified = find('patient.verified', 'patient');
    assert.equal(verified.actorId, visit.id);
    assert.equal(verified.actorName, null);
    find('patient.verify_failed', 'patient');
    for (const action of ['patient.intake', 'patient.copay', 'patient.consent', 'patient.precall', 'patient.check_in', 'chat.send', 'visit.join', 'patient.view']) find(action, 'patient');
    for (const action of ['appointment.view', 'visit.record', 'visit.admit', 'visit.end', 'visit.status', 'chat.send', 'visit.join', 'visit.admit_soon']) {
      const e = find(action, 'staff');
      assert.ok(e.actorId && e.actorName, `${action} names the staff member`);
    }
    const created = find('appointment.create', 'staff');
    assert.equal(created.actorName, 'Front Desk');
    assert.equal(find('visit.end', 'staff').actorId, providerId);
    assert.ok(entries.some((e) => e.action === 'patient.verify_locked'));
    const views = forVisit.filter((e) => e.action === 'appointment.view');
    assert.ok(views.some((e) => (e.detail as { clinical: boolean }).clinical === false), 'front-desk views are marked non-clinical');

    for (const e of entries) {
      const detail = JSON.stringify(e.detail ?? {});
      assert.ok(!detail.includes(visit.patientName) && !detail.includes(visit.patientDob) && !detail.includes(visit.patientPhone), `detail of ${e.action}`);
      assert.ok(!detail.includes(INTAKE.reason) && !detail.includes('I am here'), `no content in ${e.action}`);
    }
    assert.ok(!res.text.includes(visit.patientName), 'no patient names anywhere in the log');
    assert.ok(!res.text.includes(token));
  });
});
