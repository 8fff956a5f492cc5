// Phone legs of a visit through the clinic API, with SIPp as the SIP trunk (SIP_TRUNK_HOST) on
// loopback: the provider dials from a live visit; the call's statuses are stored, audited,
// published on the staff socket and sent as signed status callbacks; once answered the leg joins
// the room (through the room audio bridge seam) under an opaque identity the directory names;
// hang up from the API, BYE from the far end, busy; IVR digits and keypad digits arrive as RFC 4733
// events; only the visit's provider may dial, list, hang up or press digits; ending the visit
// hangs up its calls; numbers never appear in full in lists, events, the audit log or the logs;
// without a trunk, dialing answers 503. SQLite and PostgreSQL.
import '../helpers/unhandled.js';
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import http from 'node:http';
import { Writable } from 'node:stream';
import { eachDatabase, startServer, waitFor, type TestServer } from '../helpers/server.js';
import { createLogger } from '../../src/log.js';
import { twilioSignature } from '../../src/video/callbacks/signature.js';
import { parseRtp, parseTelephoneEvent } from '../../src/telephony/rtp.js';
import type { PhoneCall } from '../../src/telephony/index.js';
import type { RoomAudioBridge } from '../../src/clinic/phone-calls.js';
import { roomAccess } from '../../src/video/tokens/access-token.js';
import { book, eventSocket, jwtPayload, staffClient, type EventSocket, type StaffClient } from './clinic-client.js';
import { SippTrunk } from './sipp-trunk.js';
import { assertSippSucceeded as sippOk } from '../telephony/sipp.js';

const PASSWORD = 'phone calls password 1';
// Dialed as typed by a person; stored as +15553014477. Its full digits must not leak.
const NUMBER = '(555) 301-4477';
const E164 = '+15553014477';
const FULL_DIGITS = ['5553014477', '555 301 4477', '555-301-4477', '(555) 301'];

interface Callback {
  params: Record<string, string>;
  signature: string;
  url: string;
}

async function callbackReceiver(): Promise<{ url: string; received: Callback[]; close(): Promise<void> }> {
  const received: Callback[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ params: Object.fromEntries(new URLSearchParams(body)), signature: String(req.headers['x-twilio-signature'] ?? ''), url: `http://127.0.0.1:${(server.address() as { port: number }).port}${req.url}` });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/voice/status`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A room audio bridge that records what it is asked to do. */
function recordingBridge() {
  const joins: Array<{ callSid: string; roomSid: string; identity: string; token: string; closed: boolean }> = [];
  const bridge: RoomAudioBridge = {
    async join(call: PhoneCall, roomSid: string, identity: string, token: string) {
      const entry = { callSid: call.sid, roomSid, identity, token, closed: false };
      joins.push(entry);
      return {
        async close() {
          entry.closed = true;
        },
      };
    },
  };
  return { bridge, joins };
}

eachDatabase('phone legs of a visit', (db) => {
  let server: TestServer;
  let trunk: SippTrunk;
  let receiver: Awaited<ReturnType<typeof callbackReceiver>>;
  let provider: StaffClient;
  let desk: StaffClient;
  let admin: StaffClient;
  let otherProvider: StaffClient;
  let otherClinicProvider: StaffClient;
  let providerId: string;
  let events: EventSocket;
  const logs: string[] = [];
  const audio = recordingBridge();

  /** A visit booked for now and started by its provider. */
  async function liveVisit(): Promise<string> {
    const v = await book(desk, providerId, { startsAt: new Date(server.clock.now() + 5 * 60_000).toISOString(), copayCents: 0 });
    const admitted = await provider.post(`/api/appointments/${v.id}/admit`);
    assert.equal(admitted.status, 200, admitted.text);
    return v.id;
  }

  const calls = (appointmentId: string) => `/api/appointments/${appointmentId}/phone-calls`;

  async function statusOf(appointmentId: string, callId: string): Promise<any> {
    const list = await provider.get(calls(appointmentId));
    assert.equal(list.status, 200, list.text);
    return list.body.calls.find((c: { id: string }) => c.id === callId);
  }

  const published = (callId: string, status: string) => events.next((m) => m.type === 'phone.status' && m.call?.id === callId && m.call.status === status, `phone.status ${status}`, 10_000);

  before(async () => {
    trunk = await SippTrunk.create();
    receiver = await callbackReceiver();
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(chunk.toString());
        cb();
      },
    });
    server = await startServer(db, {
      env: { ...trunk.env(db === 'sqlite' ? [43000, 43499] : [43500, 43999]), SIP_STATUS_CALLBACK_URL: receiver.url },
      logger: createLogger('debug', stream),
      roomAudio: audio.bridge,
    });
    const demo = server.tv.clinic.demo!;
    providerId = demo.provider.id;
    provider = await staffClient(server, demo.provider.email, demo.provider.password);
    desk = await staffClient(server, demo.frontDesk.email, demo.frontDesk.password);
    admin = await staffClient(server, demo.admin.email, demo.admin.password);
    await server.tv.clinic.staff.create(demo.clinicId, { email: 'second@phones.test', displayName: 'Dr. Second Provider', role: 'provider', password: PASSWORD });
    otherProvider = await staffClient(server, 'second@phones.test', PASSWORD);
    const clinicB = await server.tv.clinic.clinics.create('Other Town Clinic', 'America/Chicago');
    await server.tv.clinic.staff.create(clinicB.id, { email: 'provider@b-phones.test', displayName: 'Dr. B Provider', role: 'provider', password: PASSWORD });
    otherClinicProvider = await staffClient(server, 'provider@b-phones.test', PASSWORD);
    events = await eventSocket(provider);
  });
  afterEach(async () => {
    await trunk.stop();
  });
  after(async () => {
    events?.close();
    await trunk?.stop();
    await server?.stop();
    await receiver?.close();
  });

  test('dial from a live visit: ringing, answered, in the room, hung up from the API; stored, audited, published and called back', async () => {
    const visitId = await liveVisit();
    const sipp = await trunk.play('answer-local-bye.xml');
    const dialed = await provider.post(calls(visitId), { to: NUMBER, role: 'interpreter', displayName: 'Ana López' });
    assert.equal(dialed.status, 201, dialed.text);
    const call = dialed.body;
    assert.match(call.id, /^pc_[0-9a-f]{32}$/);
    assert.equal(call.numberLast4, '4477');
    assert.equal(call.displayName, 'Ana López');
    assert.equal(call.role, 'interpreter');

    for (const s of ['initiated', 'ringing', 'in-progress']) await published(call.id, s);
    const live = await statusOf(visitId, call.id);
    assert.equal(live.status, 'in-progress');
    assert.ok(live.answeredAt && typeof live.elapsedSeconds === 'number');

    // In the room: a token for an opaque identity, limited to this visit's room.
    const callSid = (await server.tv.database.db.selectFrom('phone_calls').select('call_sid').where('id', '=', call.id).executeTakeFirstOrThrow()).call_sid;
    const joined = await waitFor('the bridge joined', () => audio.joins.find((j) => j.callSid === callSid));
    assert.equal(joined.identity, server.tv.clinic.video.identityFor('phone', call.id, visitId));
    assert.match(joined.identity, /^ph-[0-9a-f]{24}$/);
    const roomSid = (await server.tv.database.db.selectFrom('appointments').select('room_sid').where('id', '=', visitId).executeTakeFirstOrThrow()).room_sid!;
    assert.equal(joined.roomSid, roomSid);
    assert.deepEqual(jwtPayload(joined.token).grants.video, { room: roomSid });
    const verified = await server.tv.tokens.verify(joined.token);
    assert.equal(verified.identity, joined.identity);
    const access = roomAccess(verified, { name: roomSid, existingSid: roomSid });
    assert.ok(access.allowed && !access.mayCreate, 'this visit’s room only, no room creation');
    // The directory names the phone leg for the people in the visit.
    const directory = (await provider.get(`/api/appointments/${visitId}/directory`)).body;
    assert.deepEqual(directory[joined.identity], { name: 'Ana López', role: 'phone-interpreter' });

    const hung = await provider.post(`${calls(visitId)}/${call.id}/hangup`);
    assert.equal(hung.status, 200, hung.text);
    assert.equal(hung.body.status, 'completed');
    await published(call.id, 'completed');
    await sippOk(sipp);
    assert.equal(joined.closed, true, 'the bridge leg closed with the call');
    // Hanging up again is harmless.
    assert.equal((await provider.post(`${calls(visitId)}/${call.id}/hangup`)).body.status, 'completed');

    // Stored…
    const row = await server.tv.database.db.selectFrom('phone_calls').selectAll().where('id', '=', call.id).executeTakeFirstOrThrow();
    assert.equal(row.to_number, E164);
    assert.equal(row.status, 'completed');
    assert.match(row.call_sid!, /^CA[0-9a-f]{32}$/);
    assert.ok(row.started_at && row.answered_at && row.ended_at);
    assert.equal(Number(row.duration), 0);
    // …in order on the staff socket…
    const order = events.messages.filter((m) => m.type === 'phone.status' && m.call.id === call.id).map((m) => m.call.status);
    assert.deepEqual(order, ['queued', 'initiated', 'ringing', 'in-progress', 'completed']);
    assert.ok(events.messages.filter((m) => m.type === 'phone.status').every((m) => m.appointmentId && m.providerId === providerId));
    // …audited…
    const audit = await server.tv.database.db.selectFrom('audit_log').select(['action', 'actor_kind', 'detail']).where('subject_id', '=', visitId).where('action', 'like', 'phone.%').orderBy('id').execute();
    assert.deepEqual(
      audit.map((a) => `${a.actor_kind}:${a.action}${a.action === 'phone.status' ? ':' + JSON.parse(a.detail!).status : ''}`),
      ['staff:phone.dial', 'system:phone.status:initiated', 'system:phone.status:ringing', 'system:phone.status:in-progress', 'staff:phone.hangup', 'system:phone.status:completed'],
    );
    assert.equal(JSON.parse(audit[0]!.detail!).to, '…4477');
    // …and called back, signed with the account's auth token, in order.
    const mine = await waitFor('4 status callbacks', () => {
      const got = receiver.received.filter((c) => c.params.CallSid === row.call_sid);
      return got.length === 4 ? got : undefined;
    });
    assert.deepEqual(mine.map((c) => c.params.CallStatus), ['initiated', 'ringing', 'in-progress', 'completed']);
    assert.deepEqual(mine.map((c) => c.params.SequenceNumber), ['0', '1', '2', '3']);
    for (const c of mine) assert.equal(c.signature, twilioSignature(server.authToken, c.url, c.params));
    assert.equal(mine[0]!.params.To, E164);
  });

  test('BYE from the far end: completed, the bridge leg closes', async () => {
    const visitId = await liveVisit();
    const sipp = await trunk.play('answer-remote-bye.xml');
    const call = (await provider.post(calls(visitId), { to: NUMBER })).body;
    assert.equal(call.role, 'interpreter', 'interpreter by default');
    assert.equal(call.displayName, 'Interpreter');
    await published(call.id, 'in-progress');
    await published(call.id, 'completed');
    await sippOk(sipp);
    const done = await statusOf(visitId, call.id);
    assert.equal(done.status, 'completed');
    assert.equal(done.sipCode, 200);
    assert.ok(done.endedAt);
    await waitFor('bridge closed', () => audio.joins.length > 0 && audio.joins.every((j) => j.closed));
  });

  test('486 Busy Here: busy, never in the room', async () => {
    const visitId = await liveVisit();
    const joinsBefore = audio.joins.length;
    const sipp = await trunk.play('busy.xml');
    const call = (await provider.post(calls(visitId), { to: NUMBER, role: 'family', displayName: 'Marco' })).body;
    await published(call.id, 'busy');
    await sippOk(sipp);
    const done = await statusOf(visitId, call.id);
    assert.equal(done.status, 'busy');
    assert.equal(done.sipCode, 486);
    assert.equal(audio.joins.length, joinsBefore);
    // Digits and hang-up on an ended call.
    assert.equal((await provider.post(`${calls(visitId)}/${call.id}/digits`, { digits: '1' })).status, 409);
    assert.equal((await provider.post(`${calls(visitId)}/${call.id}/hangup`)).body.status, 'busy');
  });

  test('IVR digits after answer and keypad digits: validated, sent as RFC 4733 events', async () => {
    const visitId = await liveVisit();
    const media = dgram.createSocket('udp4');
    await new Promise<void>((r) => media.bind(0, '127.0.0.1', () => r()));
    const eventsSeen: Array<{ ts: number; event: number }> = [];
    media.on('message', (msg) => {
      const p = parseRtp(msg);
      const e = p && p.payloadType === 96 ? parseTelephoneEvent(p.payload) : null;
      if (p && e && !eventsSeen.some((x) => x.ts === p.timestamp)) eventsSeen.push({ ts: p.timestamp, event: e.event });
    });
    try {
      const sipp = await trunk.play('dtmf.xml', { keys: { dtmf_port: media.address().port } });
      // Bad IVR digits are refused before anything is dialed.
      for (const digits of ['12x', 'w'.repeat(33), '1 2']) {
        const bad = await provider.post(calls(visitId), { to: NUMBER, digits });
        assert.equal(bad.status, 400, `${digits}: ${bad.text}`);
        assert.equal(bad.body.error.code, 'bad_digits');
      }
      const call = (await provider.post(calls(visitId), { to: NUMBER, digits: 'w9' })).body;
      await published(call.id, 'in-progress');
      await waitFor('IVR digit 9', () => eventsSeen.length >= 1, 5000);
      for (const digits of ['', 'A', '12x', '#'.repeat(33)]) {
        const bad = await provider.post(`${calls(visitId)}/${call.id}/digits`, { digits });
        assert.equal(bad.status, 400, `${JSON.stringify(digits)}: ${bad.text}`);
      }
      for (const d of ['1', '*', '#']) assert.equal((await provider.post(`${calls(visitId)}/${call.id}/digits`, { digits: d })).status, 200);
      await waitFor('keypad digits', () => eventsSeen.length >= 4, 5000);
      assert.deepEqual(eventsSeen.map((e) => e.event), [9, 1, 10, 11]);
      const digitsAudit = await server.tv.database.db.selectFrom('audit_log').select('detail').where('subject_id', '=', visitId).where('action', '=', 'phone.digits').execute();
      assert.equal(digitsAudit.length, 3);
      for (const a of digitsAudit) assert.deepEqual(Object.keys(JSON.parse(a.detail!)).sort(), ['callId', 'count'], 'the audit counts digits, never stores them');
      await provider.post(`${calls(visitId)}/${call.id}/hangup`);
      await sippOk(sipp);
    } finally {
      media.close();
    }
  });

  test('only the visit’s provider may dial, list, hang up or press digits', async () => {
    const visitId = await liveVisit();
    const body = { to: NUMBER };
    const fake = 'pc_' + '0'.repeat(32);
    for (const [who, client, code] of [
      ['front desk', desk, 403],
      ['admin', admin, 403],
      ['another provider', otherProvider, 404],
      ['a provider of another clinic', otherClinicProvider, 404],
    ] as const) {
      assert.equal((await client.post(calls(visitId), body)).status, code, `${who} dials`);
      assert.equal((await client.get(calls(visitId))).status, code, `${who} lists`);
      assert.equal((await client.post(`${calls(visitId)}/${fake}/hangup`)).status, code, `${who} hangs up`);
      assert.equal((await client.post(`${calls(visitId)}/${fake}/digits`, { digits: '1' })).status, code, `${who} presses digits`);
    }
    const anonymous = await fetch(`${server.url}${calls(visitId)}`);
    assert.equal(anonymous.status, 401);
    assert.equal((await provider.post(`${calls(visitId)}/${fake}/hangup`)).status, 404, 'unknown call');
    // Not before the visit has started, with a real number only.
    const notStarted = await book(desk, providerId, { copayCents: 0 });
    const early = await provider.post(calls(notStarted.id), body);
    assert.equal(early.status, 409);
    assert.equal(early.body.error.code, 'not_admitted');
    const bad = await provider.post(calls(visitId), { to: '12' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'bad_phone');
    assert.equal((await provider.post(calls(visitId), { to: NUMBER, role: 'pilot' })).status, 400);
  });

  test('ending the visit hangs up its calls; no calls after the end', async () => {
    const visitId = await liveVisit();
    const sipp = await trunk.play('answer-local-bye.xml');
    const call = (await provider.post(calls(visitId), { to: NUMBER })).body;
    await published(call.id, 'in-progress');
    assert.equal((await provider.post(`/api/appointments/${visitId}/end`)).status, 200);
    await published(call.id, 'completed');
    await sippOk(sipp);
    const audit = await server.tv.database.db.selectFrom('audit_log').select(['actor_kind', 'detail']).where('subject_id', '=', visitId).where('action', '=', 'phone.hangup').execute();
    assert.deepEqual(audit.map((a) => [a.actor_kind, JSON.parse(a.detail!).reason]), [['system', 'visit-ended']]);
    const after = await provider.post(calls(visitId), { to: NUMBER });
    assert.equal(after.status, 409);
    assert.equal(after.body.error.code, 'visit_ended');
  });

  test('numbers never appear in full in list responses, live events, the audit log or the logs', async () => {
    const visitId = await liveVisit();
    const sipp = await trunk.play('busy.xml');
    const call = (await provider.post(calls(visitId), { to: NUMBER })).body;
    await published(call.id, 'busy');
    await sippOk(sipp);
    const list = await provider.get(calls(visitId));
    assert.equal(list.body.enabled, true);
    assert.ok(list.body.calls.length === 1 && list.body.calls[0].numberLast4 === '4477');
    const audit = JSON.stringify(await server.tv.database.db.selectFrom('audit_log').selectAll().execute());
    const texts = { list: list.text, events: JSON.stringify(events.messages), audit, logs: logs.join('') };
    assert.ok(texts.logs.includes('…4477'), 'the logs name the number by its last four digits');
    for (const [where, text] of Object.entries(texts)) {
      for (const digits of [E164, ...FULL_DIGITS]) assert.ok(!text.includes(digits), `${where} contains ${digits}`);
    }
  });
});

describe('phone legs without a SIP trunk [sqlite]', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer('sqlite');
  });
  after(async () => {
    await server?.stop();
  });

  test('dialing answers 503 phone_not_configured; the list says phones are off', async () => {
    const demo = server.tv.clinic.demo!;
    const provider = await staffClient(server, demo.provider.email, demo.provider.password);
    const v = await book(provider, demo.provider.id, { startsAt: new Date(server.clock.now() + 5 * 60_000).toISOString(), copayCents: 0 });
    assert.equal((await provider.post(`/api/appointments/${v.id}/admit`)).status, 200);
    const res = await provider.post(`/api/appointments/${v.id}/phone-calls`, { to: NUMBER });
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, { error: { code: 'phone_not_configured', message: 'Dialing out needs a SIP trunk (SIP_TRUNK_HOST)' } });
    assert.deepEqual((await provider.get(`/api/appointments/${v.id}/phone-calls`)).body, { enabled: false, calls: [] });
    assert.equal(server.tv.telephony, null);
  });
});
