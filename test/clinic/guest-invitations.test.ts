// Guests of a visit (an interpreter, a family member): who may invite (the visit's provider, the
// patient; not front desk, admins, other providers or other clinics), the texted link without
// PHI, the guest's link → session → checks → waiting → admit, the guest's token (this visit's
// room SID only, opaque identity, verified by the server's own verifier), the directory, revoke
// (410, disconnected from the room), the end of the visit (409), the clinic setting to skip
// admission, and the audit trail. SQLite and PostgreSQL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { eachDatabase, startServer, waitFor, type TestServer } from '../helpers/server.js';
import { roomAccess } from '../../src/video/tokens/access-token.js';
import { book, eventSocket, HttpClient, jwtPayload, linkToken, messagesFor, patientClient, staffClient, type Booked, type EventSocket, type PatientClient, type StaffClient } from './clinic-client.js';

const PASSWORD = 'guest invitations password 1';
const GUEST_LINK = /\/g\/([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])/;

class GuestClient extends HttpClient {
  get session(): string | undefined {
    return this.cookies.get('tv_guest');
  }

  static async open(server: TestServer, link: string): Promise<GuestClient> {
    const g = new GuestClient(server);
    const token = GUEST_LINK.exec(link)?.[1];
    assert.ok(token, `a guest link: ${link}`);
    const r = await g.post('/api/guest/open', { token });
    assert.equal(r.status, 200, r.text);
    assert.ok(g.session, 'the guest gets a session cookie');
    return g;
  }
}

/** The guest's live events (as=guest). */
async function guestSocket(g: GuestClient): Promise<{ messages: any[]; close(): void }> {
  const ws = new WebSocket(g.base.replace(/^http/, 'ws') + '/api/events?as=guest', { headers: { cookie: g.cookieHeader() } });
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  ws.on('error', () => undefined);
  await waitFor('guest socket ready', () => messages.some((m) => m.type === 'ready'));
  return { messages, close: () => ws.close() };
}

eachDatabase('guest invitations', (db) => {
  let server: TestServer;
  let provider: StaffClient;
  let desk: StaffClient;
  let admin: StaffClient;
  let otherProvider: StaffClient;
  let otherClinicProvider: StaffClient;
  let providerId: string;
  let providerName: string;
  let visit: Booked;
  let patient: PatientClient;
  let staffEvents: EventSocket;

  before(async () => {
    server = await startServer(db);
    const demo = server.tv.clinic.demo!;
    providerId = demo.provider.id;
    provider = await staffClient(server, demo.provider.email, demo.provider.password);
    desk = await staffClient(server, demo.frontDesk.email, demo.frontDesk.password);
    admin = await staffClient(server, demo.admin.email, demo.admin.password);
    providerName = (await provider.get('/api/auth/me')).body.displayName;
    await server.tv.clinic.staff.create(demo.clinicId, { email: 'second@guests.test', displayName: 'Dr. Second Provider', role: 'provider', password: PASSWORD });
    otherProvider = await staffClient(server, 'second@guests.test', PASSWORD);
    const clinicB = await server.tv.clinic.clinics.create('Other Town Clinic', 'America/Chicago');
    await server.tv.clinic.staff.create(clinicB.id, { email: 'provider@b-guests.test', displayName: 'Dr. B Provider', role: 'provider', password: PASSWORD });
    otherClinicProvider = await staffClient(server, 'provider@b-guests.test', PASSWORD);

    visit = await book(desk, providerId, { startsAt: new Date(server.clock.now() + 10 * 60_000).toISOString(), copayCents: 0 });
    patient = await patientClient(server, await linkToken(server, visit.id), visit.patientDob);
    staffEvents = await eventSocket(provider);
  });
  after(async () => {
    staffEvents?.close();
    await server.stop();
  });

  const invite = (who: HttpClient, body: Record<string, unknown>, appointmentId = visit.id) =>
    who.post(who.cookies.has('tv_staff') ? `/api/appointments/${appointmentId}/guests` : '/api/patient/guests', body);

  test('the visit’s provider and the patient may invite; front desk, admins, other providers and other clinics may not', async () => {
    const body = { role: 'interpreter', displayName: 'Ana López' };
    assert.equal((await invite(desk, body)).status, 403, 'front desk');
    assert.equal((await invite(admin, body)).status, 403, 'admin');
    const other = await invite(otherProvider, body);
    assert.equal(other.status, 404, 'another provider of the clinic');
    assert.ok(!other.text.includes(visit.patientName));
    assert.equal((await invite(otherClinicProvider, body)).status, 404, 'a provider of another clinic');
    assert.equal((await new HttpClient(server).post(`/api/appointments/${visit.id}/guests`, body)).status, 401, 'nobody signed in');

    // Bad input.
    assert.equal((await invite(provider, { role: 'surgeon', displayName: 'X' })).status, 400);
    assert.equal((await invite(provider, { role: 'family', displayName: '   ' })).status, 400);
    assert.equal((await invite(provider, { role: 'family', displayName: 'Sam', phone: '12' })).status, 400);
    // A patient invites family, caregivers and interpreters; another clinician is the provider's call.
    assert.equal((await invite(patient, { role: 'clinician', displayName: 'Dr. Who' })).status, 403);

    const byPatient = await invite(patient, { role: 'family', displayName: 'Marco Ostrander' });
    assert.equal(byPatient.status, 201, byPatient.text);
    assert.equal(byPatient.body.role, 'family');
    assert.equal(byPatient.body.state, 'invited');
    assert.equal(byPatient.body.createdBy, 'patient');
    assert.match(byPatient.body.link, GUEST_LINK);

    const byProvider = await invite(provider, { role: 'interpreter', displayName: 'Ana López', phone: '(555) 301-7788' });
    assert.equal(byProvider.status, 201, byProvider.text);
    assert.equal(byProvider.body.phoneLast4, '7788');
    assert.ok(!('phone' in byProvider.body));

    // Both lists (provider and patient) show both guests; front desk may look, not act.
    const names = (r: { body: { displayName: string }[] }) => r.body.map((g) => g.displayName).sort();
    assert.deepEqual(names(await provider.get(`/api/appointments/${visit.id}/guests`)), ['Ana López', 'Marco Ostrander']);
    assert.deepEqual(names(await patient.get('/api/patient/guests')), ['Ana López', 'Marco Ostrander']);
    assert.equal((await otherProvider.get(`/api/appointments/${visit.id}/guests`)).status, 404);
    // Links are keys: front desk sees who is invited, not their links; the patient sees only the links they made.
    assert.ok(((await desk.get(`/api/appointments/${visit.id}/guests`)).body as { link: string | null }[]).every((g) => g.link === null));
    const patientView = (await patient.get('/api/patient/guests')).body as { displayName: string; link: string | null }[];
    assert.equal(patientView.find((g) => g.displayName === 'Ana López')!.link, null);
    assert.match(patientView.find((g) => g.displayName === 'Marco Ostrander')!.link!, GUEST_LINK);
    assert.equal((await desk.post(`/api/appointments/${visit.id}/guests/${byProvider.body.id}/admit`)).status, 403);
    assert.equal((await desk.post(`/api/appointments/${visit.id}/guests/${byProvider.body.id}/revoke`)).status, 403);
    // The patient cannot remove the provider's guest, and the provider's routes are not theirs.
    assert.equal((await patient.post(`/api/patient/guests/${byProvider.body.id}/revoke`)).status, 403);
  });

  test('the invitation SMS carries the clinic and the link only, in the appointment’s language', async () => {
    const [sms] = await messagesFor(server, visit.id, 'guest-invite');
    assert.ok(sms, 'an SMS was queued for the guest');
    assert.equal(sms.to, '+15553017788');
    assert.match(sms.body, /^Demo Family Clinic: you are invited to join a video visit\. Join here: http:\/\/\S+\/g\/[A-Za-z0-9_-]{43}$/);
    const phi = [visit.patientName, ...visit.patientName.split(/[\s-]+/), visit.patientDob, visit.patientPhone, visit.reason, providerName, 'Rivera', 'Ana', 'López', 'interpreter'];
    for (const s of phi) assert.ok(!sms.body.toLowerCase().includes(s.toLowerCase()), `SMS must not contain ${s}`);
    // Staff see the message, not the guest's key.
    const staffView = await provider.get(`/api/appointments/${visit.id}/sms`);
    const seen = (staffView.body as { kind: string; body: string }[]).find((m) => m.kind === 'guest-invite');
    assert.ok(seen && !GUEST_LINK.test(seen.body), 'the link is redacted for staff');

    const es = await book(provider, providerId, { language: 'es', copayCents: 0 });
    assert.equal((await invite(provider, { role: 'caregiver', displayName: 'Lucía', phone: '555 301 9900' }, es.id)).status, 201);
    const [esSms] = await messagesFor(server, es.id, 'guest-invite');
    assert.match(esSms!.body, /^Demo Family Clinic: está invitado a unirse a una visita por video\. Entre aquí: \S+\/g\/[A-Za-z0-9_-]{43}$/);
  });

  test('link → checks → waiting → admit → a token for this visit’s room only, opaque identity', async () => {
    const list = (await provider.get(`/api/appointments/${visit.id}/guests`)).body as { id: string; displayName: string; link: string }[];
    const ana = list.find((g) => g.displayName === 'Ana López')!;
    assert.equal((await new HttpClient(server).post('/api/guest/open', { token: 'x'.repeat(43) })).status, 410);
    const guest = await GuestClient.open(server, ana.link);
    // Opening again with the cookie keeps the same session.
    const again = await guest.post('/api/guest/open', { token: GUEST_LINK.exec(ana.link)![1] });
    assert.equal(again.status, 200);
    assert.equal(again.setCookies.length, 0);
    const events = await guestSocket(guest);

    const me = await guest.get('/api/guest/me');
    assert.equal(me.status, 200, me.text);
    assert.equal(me.body.role, 'interpreter');
    assert.equal(me.body.displayName, 'Ana López');
    assert.equal(me.body.state, 'invited');
    assert.equal(me.body.needsAdmission, true);
    assert.ok(!me.text.includes(visit.patientName), 'the guest’s own page data has no patient name');
    assert.equal((await guest.post('/api/guest/precall', { browser: 'pass', camera: 'pass', microphone: 'pass', network: 'good' })).status, 200);
    assert.equal((await guest.post('/api/guest/visit-token')).status, 409, 'not before admission');

    // Ready → waiting; the provider hears about it live.
    const ready = await guest.post('/api/guest/ready');
    assert.equal(ready.status, 200, ready.text);
    assert.equal(ready.body.state, 'waiting');
    await staffEvents.next((m) => m.type === 'appointment.changed' && m.appointmentId === visit.id && m.notice === 'guest-waiting', 'guest-waiting');
    const waiting = ((await provider.get(`/api/appointments/${visit.id}/guests`)).body as { id: string; state: string; precall: { network: string } }[]).find((g) => g.id === ana.id)!;
    assert.equal(waiting.state, 'waiting');
    assert.equal(waiting.precall.network, 'good');
    assert.equal((await guest.post('/api/guest/visit-token')).body.error.code, 'not_admitted');

    // Other providers cannot admit; the visit's provider does.
    assert.equal((await otherProvider.post(`/api/appointments/${visit.id}/guests/${ana.id}/admit`)).status, 404);
    assert.equal((await provider.post(`/api/appointments/${visit.id}/guests/${ana.id}/admit`)).status, 200);
    await waitFor('admitted event', () => events.messages.some((m) => m.type === 'admitted'));
    const early = await guest.post('/api/guest/visit-token');
    assert.equal(early.status, 409);
    assert.equal(early.body.error.code, 'not_started', 'the visit itself has not started');

    // The provider starts the visit; now all three get tokens for the same room.
    assert.equal((await provider.post(`/api/appointments/${visit.id}/admit`)).status, 200);
    const st = await provider.post(`/api/appointments/${visit.id}/visit-token`);
    const gt = await guest.post('/api/guest/visit-token');
    assert.equal(gt.status, 200, gt.text);
    assert.equal(gt.body.roomSid, st.body.roomSid);
    assert.match(gt.body.roomSid, /^RM[0-9a-f]{32}$/);
    assert.match(gt.body.identity, /^gu-[0-9a-f]{24}$/);
    assert.equal(gt.body.identity, server.tv.clinic.video.identityFor('guest', ana.id, visit.id));
    const payload = jwtPayload(gt.body.token);
    assert.equal(payload.grants.identity, gt.body.identity);
    assert.deepEqual(payload.grants.video, { room: gt.body.roomSid }, 'the grant names this room by SID, nothing else');
    const decoded = Buffer.from(gt.body.token.split('.')[1]!, 'base64url').toString();
    for (const s of [visit.patientName, visit.patientDob, 'Ana', 'López', 'interpreter', providerName]) assert.ok(!decoded.includes(s), `token contains ${s}`);

    const verified = await server.tv.tokens.verify(gt.body.token);
    assert.equal(verified.identity, gt.body.identity);
    const own = roomAccess(verified, { name: gt.body.roomSid, existingSid: gt.body.roomSid });
    assert.ok(own.allowed, 'opens this visit’s room');
    assert.equal(own.allowed && own.mayCreate, false, 'cannot create rooms');
    const otherRoom = await server.tv.rooms.createRoom(server.accountSid, { uniqueName: 'another-visit' });
    assert.equal(roomAccess(verified, { name: otherRoom.sid, existingSid: otherRoom.sid }).allowed, false, 'not another visit’s room');
    assert.equal(roomAccess(verified, { name: 'another-visit', existingSid: otherRoom.sid }).allowed, false);
    assert.equal(roomAccess(verified, { name: 'brand-new-room', existingSid: null }).allowed, false, 'cannot create a room');

    // Everyone in the visit sees the guest by role and name; the guest sees everyone.
    const expected = {
      [st.body.identity]: { name: providerName, role: 'provider' },
      [server.tv.clinic.video.identityFor('patient', visit.id, visit.id)]: { name: visit.patientName, role: 'patient' },
      [gt.body.identity]: { name: 'Ana López', role: 'interpreter' },
    };
    const family = ((await patient.get('/api/patient/guests')).body as { id: string; displayName: string }[]).find((g) => g.displayName === 'Marco Ostrander')!;
    expected[server.tv.clinic.video.identityFor('guest', family.id, visit.id)] = { name: 'Marco Ostrander', role: 'family' };
    const byProvider = (await provider.get(`/api/appointments/${visit.id}/directory`)).body as Record<string, unknown>;
    for (const [identity, entry] of Object.entries(expected)) assert.deepEqual(byProvider[identity], entry, identity);
    assert.deepEqual((await patient.get('/api/patient/directory')).body, byProvider);
    assert.deepEqual((await guest.get('/api/guest/directory')).body, byProvider);
    assert.equal((await new HttpClient(server).get('/api/guest/directory')).status, 401);

    // Guest chat: sees what is said from the invitation on, and is heard by the clinic.
    const sent = await guest.post('/api/guest/chat', { text: 'Hola, soy la intérprete.' });
    assert.equal(sent.status, 201, sent.text);
    assert.equal(sent.body.from, 'guest');
    assert.equal(sent.body.name, 'Ana López');
    await staffEvents.next((m) => m.type === 'chat' && m.message.id === sent.body.id, 'guest chat');
    assert.ok(((await patient.get('/api/patient/chat')).body as { id: number }[]).some((m) => m.id === sent.body.id));
    events.close();
  });

  test('revoke: the guest is disconnected, the link and the session stop working (410)', async () => {
    const r = await invite(provider, { role: 'clinician', displayName: 'Dr. Cardio Consult' });
    const guest = await GuestClient.open(server, r.body.link);
    assert.equal((await guest.post('/api/guest/ready')).status, 200);
    assert.equal((await provider.post(`/api/appointments/${visit.id}/guests/${r.body.id}/admit`)).status, 200);
    const gt = await guest.post('/api/guest/visit-token');
    assert.equal(gt.status, 200, gt.text);
    // The guest is in the room (connected as the signaling server would).
    const { participant } = await server.tv.rooms.connectParticipant(gt.body.roomSid, gt.body.identity);
    assert.equal(participant.status, 'connected');
    const events = await guestSocket(guest);

    assert.equal((await provider.post(`/api/appointments/${visit.id}/guests/${r.body.id}/revoke`)).status, 200);
    await waitFor('revoked event', () => events.messages.some((m) => m.type === 'revoked'));
    const after = await server.tv.rooms.getParticipant(server.accountSid, gt.body.roomSid, participant.sid);
    assert.equal(after.status, 'disconnected', 'kicked from the room');

    const token = await guest.post('/api/guest/visit-token');
    assert.equal(token.status, 410);
    assert.equal(token.body.error.code, 'revoked');
    assert.equal((await guest.get('/api/guest/me')).status, 410);
    assert.equal((await new HttpClient(server).post('/api/guest/open', { token: GUEST_LINK.exec(r.body.link)![1] })).status, 410, 'the link is dead');
    const listed = ((await provider.get(`/api/appointments/${visit.id}/guests`)).body as { id: string; revokedAt: string | null; link: string | null }[]).find((g) => g.id === r.body.id)!;
    assert.ok(listed.revokedAt);
    assert.equal(listed.link, null);
    events.close();

    // The patient removes their own guest; a declined guest is gone from the directory.
    const mine = await invite(patient, { role: 'caregiver', displayName: 'Kim Caregiver' });
    assert.equal((await patient.post(`/api/patient/guests/${mine.body.id}/revoke`)).status, 200);
    const decl = await invite(patient, { role: 'family', displayName: 'Declined Cousin' });
    assert.equal((await provider.post(`/api/appointments/${visit.id}/guests/${decl.body.id}/decline`)).status, 200);
    const dir = (await provider.get(`/api/appointments/${visit.id}/directory`)).body as Record<string, { name: string }>;
    assert.ok(!Object.values(dir).some((v) => v.name === 'Declined Cousin' || v.name === 'Kim Caregiver'));
  });

  test('ending the visit ends guest access (409, links 410)', async () => {
    const list = (await provider.get(`/api/appointments/${visit.id}/guests`)).body as { displayName: string; link: string }[];
    const ana = list.find((g) => g.displayName === 'Ana López')!;
    const guest = await GuestClient.open(server, ana.link);
    assert.equal((await guest.post('/api/guest/visit-token')).status, 200);
    assert.equal((await provider.post(`/api/appointments/${visit.id}/end`)).status, 200);
    const refused = await guest.post('/api/guest/visit-token');
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'visit_ended');
    assert.equal((await guest.get('/api/guest/me')).body.visitState, 'ended', 'the open page can show the end screen');
    assert.equal((await new HttpClient(server).post('/api/guest/open', { token: GUEST_LINK.exec(ana.link)![1] })).status, 410);
    assert.equal((await invite(provider, { role: 'family', displayName: 'Too Late' })).status, 409);
    assert.equal((await guest.post('/api/guest/chat', { text: 'still there?' })).status, 409);
    // The record names the guest who was in the room, by role.
    const record = await provider.get(`/api/appointments/${visit.id}/record`);
    assert.equal(record.status, 200, record.text);
    assert.ok((record.body.participants as { name: string; role: string }[]).some((p) => p.name === 'Dr. Cardio Consult' && p.role === 'clinician'));
  });

  test('with guestsNeedAdmission off, a guest goes straight in; a new visit means a new invitation', async () => {
    const demo = server.tv.clinic.demo!;
    await server.tv.clinic.clinics.update(demo.clinicId, { guestsNeedAdmission: false });
    try {
      const next = await book(provider, providerId, { copayCents: 0 });
      const r = await invite(provider, { role: 'interpreter', displayName: 'Ana López' }, next.id);
      const guest = await GuestClient.open(server, r.body.link);
      const ready = await guest.post('/api/guest/ready');
      assert.equal(ready.body.state, 'admitted');
      assert.equal((await provider.post(`/api/appointments/${next.id}/admit`)).status, 200);
      const gt = await guest.post('/api/guest/visit-token');
      assert.equal(gt.status, 200, gt.text);
      // The same interpreter had another invitation, identity and room in the earlier visit.
      const earlierAna = ((await provider.get(`/api/appointments/${visit.id}/guests`)).body as { id: string; displayName: string }[]).find((g) => g.displayName === 'Ana López')!;
      assert.notEqual(r.body.id, earlierAna.id);
      assert.notEqual(gt.body.identity, server.tv.clinic.video.identityFor('guest', earlierAna.id, visit.id));
      const st = await provider.post(`/api/appointments/${next.id}/visit-token`);
      assert.equal(jwtPayload(gt.body.token).grants.video.room, st.body.roomSid);
    } finally {
      await server.tv.clinic.clinics.update(demo.clinicId, { guestsNeedAdmission: true });
    }
  });

  test('every invitation, admission, revocation and join is in the audit log', async () => {
    type Entry = { id: number; action: string; actorKind: string; actorId: string | null; subjectId: string | null; detail: Record<string, unknown> | null };
    const entries: Entry[] = [];
    for (let before: number | undefined; ; ) {
      const page = (await admin.get(`/api/audit${before ? `?before=${before}` : ''}`)).body as Entry[];
      entries.push(...page);
      if (page.length < 100) break;
      before = page[page.length - 1]!.id;
    }
    const of = (action: string) => entries.filter((e) => e.action === action);
    assert.ok(of('guest.invite').some((e) => e.actorKind === 'staff' && e.subjectId === visit.id));
    assert.ok(of('guest.invite').some((e) => e.actorKind === 'patient' && e.subjectId === visit.id));
    assert.ok(of('guest.admit').some((e) => e.actorKind === 'staff'));
    assert.ok(of('guest.revoke').some((e) => e.actorKind === 'staff'));
    assert.ok(of('guest.revoke').some((e) => e.actorKind === 'patient'));
    assert.ok(of('guest.decline').length >= 1);
    const joins = of('guest.join');
    assert.ok(joins.length >= 2);
    assert.ok(joins.every((e) => e.actorKind === 'guest' && typeof e.actorId === 'string' && e.actorId.startsWith('gi_')));
    assert.ok(of('guest.open').length >= 1);
    // Detail names the invitation and role, never a name or a number (a random id may happen to
    // hold the digits 7788, so the number is looked for as a number, not inside other characters).
    for (const e of entries.filter((x) => x.action.startsWith('guest.'))) {
      const text = JSON.stringify(e.detail ?? {});
      for (const s of ['Ana', 'Marco', visit.patientName]) assert.ok(!text.includes(s), `${e.action} detail has ${s}`);
      assert.doesNotMatch(text, /(^|[^A-Za-z0-9])(\+?1?555)?[ .()-]*301[ .-]*7788($|[^A-Za-z0-9])|(^|[^A-Za-z0-9_-])7788($|[^A-Za-z0-9_-])/, `${e.action} detail has the phone number: ${text}`);
    }
  });
});
