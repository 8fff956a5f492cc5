// Who may see and do what: every staff route against each role, on the actor's own data,
// another provider's data in the same clinic, and another clinic's data; and patients, whose
// session reaches their own appointment only. Refusals never carry data, and no response names
// a patient the asker may not see. SQLite and PostgreSQL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { eachDatabase, startServer, type TestServer } from '../helpers/server.js';
import { book, eventSocket, linkToken, PatientClient, patientClient, sleep, staffClient, type Booked, type Res, type StaffClient } from './clinic-client.js';

const PASSWORD = 'role matrix password 1';

type Who = 'adminA' | 'p1' | 'p2' | 'p3' | 'frontDesk' | 'adminB' | 'pB';
const EVERYONE: Who[] = ['adminA', 'p1', 'p2', 'p3', 'frontDesk', 'adminB', 'pB'];

eachDatabase('clinic role matrix', (db) => {
  let server: TestServer;
  const ids = {} as Record<Who, string>;
  const c = {} as Record<Who, StaffClient>;
  let clinicA: string;
  let clinicB: string;
  /** One appointment per provider: P1's, P2's (clinic A) and PB's (clinic B). */
  let apP1: Booked;
  let apP2: Booked;
  let apB: Booked;
  let all: Booked[];

  before(async () => {
    server = await startServer(db);
    const demo = server.tv.clinic.demo!;
    clinicA = demo.clinicId;
    const staff = server.tv.clinic.staff;
    ids.p1 = demo.provider.id;
    ids.p2 = (await staff.create(clinicA, { email: 'p2@a.test', displayName: 'Dr. Second Provider', role: 'provider', password: PASSWORD })).id;
    ids.p3 = (await staff.create(clinicA, { email: 'p3@a.test', displayName: 'Dr. Covering Provider', role: 'provider', password: PASSWORD, seesAllSchedules: true })).id;
    clinicB = (await server.tv.clinic.clinics.create('Other Town Clinic', 'America/Chicago')).id;
    ids.adminB = (await staff.create(clinicB, { email: 'admin@b.test', displayName: 'B Admin', role: 'admin', password: PASSWORD })).id;
    ids.pB = (await staff.create(clinicB, { email: 'provider@b.test', displayName: 'Dr. B Provider', role: 'provider', password: PASSWORD })).id;

    c.adminA = await staffClient(server, demo.admin.email, demo.admin.password);
    ids.adminA = (await c.adminA.get('/api/auth/me')).body.id;
    c.p1 = await staffClient(server, demo.provider.email, demo.provider.password);
    c.p2 = await staffClient(server, 'p2@a.test', PASSWORD);
    c.p3 = await staffClient(server, 'p3@a.test', PASSWORD);
    c.frontDesk = await staffClient(server, demo.frontDesk.email, demo.frontDesk.password);
    ids.frontDesk = (await c.frontDesk.get('/api/auth/me')).body.id;
    c.adminB = await staffClient(server, 'admin@b.test', PASSWORD);
    c.pB = await staffClient(server, 'provider@b.test', PASSWORD);

    apP1 = await book(c.frontDesk, ids.p1);
    apP2 = await book(c.p2, ids.p2);
    apB = await book(c.adminB, ids.pB);
    all = [apP1, apP2, apB];
  });
  after(async () => {
    await server.stop();
  });

  /** Sessions end after 15 idle minutes of the server clock; no test here moves it, but be safe. */
  const clinicOf = (who: Who) => (who === 'adminB' || who === 'pB' ? clinicB : clinicA);
  const mayAccess = (who: Who, ap: Booked): boolean => {
    const apClinic = ap === apB || ap.providerId === ids.pB ? clinicB : clinicA;
    if (clinicOf(who) !== apClinic) return false;
    if (who === 'p1' || who === 'p2' || who === 'pB') return ids[who] === ap.providerId;
    return true;
  };
  const isVisitProvider = (who: Who, ap: Booked) => (who === 'p1' || who === 'p2' || who === 'p3' || who === 'pB') && mayAccess(who, ap);
  const seesClinical = (who: Who) => who !== 'frontDesk';

  /** No response may carry the name, phone or DOB of a patient the asker may not see. */
  const assertNoForeignPatients = (who: Who, res: Res, context: string) => {
    for (const ap of all) {
      if (mayAccess(who, ap)) continue;
      assert.ok(!res.text.includes(ap.patientName), `${context}: ${who} got ${ap.patientName}`);
      assert.ok(!res.text.includes(ap.patientPhone), `${context}: ${who} got a foreign phone`);
      assert.ok(!res.text.includes(ap.id), `${context}: ${who} got a foreign appointment id`);
    }
  };
  const assertRefusal = (res: Res, statuses: number[], context: string) => {
    assert.ok(statuses.includes(res.status), `${context}: expected ${statuses.join('/')}, got ${res.status} ${res.text}`);
    assert.deepEqual(Object.keys(res.body), ['error'], `${context}: a refusal carries no data`);
    assert.deepEqual(Object.keys(res.body.error).sort(), ['code', 'message']);
  };

  test('appointment routes: own data, another provider of the clinic, another clinic', async () => {
    const routes: Array<{ name: string; run: (cl: StaffClient, ap: Booked) => Promise<Res>; allowed: (who: Who, ap: Booked) => number[] }> = [
      { name: 'GET appointment', run: (cl, ap) => cl.get(`/api/appointments/${ap.id}`), allowed: () => [200] },
      { name: 'PATCH appointment', run: (cl, ap) => cl.patch(`/api/appointments/${ap.id}`, { copayCents: 3000 }), allowed: () => [200] },
      { name: 'GET sms', run: (cl, ap) => cl.get(`/api/appointments/${ap.id}/sms`), allowed: () => [200] },
      { name: 'GET chat', run: (cl, ap) => cl.get(`/api/appointments/${ap.id}/chat`), allowed: () => [200] },
      { name: 'POST chat', run: (cl, ap) => cl.post(`/api/appointments/${ap.id}/chat`, { text: 'Hello from the clinic' }), allowed: () => [201] },
      { name: 'POST status', run: (cl, ap) => cl.post(`/api/appointments/${ap.id}/status`, { message: 'Running a little late' }), allowed: () => [200] },
      { name: 'POST admit-soon', run: (cl, ap) => cl.post(`/api/appointments/${ap.id}/admit-soon`), allowed: () => [200] },
      { name: 'GET directory', run: (cl, ap) => cl.get(`/api/appointments/${ap.id}/directory`), allowed: () => [200] },
      { name: 'GET record', run: (cl, ap) => cl.get(`/api/appointments/${ap.id}/record`), allowed: (who) => (seesClinical(who) ? [200] : [403]) },
      // Not admitted yet: the visit's provider hears 409, everyone else is refused.
      { name: 'POST visit-token', run: (cl, ap) => cl.post(`/api/appointments/${ap.id}/visit-token`), allowed: (who, ap) => (isVisitProvider(who, ap) ? [409] : [403]) },
    ];
    for (const route of routes) {
      for (const who of EVERYONE) {
        for (const ap of all) {
          const context = `${route.name} by ${who} on ${ap === apP1 ? 'P1' : ap === apP2 ? 'P2' : 'B'}'s appointment`;
          const res = await route.run(c[who], ap);
          assert.equal(res.headers.get('cache-control'), 'no-store');
          assertNoForeignPatients(who, res, context);
          if (!mayAccess(who, ap)) {
            assertRefusal(res, [404], context);
            continue;
          }
          const expected = route.allowed(who, ap);
          assert.ok(expected.includes(res.status), `${context}: expected ${expected.join('/')}, got ${res.status} ${res.text}`);
          if (res.status >= 400) {
            assertRefusal(res, expected, context);
            assert.ok(!res.text.includes(ap.patientName), `${context}: the refusal names the patient`);
            continue;
          }
          if (route.name === 'GET appointment' || route.name === 'PATCH appointment') {
            assert.equal(res.body.id, ap.id);
            assert.equal(res.body.patientName, ap.patientName);
            if (seesClinical(who)) {
              assert.equal(res.body.clinical.patientDob, ap.patientDob, context);
              assert.equal(res.body.clinical.reason, ap.reason, context);
            } else {
              assert.equal(res.body.clinical, undefined, `${context}: front desk sees no clinical fields`);
              assert.ok(!res.text.includes(ap.patientDob) && !res.text.includes(ap.reason), `${context}: no DOB or reason`);
            }
          }
          if (route.name === 'GET sms') {
            assert.ok(res.body.length >= 1);
            for (const m of res.body) assert.doesNotMatch(m.body, /\/v\/[A-Za-z0-9_-]{43}/, `${context}: staff do not get the patient's link secret`);
          }
        }
      }
    }
  });

  test('the day list shows each staff member only what they may see; front desk without clinical fields', async () => {
    const from = new Date(server.clock.now() - 86400_000).toISOString();
    const to = new Date(server.clock.now() + 2 * 86400_000).toISOString();
    for (const who of EVERYONE) {
      for (const providerFilter of ['', `&providerId=${ids.p2}`, `&providerId=${ids.pB}`]) {
        const res = await c[who].get(`/api/appointments?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}${providerFilter}`);
        assert.equal(res.status, 200, res.text);
        assertNoForeignPatients(who, res, `list by ${who}${providerFilter}`);
        const listed = new Set((res.body as Array<{ id: string }>).map((a) => a.id));
        for (const ap of all) {
          const filteredOut = providerFilter !== '' && !providerFilter.endsWith(ap.providerId) && !(who === 'p1' || who === 'p2' || who === 'pB');
          if (mayAccess(who, ap) && !filteredOut) assert.ok(listed.has(ap.id), `${who} lists ${ap.id}${providerFilter}`);
        }
        for (const a of res.body as Array<{ clinical?: unknown; patientName: string }>) {
          if (seesClinical(who)) assert.ok(a.clinical, `${who} sees clinical fields`);
          else assert.equal(a.clinical, undefined, 'front desk sees no clinical fields');
        }
      }
    }
  });

  test('booking: providers only on their own schedule; never with another clinic’s provider', async () => {
    const attempt = (cl: StaffClient, providerId: string) =>
      cl.post('/api/appointments', {
        providerId,
        patientName: 'Booking Probe',
        patientPhone: '+15557770000',
        patientDob: '1970-01-01',
        language: 'en',
        interpreterNeeded: false,
        reason: 'probe',
        startsAt: new Date(server.clock.now() + 3 * 86400_000).toISOString(),
        durationMinutes: 20,
        copayCents: 0,
      });
    assertRefusal(await attempt(c.p1, ids.p2), [403], 'P1 books for P2');
    assertRefusal(await attempt(c.pB, ids.p1), [403], 'PB books for P1');
    const fromB = await attempt(c.adminB, ids.p1);
    assertRefusal(fromB, [400], 'B admin books with A provider');
    assert.equal(fromB.body.error.code, 'bad_provider');
    assertRefusal(await attempt(c.adminA, ids.frontDesk), [400], 'front desk is not a provider');
    // A provider cannot move their appointment onto another provider's schedule.
    assertRefusal(await c.p1.patch(`/api/appointments/${apP1.id}`, { providerId: ids.p2 }), [403], 'P1 moves to P2');
    assertRefusal(await c.adminB.patch(`/api/appointments/${apB.id}`, { providerId: ids.p1 }), [400], 'B moves to A provider');
    assert.equal((await attempt(c.p3, ids.p2)).status, 201, 'a provider who sees all schedules books for others');
    assert.equal((await attempt(c.frontDesk, ids.p2)).status, 201);
  });

  test('admit, visit token and end: only the provider running the visit; cancel and link: anyone who sees it', async () => {
    const ap = await book(c.frontDesk, ids.p1);
    const before = (await c.p1.get(`/api/appointments/${ap.id}`)).body;
    const denied: Array<[Who, number]> = [
      ['adminA', 403],
      ['frontDesk', 403],
      ['p2', 404],
      ['adminB', 404],
      ['pB', 404],
    ];
    for (const action of ['admit', 'visit-token', 'end']) {
      for (const [who, status] of denied) {
        const res = await c[who].post(`/api/appointments/${ap.id}/${action}`);
        assertRefusal(res, [status], `${action} by ${who}`);
        assert.ok(!res.text.includes(ap.patientName));
      }
    }
    for (const [who, status] of [['p2', 404], ['adminB', 404], ['pB', 404]] as const) {
      assertRefusal(await c[who].post(`/api/appointments/${ap.id}/cancel`, { notifyPatient: true }), [status], `cancel by ${who}`);
      assertRefusal(await c[who].post(`/api/appointments/${ap.id}/link`, { sendNew: true }), [status], `link by ${who}`);
    }
    const after = (await c.p1.get(`/api/appointments/${ap.id}`)).body;
    assert.equal(after.status, 'scheduled');
    assert.equal(after.visitState, 'none');
    assert.deepEqual({ ...after, precall: null }, { ...before, precall: null }, 'refused actions changed nothing');
    assert.deepEqual(
      (await c.p1.get(`/api/appointments/${ap.id}/sms`)).body.map((m: { kind: string }) => m.kind),
      ['invite'],
      'no message was sent',
    );

    assert.equal((await c.p1.post(`/api/appointments/${ap.id}/admit`)).status, 200);
    const token = await c.p1.post(`/api/appointments/${ap.id}/visit-token`);
    assert.equal(token.status, 200);
    assert.ok(!token.text.includes(ap.patientName));
    for (const [who, status] of denied) assertRefusal(await c[who].post(`/api/appointments/${ap.id}/visit-token`), [status], `token by ${who} while admitted`);
    // Cancelling an admitted visit is refused; ending it is the provider's.
    assertRefusal(await c.frontDesk.post(`/api/appointments/${ap.id}/cancel`, {}), [409], 'cancel while admitted');
    for (const [who, status] of denied) assertRefusal(await c[who].post(`/api/appointments/${ap.id}/end`), [status], `end by ${who}`);
    assert.equal((await c.p1.post(`/api/appointments/${ap.id}/end`)).status, 200);
    assert.equal((await c.p1.get(`/api/appointments/${ap.id}`)).body.visitState, 'ended');

    // Front desk may cancel and re-send a link.
    const other = await book(c.frontDesk, ids.p2);
    assert.equal((await c.frontDesk.post(`/api/appointments/${other.id}/link`, { sendNew: true })).status, 200);
    assert.equal((await c.frontDesk.post(`/api/appointments/${other.id}/cancel`, { notifyPatient: false })).status, 200);
    assert.equal((await c.p2.get(`/api/appointments/${other.id}`)).body.status, 'cancelled');
  });

  test('staff management and the audit log: admins of their own clinic only', async () => {
    // The staff directory: names and roles for everyone; emails for admins; own clinic only.
    for (const who of EVERYONE) {
      const res = await c[who].get('/api/staff');
      assert.equal(res.status, 200);
      const names = (res.body as Array<{ displayName: string; email?: string }>).map((s) => s.displayName);
      if (clinicOf(who) === clinicA) {
        assert.ok(names.includes('Dr. Second Provider'));
        assert.ok(!names.includes('Dr. B Provider') && !res.text.includes('@b.test'), `${who} sees clinic B staff`);
      } else {
        assert.ok(names.includes('Dr. B Provider'));
        assert.ok(!names.includes('Dr. Second Provider') && !res.text.includes('@a.test') && !res.text.includes('demo.clinic'), `${who} sees clinic A staff`);
      }
      if (who === 'adminA' || who === 'adminB') assert.ok((res.body as Array<{ email?: string }>).every((s) => s.email));
      else assert.ok(!res.text.includes('@'), `${who} sees no emails`);
      assert.ok(!res.text.includes('password') && !res.text.includes('totp_secret'));
    }

    const newStaff = (n: string) => ({ email: `new.${n}@a.test`, displayName: `New ${n}`, role: 'front_desk', password: PASSWORD });
    for (const who of ['p1', 'p3', 'frontDesk', 'pB'] as const) {
      assertRefusal(await c[who].post('/api/staff', newStaff(who)), [403], `create staff by ${who}`);
      assertRefusal(await c[who].patch(`/api/staff/${ids.p2}`, { displayName: 'Hijacked' }), [403, 404], `patch staff by ${who}`);
      assertRefusal(await c[who].get('/api/audit'), [403], `audit by ${who}`);
    }
    const created = await c.adminA.post('/api/staff', newStaff('admin'));
    assert.equal(created.status, 201);
    assert.equal(created.body.role, 'front_desk');
    assert.ok(!created.text.includes(PASSWORD) && !created.text.includes('$argon2'));
    // Clinic B's admin cannot touch clinic A's staff, nor the other way round.
    assertRefusal(await c.adminB.patch(`/api/staff/${ids.p2}`, { active: false }), [404], 'B admin deactivates A staff');
    assertRefusal(await c.adminA.patch(`/api/staff/${ids.pB}`, { displayName: 'Renamed' }), [404], 'A admin renames B staff');
    assert.equal((await c.p2.get('/api/auth/me')).status, 200, 'still active');

    // A front-desk member made a provider sees only their own schedule unless granted more.
    const promoted = await c.adminA.patch(`/api/staff/${created.body.id}`, { role: 'provider' });
    assert.equal(promoted.status, 200);
    assert.equal(promoted.body.role, 'provider');
    assert.equal(promoted.body.seesAllSchedules, false, 'promotion does not grant all schedules');
    const np = await staffClient(server, 'new.admin@a.test', PASSWORD);
    assertRefusal(await np.get(`/api/appointments/${apP1.id}`), [404], 'promoted provider on P1 appointment');

    const audit = await c.adminA.get('/api/audit');
    assert.equal(audit.status, 200);
    assert.ok(audit.body.length > 0);
    assert.ok(audit.body.some((e: { subjectId: string }) => e.subjectId === apP1.id));
    assertNoForeignPatients('adminA', audit, 'audit A');
    for (const ap of all) assert.ok(!audit.text.includes(ap.patientName), 'no patient names in the audit log');
    const auditB = await c.adminB.get('/api/audit');
    assert.equal(auditB.status, 200);
    assert.ok(auditB.body.some((e: { subjectId: string }) => e.subjectId === apB.id));
    assertNoForeignPatients('adminB', auditB, 'audit B');
    assert.ok(!auditB.text.includes(ids.p1) && !auditB.text.includes(ids.adminA), 'clinic B sees nothing of clinic A');
  });

  test('live events reach only the staff who may see them', async () => {
    const sockets = {} as Record<Who, Awaited<ReturnType<typeof eventSocket>>>;
    for (const who of EVERYONE) sockets[who] = await eventSocket(c[who]);
    try {
      await c.p2.post(`/api/appointments/${apP2.id}/chat`, { text: 'for P2 only' });
      await c.p1.post(`/api/appointments/${apP1.id}/chat`, { text: 'for P1 only' });
      await c.pB.post(`/api/appointments/${apB.id}/chat`, { text: 'for B only' });
      for (const who of EVERYONE) {
        for (const ap of all) {
          if (mayAccess(who, ap)) await sockets[who].next((m) => m.type === 'chat' && m.appointmentId === ap.id, `${who} hears ${ap.id}`);
        }
      }
      await sleep(200);
      for (const who of EVERYONE) {
        const text = JSON.stringify(sockets[who].messages);
        for (const ap of all) if (!mayAccess(who, ap)) assert.ok(!text.includes(ap.id), `${who} heard about ${ap.id}`);
      }
    } finally {
      for (const who of EVERYONE) sockets[who].close();
    }
  });

  test('patients: a session reaches its own appointment only; staff routes refuse it', async () => {
    const x = await book(c.frontDesk, ids.p1);
    const y = await book(c.frontDesk, ids.p1);
    const tokenX = await linkToken(server, x.id);
    const tokenY = await linkToken(server, y.id);
    // X's date of birth does not open Y's link.
    const wrong = await new PatientClient(server).verify(tokenY, x.patientDob);
    assert.equal(wrong.status, 401);
    const px = await patientClient(server, tokenX, x.patientDob);
    const me = await px.get('/api/patient/me');
    assert.equal(me.status, 200);
    assert.equal(me.body.appointmentId, x.id);
    assert.ok(!me.text.includes(y.id) && !me.text.includes(y.patientName));
    // X's session does not count as verified for Y's link.
    const openY = await px.open(tokenY);
    assert.equal(openY.status, 200);
    assert.equal(openY.body.verified, false);
    assert.equal((await px.open(tokenX)).body.verified, true);

    await c.p1.post(`/api/appointments/${y.id}/chat`, { text: 'Only for Y' });
    await c.p1.post(`/api/appointments/${x.id}/chat`, { text: 'Only for X' });
    const socketX = await eventSocket(px, 'patient');
    try {
      await c.p1.post(`/api/appointments/${y.id}/status`, { message: 'Y status' });
      await c.p1.post(`/api/appointments/${x.id}/status`, { message: 'X status' });
      await socketX.next((m) => m.type === 'status' && m.providerStatus === 'X status');
      await sleep(100);
      assert.ok(!JSON.stringify(socketX.messages).includes('Y status'));
    } finally {
      socketX.close();
    }
    const chat = await px.get('/api/patient/chat');
    assert.deepEqual(chat.body.map((m: { body: string }) => m.body), ['Only for X']);
    for (const path of ['/api/patient/me', '/api/patient/chat', '/api/patient/directory']) {
      const r = await px.get(path);
      assert.ok(!r.text.includes(y.patientName) && !r.text.includes(y.id), path);
    }
    const tok = await px.post('/api/patient/visit-token');
    assert.equal(tok.status, 409);

    // Staff routes with a patient cookie: not signed in.
    for (const [method, path] of [
      ['GET', `/api/appointments/${x.id}`],
      ['GET', `/api/appointments/${y.id}`],
      ['GET', `/api/appointments/${x.id}/chat`],
      ['GET', `/api/appointments/${x.id}/record`],
      ['POST', `/api/appointments/${x.id}/visit-token`],
      ['GET', '/api/auth/me'],
      ['GET', '/api/staff'],
      ['GET', '/api/audit'],
    ] as const) {
      const r = await px.req(method, path);
      assertRefusal(r, [401], `${method} ${path} as a patient`);
    }
    const staffSocket = await eventSocket(px, 'staff').then(
      () => 'opened',
      (err: { code?: number }) => err.code,
    );
    assert.equal(staffSocket, 4001, 'a patient cookie does not open the staff event stream');
    // And a staff cookie is not a patient session.
    assert.equal((await c.p1.get('/api/patient/me')).status, 401);
  });
});
