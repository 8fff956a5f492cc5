// Status callbacks: Twilio's events and parameters, in order per room, signed so that the real
// twilio.validateRequest accepts them, retried while the receiver is down, never blocking the
// request that caused them, and kept across a restart. Runs on SQLite and PostgreSQL.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { eachDatabase, startServer, waitFor, type TestServer } from '../helpers/server.js';
import { startCallbackReceiver, type CallbackReceiver } from '../helpers/callback-receiver.js';

eachDatabase('status callbacks', (db) => {
  let server: TestServer;
  let receiver: CallbackReceiver;
  before(async () => {
    server = await startServer(db);
    receiver = await startCallbackReceiver(server.authToken);
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  const eventsOf = (roomSid: string) => receiver.received.filter((c) => c.params.RoomSid === roomSid);

  test('a whole room lifecycle arrives in order, numbered, signed, with Twilio parameters', async () => {
    const client = server.client();
    const room = await client.video.v1.rooms.create({ uniqueName: 'callbacks-1', statusCallback: receiver.url });
    const { rooms } = server.tv;
    const { participant: a } = await rooms.connectParticipant(room.sid, 'provider-1');
    const { participant: b } = await rooms.connectParticipant(room.sid, 'patient-1');
    const aCam = await rooms.publishTrack(a.sid, { name: 'cam', kind: 'video' });
    const aMic = await rooms.publishTrack(a.sid, { name: 'mic', kind: 'audio' });
    const bCam = await rooms.publishTrack(b.sid, { name: 'cam', kind: 'video' });
    await rooms.publishTrack(b.sid, { name: 'mic', kind: 'audio' });
    await rooms.setTrackEnabled(aMic.sid, false);
    await rooms.setTrackEnabled(aMic.sid, true);
    await rooms.unpublishTrack(bCam.sid);
    await client.video.v1.rooms(room.sid).update({ status: 'completed' });

    const expected = [
      'room-created',
      'participant-connected',
      'participant-connected',
      'track-added',
      'track-added',
      'track-added',
      'track-added',
      'track-disabled',
      'track-enabled',
      'track-removed',
      'track-removed',
      'track-removed',
      'participant-disconnected',
      'track-removed',
      'participant-disconnected',
      'room-ended',
    ];
    await waitFor('all callbacks', () => eventsOf(room.sid).length >= expected.length, 10_000);
    const got = eventsOf(room.sid);
    assert.deepEqual(got.map((c) => c.params.StatusCallbackEvent), expected);
    assert.deepEqual(got.map((c) => Number(c.params.SequenceNumber)), expected.map((_, i) => i));
    for (const c of got) {
      assert.equal(c.signatureValid, true, `signature of ${c.params.StatusCallbackEvent} validates`);
      assert.equal(c.method, 'POST');
      assert.equal(c.params.AccountSid, server.accountSid);
      assert.equal(c.params.RoomName, 'callbacks-1');
      assert.equal(c.params.RoomType, 'group');
      assert.ok(!Number.isNaN(Date.parse(c.params.Timestamp!)));
    }
    const connected = got[1]!.params;
    assert.equal(connected.ParticipantSid, a.sid);
    assert.equal(connected.ParticipantIdentity, 'provider-1');
    assert.equal(connected.ParticipantStatus, 'connected');
    const added = got[3]!.params;
    assert.equal(added.TrackSid, aCam.sid);
    assert.equal(added.TrackKind, 'video');
    assert.equal(added.TrackName, 'cam');
    assert.equal(got[7]!.params.TrackSid, aMic.sid);
    const left = got[12]!.params;
    assert.equal(left.ParticipantStatus, 'disconnected');
    assert.match(left.ParticipantDuration!, /^\d+$/);
    assert.equal(got[15]!.params.RoomStatus, 'completed');
    assert.match(got[15]!.params.RoomDuration!, /^\d+$/);
    assert.equal(got[0]!.params.RoomStatus, 'in-progress');
  });

  test('GET callbacks carry the parameters in the query and validate too', async () => {
    const room = await server.client().video.v1.rooms.create({ statusCallback: `${receiver.url}?clinic=7`, statusCallbackMethod: 'GET' });
    await server.tv.rooms.connectParticipant(room.sid, 'x');
    await waitFor('GET callbacks', () => eventsOf(room.sid).length >= 2);
    const got = eventsOf(room.sid);
    assert.deepEqual(got.map((c) => [c.method, c.params.StatusCallbackEvent, c.signatureValid]), [
      ['GET', 'room-created', true],
      ['GET', 'participant-connected', true],
    ]);
    assert.equal(got[0]!.params.clinic, '7');
  });

  test('a slow receiver does not slow the request that caused the event', async () => {
    receiver.delayMs = 1500;
    try {
      const room = await server.client().video.v1.rooms.create({ statusCallback: receiver.url });
      assert.equal(eventsOf(room.sid).length, 0, 'the REST call returned before the receiver answered');
      await waitFor('slow callback', () => eventsOf(room.sid).length === 1, 5000);
    } finally {
      receiver.delayMs = 0;
    }
  });

  test('a receiver that is down loses nothing: events are retried, in order', async () => {
    receiver.status = 503;
    const room = await server.client().video.v1.rooms.create({ statusCallback: receiver.url });
    await server.tv.rooms.connectParticipant(room.sid, 'one');
    await server.tv.rooms.connectParticipant(room.sid, 'two');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(eventsOf(room.sid).length, 0);
    receiver.status = 200;
    await waitFor('retried callbacks', () => eventsOf(room.sid).length >= 3, 10_000);
    assert.deepEqual(eventsOf(room.sid).map((c) => c.params.StatusCallbackEvent), ['room-created', 'participant-connected', 'participant-connected']);
    assert.deepEqual(eventsOf(room.sid).map((c) => c.params.SequenceNumber), ['0', '1', '2']);
  });

  test('events recorded before a restart are delivered after it, exactly once', async () => {
    const dataDir = (await import('node:fs')).mkdtempSync((await import('node:path')).join((await import('node:os')).tmpdir(), 'tv-restart-'));
    const schema = `t_restart_${Date.now().toString(36)}`;
    const env = { TWILIO_ACCOUNT_SID: server.accountSid, TWILIO_AUTH_TOKEN: server.authToken, TWILIO_API_KEY: server.apiKey, TWILIO_API_SECRET: server.apiSecret };
    const first = await startServer(db, { dataDir, schema, env, keep: true });
    receiver.status = 500;
    const room = await first.client().video.v1.rooms.create({ statusCallback: receiver.url });
    await first.tv.rooms.connectParticipant(room.sid, 'before-restart');
    await first.stop();
    receiver.status = 200;
    const second = await startServer(db, { dataDir, schema, env });
    try {
      await waitFor('callbacks after restart', () => eventsOf(room.sid).length >= 2, 15_000);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(eventsOf(room.sid).map((c) => c.params.StatusCallbackEvent), ['room-created', 'participant-connected']);
      const counts = await second.tv.jobs.counts('video-status-callback');
      assert.equal(counts.pending ?? 0, 0);
      assert.equal(counts.running ?? 0, 0);
    } finally {
      await second.stop();
    }
  });
});
