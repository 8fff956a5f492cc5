// An interpreter by API (issue 7 part 3): the visit's provider asks the clinic's interpreter
// service (a local fake speaking the generic HTTP protocol) for an interpreter of a language.
// Video: a guest invitation is made for the request, its link goes to the service, whose
// interpreter opens it and waits to be let in; the service's signed reports move the request
// along; cancel tells the service and takes the link back. Phone: the service names a number
// and the visit dials it (SIPp as the trunk); the service's "completed" hangs it up. Signatures
// are checked both ways; ending the visit ends open requests. SQLite and PostgreSQL.
import '../helpers/unhandled.js';
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eachDatabase, startServer, waitFor, type TestServer } from '../helpers/server.js';
import { book, eventSocket, staffClient, type EventSocket, type StaffClient } from './clinic-client.js';
import { startFakeInterpreterService, type FakeInterpreterService } from './fake-interpreter-service.js';
import { SippTrunk } from './sipp-trunk.js';
import { assertSippSucceeded } from '../telephony/sipp.js';
import { webhookSignature } from '../../src/notify/providers/webhook.js';

const SECRET = 'interpreter-service-shared-secret-1';
const PASSWORD = 'interpreters password 1';
const INTERPRETER_LINE = '+15557320099';

eachDatabase('interpreter service', (db) => {
  let server: TestServer;
  let fake: FakeInterpreterService;
  let trunk: SippTrunk;
  let provider: StaffClient;
  let desk: StaffClient;
  let otherClinicProvider: StaffClient;
  let providerId: string;
  let events: EventSocket;

  const requestsUrl = (visitId: string) => `/api/appointments/${visitId}/interpreter-requests`;

  async function liveVisit(): Promise<string> {
    const v = await book(desk, providerId, { startsAt: new Date(server.clock.now() + 5 * 60_000).toISOString(), copayCents: 0, language: 'es', interpreterNeeded: true });
    assert.equal((await provider.post(`/api/appointments/${v.id}/admit`)).status, 200);
    return v.id;
  }

  async function requestState(visitId: string, id: string): Promise<any> {
    const list = await provider.get(requestsUrl(visitId));
    assert.equal(list.status, 200, list.text);
    return list.body.requests.find((r: { id: string }) => r.id === id);
  }

  before(async () => {
    fake = await startFakeInterpreterService({ secret: SECRET, dialNumber: INTERPRETER_LINE });
    trunk = await SippTrunk.create();
    server = await startServer(db, {
      env: { INTERPRETER_SERVICE_URL: fake.url, INTERPRETER_SERVICE_SECRET: SECRET, ...trunk.env(db === 'sqlite' ? [44000, 44499] : [44500, 44999]) },
    });
    const demo = server.tv.clinic.demo!;
    providerId = demo.provider.id;
    provider = await staffClient(server, demo.provider.email, demo.provider.password);
    desk = await staffClient(server, demo.frontDesk.email, demo.frontDesk.password);
    const clinicB = await server.tv.clinic.clinics.create('Other Town Clinic', 'America/Chicago');
    await server.tv.clinic.staff.create(clinicB.id, { email: 'provider@b-interp.test', displayName: 'Dr. B Provider', role: 'provider', password: PASSWORD });
    otherClinicProvider = await staffClient(server, 'provider@b-interp.test', PASSWORD);
    events = await eventSocket(provider);
  });
  afterEach(async () => {
    await trunk.stop();
  });
  after(async () => {
    events?.close();
    await fake?.close();
    await trunk?.stop();
    await server?.stop();
  });

  test('video: request → the service’s interpreter opens the guest link and waits; reports update the request; cancel', async () => {
    const visitId = await liveVisit();
    assert.deepEqual((await provider.get(requestsUrl(visitId))).body, { configured: true, phone: true, requests: [] });
    const created = await provider.post(requestsUrl(visitId), { language: 'es', mode: 'video' });
    assert.equal(created.status, 201, created.text);
    const req = created.body;
    assert.match(req.id, /^ir_[0-9a-f]{32}$/);
    assert.equal(req.languageName, 'Spanish');
    assert.equal(req.mode, 'video');
    assert.equal(req.status, 'accepted');
    assert.ok(req.invitationId);

    // What the service received: signed, with the guest link for this visit, no patient data.
    const sent = fake.calls.find((c) => c.type === 'request' && c.body.reference === req.id)!;
    assert.equal(sent.signed, true, 'the service verified our signature');
    assert.equal(sent.body.language, 'es');
    assert.equal(sent.body.mode, 'video');
    assert.equal(sent.body.appointmentId, visitId);
    assert.equal(sent.body.callbackUrl, `${server.url}/api/interpreter-service/callback`);
    assert.match(sent.body.joinLink, /^http:\/\/127\.0\.0\.1:\d+\/g\/[A-Za-z0-9_-]{43}$/);
    const fakeReq = [...fake.requests.values()].find((r) => r.body.reference === req.id)!;

    // The interpreter is on the way (signed report accepted), then waiting in the visit.
    await waitFor('report: connecting', async () => (await requestState(visitId, req.id)).status === 'connecting');
    assert.equal((await requestState(visitId, req.id)).interpreterName, 'Lucía Fernández');
    await waitFor('the interpreter is waiting', async () => {
      const guests = (await provider.get(`/api/appointments/${visitId}/guests`)).body as Array<{ id: string; state: string; role: string; displayName: string }>;
      const g = guests.find((x) => x.id === req.invitationId);
      return g?.state === 'waiting' ? g : undefined;
    });
    await waitFor('the service heard it is waiting', () => fakeReq.guestState === 'waiting');
    const guests = (await provider.get(`/api/appointments/${visitId}/guests`)).body as Array<{ id: string; role: string; displayName: string }>;
    assert.deepEqual(
      guests.filter((g) => g.id === req.invitationId).map((g) => [g.role, g.displayName]),
      [['interpreter', 'Lucía Fernández']],
      'the invitation carries the name the service reported',
    );
    await events.next((m) => m.type === 'interpreter.status' && m.request?.id === req.id && m.request.status === 'connecting', 'interpreter.status connecting');

    // The provider lets them in; the service says its interpreter is connected.
    assert.equal((await provider.post(`/api/appointments/${visitId}/guests/${req.invitationId}/admit`)).status, 200);
    assert.equal(await fake.report(fakeReq.requestId, { status: 'connected' }), 204);
    assert.equal((await requestState(visitId, req.id)).status, 'connected');
    // Refresh asks the service (signed status call).
    const refreshed = await provider.get(`${requestsUrl(visitId)}/${req.id}`);
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.equal(refreshed.body.status, 'connected');
    assert.ok(fake.calls.some((c) => c.type === 'status' && c.signed));

    // Reports that are not signed with the secret, too old, malformed or unknown are refused.
    assert.equal(await fake.report(fakeReq.requestId, { status: 'failed' }, { secret: 'not-the-shared-secret-000' }), 403);
    assert.equal(await fake.report(fakeReq.requestId, { status: 'failed' }, { timestamp: Date.now() - 3600_000 }), 403);
    const unsigned = await fetch(`${server.url}/api/interpreter-service/callback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requestId: fakeReq.requestId, status: 'failed' }) });
    assert.equal(unsigned.status, 403);
    const ts = String(Math.floor(Date.now() / 1000));
    const unknownBody = JSON.stringify({ requestId: 'FIS-nope', status: 'failed' });
    const unknown = await fetch(`${server.url}/api/interpreter-service/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-televisit-timestamp': ts, 'x-televisit-signature': webhookSignature(SECRET, ts, unknownBody) },
      body: unknownBody,
    });
    assert.equal(unknown.status, 404);
    assert.equal((await requestState(visitId, req.id)).status, 'connected', 'refused reports change nothing');

    // Others may not see or act on the requests.
    assert.equal((await desk.get(requestsUrl(visitId))).status, 403);
    assert.equal((await desk.post(requestsUrl(visitId), { language: 'es' })).status, 403);
    assert.equal((await desk.post(`${requestsUrl(visitId)}/${req.id}/cancel`)).status, 403);
    assert.equal((await otherClinicProvider.get(requestsUrl(visitId))).status, 404);
    assert.equal((await provider.post(requestsUrl(visitId), { language: 'Spanish!' })).status, 400);

    // Cancel: the service hears it (signed), the link stops working, the guest's session too.
    const canceled = await provider.post(`${requestsUrl(visitId)}/${req.id}/cancel`);
    assert.equal(canceled.status, 200, canceled.text);
    assert.equal(canceled.body.status, 'canceled');
    assert.ok(canceled.body.endedAt);
    const cancelCall = fake.calls.find((c) => c.type === 'cancel' && c.body.requestId === fakeReq.requestId)!;
    assert.equal(cancelCall.signed, true);
    assert.equal(fakeReq.status, 'canceled');
    const me = await fetch(`${server.url}/api/guest/me`, { headers: { cookie: fakeReq.guestCookie! } });
    assert.equal(me.status, 410, 'the interpreter’s access is gone');
    // A late report on a finished request changes nothing.
    assert.equal(await fake.report(fakeReq.requestId, { status: 'connected' }), 204);
    assert.equal((await requestState(visitId, req.id)).status, 'canceled');

    assert.ok(fake.calls.every((c) => c.signed), 'every call to the service was signed');
    const audit = (await server.tv.database.db.selectFrom('audit_log').select(['action', 'actor_kind']).where('subject_id', '=', visitId).where('action', 'like', 'interpreter.%').orderBy('id').execute()).map((a) => `${a.actor_kind}:${a.action}`);
    assert.deepEqual(audit.slice(0, 2), ['staff:interpreter.request', 'system:interpreter.status']);
    assert.ok(audit.includes('staff:interpreter.cancel'));
  });

  test('the service refuses: 502, the request failed and its guest link is taken back', async () => {
    const visitId = await liveVisit();
    fake.refuseNext(503);
    const res = await provider.post(requestsUrl(visitId), { language: 'ar', mode: 'video' });
    assert.equal(res.status, 502, res.text);
    assert.equal(res.body.error.code, 'interpreter_service_unavailable');
    const [failed] = (await provider.get(requestsUrl(visitId))).body.requests;
    assert.equal(failed.status, 'failed');
    assert.match(failed.message, /HTTP 503/);
    const guest = ((await provider.get(`/api/appointments/${visitId}/guests`)).body as Array<{ id: string; revokedAt: string | null }>).find((g) => g.id === failed.invitationId)!;
    assert.ok(guest.revokedAt, 'the unused invitation is revoked');
  });

  test('phone: the service names a number, the visit dials it; the service’s “completed” hangs up', async () => {
    const visitId = await liveVisit();
    const sipp = await trunk.play('answer-local-bye.xml');
    const created = await provider.post(requestsUrl(visitId), { language: 'vi', mode: 'phone' });
    assert.equal(created.status, 201, created.text);
    const req = created.body;
    assert.equal(req.invitationId, null);
    const fakeReq = [...fake.requests.values()].find((r) => r.body.reference === req.id)!;
    assert.equal(fakeReq.body.joinLink, null);
    const placed = await waitFor('the interpreter call', async () => (await requestState(visitId, req.id)).phoneCallId as string | null, 10_000);
    assert.equal((await requestState(visitId, req.id)).status, 'connecting');
    const call = await events.next((m) => m.type === 'phone.status' && m.call?.id === placed && m.call.status === 'in-progress', 'interpreter call in progress', 10_000);
    assert.equal(call.call.numberLast4, '0099');
    assert.equal(call.call.displayName, 'Lucía Fernández');
    assert.equal(call.call.viaInterpreterService, true);
    assert.equal(await fake.report(fakeReq.requestId, { status: 'connected' }), 204);
    assert.equal(await fake.report(fakeReq.requestId, { status: 'completed' }), 204);
    await events.next((m) => m.type === 'phone.status' && m.call?.id === placed && m.call.status === 'completed', 'interpreter call hung up', 10_000);
    await assertSippSucceeded(sipp);
    assert.equal((await requestState(visitId, req.id)).status, 'completed');
  });

  test('ending the visit ends its open requests with the service', async () => {
    const visitId = await liveVisit();
    const req = (await provider.post(requestsUrl(visitId), { language: 'zh-HK' })).body;
    assert.match(req.languageName, /^Chinese \(Hong Kong/);
    const fakeReq = await waitFor('request at the service', () => [...fake.requests.values()].find((r) => r.body.reference === req.id));
    await waitFor('interpreter waiting', () => fakeReq.guestState === 'waiting');
    assert.equal((await provider.post(`/api/appointments/${visitId}/end`)).status, 200);
    await waitFor('canceled with the service', () => fake.calls.some((c) => c.type === 'cancel' && c.body.requestId === fakeReq.requestId));
    await waitFor('request canceled', async () => (await requestState(visitId, req.id)).status === 'canceled');
    assert.equal((await provider.post(requestsUrl(visitId), { language: 'es' })).status, 409);
  });
});

describe('interpreter service not configured [sqlite]', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer('sqlite');
  });
  after(async () => {
    await server?.stop();
  });

  test('requests answer 503; the callback route does not exist', async () => {
    const demo = server.tv.clinic.demo!;
    const provider = await staffClient(server, demo.provider.email, demo.provider.password);
    const v = await book(provider, demo.provider.id, { copayCents: 0 });
    assert.deepEqual((await provider.get(`/api/appointments/${v.id}/interpreter-requests`)).body, { configured: false, phone: false, requests: [] });
    const res = await provider.post(`/api/appointments/${v.id}/interpreter-requests`, { language: 'es' });
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'interpreter_service_not_configured');
    const cb = await fetch(`${server.url}/api/interpreter-service/callback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(cb.status, 404);
  });
});
