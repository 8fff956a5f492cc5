// The Video v1 REST API through the real `twilio` client: rooms, participants, tracks, rules,
// paging, room lifecycle and timeouts. Runs on SQLite and PostgreSQL.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { eachDatabase, startServer, type TestServer } from '../helpers/server.js';

async function restError(p: Promise<unknown>): Promise<{ status: number; code: number; message: string; moreInfo: string }> {
  const err = await p.then(
    () => assert.fail('request succeeded; expected an error'),
    (e: unknown) => e as { status: number; code: number; message: string; moreInfo: string },
  );
  return err;
}

eachDatabase('Video v1 REST API', (db) => {
  let server: TestServer;
  before(async () => {
    server = await startServer(db);
  });
  after(async () => server.stop());

  test('create a room with every parameter, fetch it by SID and by unique name', async () => {
    const client = server.client();
    const room = await client.video.v1.rooms.create({
      uniqueName: 'visit-h264',
      type: 'group',
      maxParticipants: 4,
      videoCodecs: ['H264'],
      statusCallback: 'http://127.0.0.1:9/status',
      statusCallbackMethod: 'POST',
      emptyRoomTimeout: 10,
      unusedRoomTimeout: 3,
      maxParticipantDuration: 3600,
      recordParticipantsOnConnect: false,
      audioOnly: false,
      mediaRegion: 'us1',
    });
    assert.match(room.sid, /^RM[0-9a-f]{32}$/);
    assert.equal(room.uniqueName, 'visit-h264');
    assert.equal(room.status, 'in-progress');
    assert.equal(room.type, 'group');
    assert.equal(room.maxParticipants, 4);
    assert.deepEqual(room.videoCodecs, ['H264']);
    assert.equal(room.emptyRoomTimeout, 10);
    assert.equal(room.unusedRoomTimeout, 3);
    assert.equal(room.maxParticipantDuration, 3600);
    assert.equal(room.mediaRegion, 'us1');
    assert.equal(room.accountSid, server.accountSid);
    assert.ok(room.dateCreated instanceof Date && !Number.isNaN(room.dateCreated.getTime()));
    assert.equal(room.url, `${server.url}/v1/Rooms/${room.sid}`);

    const bySid = await client.video.v1.rooms(room.sid).fetch();
    assert.equal(bySid.uniqueName, 'visit-h264');
    const byName = await client.video.v1.rooms('visit-h264').fetch();
    assert.equal(byName.sid, room.sid);
  });

  test('defaults: a room without parameters is a VP8 group room named by its SID', async () => {
    const room = await server.client().video.v1.rooms.create();
    assert.equal(room.uniqueName, room.sid);
    assert.equal(room.type, 'group');
    assert.deepEqual(room.videoCodecs, ['VP8']);
    assert.equal(room.maxParticipants, 50);
  });

  test('unique names are unique among in-progress rooms; a completed room frees its name', async () => {
    const client = server.client();
    const first = await client.video.v1.rooms.create({ uniqueName: 'reused-name' });
    const dup = await restError(client.video.v1.rooms.create({ uniqueName: 'reused-name' }));
    assert.equal(dup.status, 400);
    assert.equal(dup.code, 53113);
    const done = await client.video.v1.rooms(first.sid).update({ status: 'completed' });
    assert.equal(done.status, 'completed');
    assert.ok(done.endTime instanceof Date);
    assert.equal(typeof done.duration, 'number');
    const second = await client.video.v1.rooms.create({ uniqueName: 'reused-name' });
    assert.notEqual(second.sid, first.sid);
    assert.equal((await client.video.v1.rooms('reused-name').fetch()).sid, second.sid);
    // A completed room is still reachable by SID.
    assert.equal((await client.video.v1.rooms(first.sid).fetch()).status, 'completed');
    // Completing again is harmless.
    assert.equal((await client.video.v1.rooms(first.sid).update({ status: 'completed' })).status, 'completed');
  });

  test('list rooms over several pages with absolute next_page_url, and with filters', async () => {
    const client = server.client();
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push((await client.video.v1.rooms.create({ uniqueName: `page-${db}-${i}` })).sid);
    const page1 = await client.video.v1.rooms.page({ pageSize: 3, status: 'in-progress' });
    assert.equal(page1.instances.length, 3);
    assert.ok(page1.nextPageUrl?.startsWith(`${server.url}/v1/Rooms?`), `next_page_url is absolute: ${page1.nextPageUrl}`);
    const all = await client.video.v1.rooms.list({ status: 'in-progress', pageSize: 3 });
    const sids = all.map((r) => r.sid);
    assert.equal(new Set(sids).size, sids.length, 'no room twice across pages');
    for (const sid of made) assert.ok(sids.includes(sid), `room ${sid} listed`);
    // Newest first.
    const times = all.map((r) => r.dateCreated.getTime());
    assert.deepEqual([...times].sort((a, b) => b - a), times);

    const byName = await client.video.v1.rooms.list({ uniqueName: `page-${db}-3` });
    assert.deepEqual(byName.map((r) => r.sid), [made[3]]);
    await client.video.v1.rooms(made[0]!).update({ status: 'completed' });
    const completed = await client.video.v1.rooms.list({ status: 'completed' });
    assert.ok(completed.some((r) => r.sid === made[0]));
    assert.ok(completed.every((r) => r.status === 'completed'));
    const future = await client.video.v1.rooms.list({ dateCreatedAfter: new Date(Date.now() + 3600_000) });
    assert.equal(future.length, 0);
    const past = await client.video.v1.rooms.list({ dateCreatedBefore: new Date(Date.now() + 3600_000), pageSize: 1000 });
    assert.ok(past.length >= 7);
    // Page numbers without a token also work.
    const p2 = await client.video.v1.rooms.page({ pageSize: 2, pageNumber: 1 });
    assert.equal(p2.instances.length, 2);
  });

  test('participants: list, filter, fetch by SID or identity, kick; tracks and subscribe rules', async () => {
    const client = server.client();
    const room = await client.video.v1.rooms.create({ uniqueName: 'participants-room', maxParticipants: 3 });
    const { rooms } = server.tv;
    const { participant: alice } = await rooms.connectParticipant(room.sid, 'alice');
    const { participant: bob } = await rooms.connectParticipant(room.sid, 'bob');
    const cam = await rooms.publishTrack(alice.sid, { name: 'camera', kind: 'video' });
    const mic = await rooms.publishTrack(alice.sid, { name: 'mic', kind: 'audio' });
    await rooms.subscribeTrack(bob.sid, cam.sid);
    await rooms.subscribeTrack(bob.sid, mic.sid);
    await rooms.setTrackEnabled(mic.sid, false);

    const list = await client.video.v1.rooms(room.sid).participants.list({ status: 'connected' });
    assert.deepEqual(list.map((p) => p.identity).sort(), ['alice', 'bob']);
    const fetched = await client.video.v1.rooms(room.sid).participants('alice').fetch();
    assert.equal(fetched.sid, alice.sid);
    assert.equal(fetched.status, 'connected');
    assert.equal((await client.video.v1.rooms('participants-room').participants(bob.sid).fetch()).identity, 'bob');
    const onlyBob = await client.video.v1.rooms(room.sid).participants.list({ identity: 'bob' });
    assert.deepEqual(onlyBob.map((p) => p.sid), [bob.sid]);

    const published = await client.video.v1.rooms(room.sid).participants(alice.sid).publishedTracks.list();
    assert.deepEqual(published.map((t) => [t.name, t.kind, t.enabled]).sort(), [['camera', 'video', true], ['mic', 'audio', false]]);
    assert.equal((await client.video.v1.rooms(room.sid).participants(alice.sid).publishedTracks(cam.sid).fetch()).name, 'camera');
    const subscribed = await client.video.v1.rooms(room.sid).participants(bob.sid).subscribedTracks.list();
    assert.deepEqual(subscribed.map((t) => t.publisherSid), [alice.sid, alice.sid]);
    assert.equal((await client.video.v1.rooms(room.sid).participants(bob.sid).subscribedTracks(mic.sid).fetch()).enabled, false);

    const rules = await client.video.v1.rooms(room.sid).participants(bob.sid).subscribeRules.fetch();
    assert.deepEqual(JSON.parse(JSON.stringify(rules.rules)), [{ type: 'include', all: true }]);
    const updated = await client.video.v1.rooms(room.sid).participants(bob.sid).subscribeRules.update({
      rules: [{ type: 'include', kind: 'audio' }, { type: 'exclude', publisher: 'alice' }],
    });
    assert.equal(updated.rules.length, 2);
    const again = await client.video.v1.rooms(room.sid).participants(bob.sid).subscribeRules.fetch();
    assert.deepEqual(JSON.parse(JSON.stringify(again.rules)), [{ type: 'include', kind: 'audio' }, { type: 'exclude', publisher: 'alice' }]);

    const rec = await client.video.v1.rooms(room.sid).recordingRules.update({ rules: [{ type: 'include', kind: 'audio' }] });
    assert.equal(rec.rules.length, 1);
    assert.equal((await client.video.v1.rooms(room.sid).recordingRules.fetch()).rules.length, 1);

    const kicked = await client.video.v1.rooms(room.sid).participants(bob.sid).update({ status: 'disconnected' });
    assert.equal(kicked.status, 'disconnected');
    assert.ok(kicked.endTime instanceof Date);
    assert.equal(typeof kicked.duration, 'number');
    assert.equal((await client.video.v1.rooms(room.sid).participants(bob.sid).subscribedTracks.list()).length, 0);
    const gone = await client.video.v1.rooms(room.sid).participants.list({ status: 'disconnected' });
    assert.deepEqual(gone.map((p) => p.identity), ['bob']);
  });

  test('MaxParticipants is enforced at join (53105); go rooms hold two; duplicate identity replaces the older one', async () => {
    const { rooms } = server.tv;
    const room = await server.client().video.v1.rooms.create({ uniqueName: 'small', maxParticipants: 2 });
    await rooms.connectParticipant(room.sid, 'a');
    const { participant: b1 } = await rooms.connectParticipant(room.sid, 'b');
    await assert.rejects(rooms.connectParticipant(room.sid, 'c'), (e: { code: number }) => e.code === 53105);
    const { participant: b2, replaced } = await rooms.connectParticipant(room.sid, 'b');
    assert.equal(replaced?.sid, b1.sid);
    assert.notEqual(b2.sid, b1.sid);
    const go = await server.client().video.v1.rooms.create({ type: 'go' });
    assert.equal(go.maxParticipants, 2);
    const err = await restError(server.client().video.v1.rooms.create({ type: 'go', maxParticipants: 3 }));
    assert.equal(err.code, 53107);
    await rooms.connectParticipant(go.sid, 'x');
    await rooms.connectParticipant(go.sid, 'y');
    await assert.rejects(rooms.connectParticipant(go.sid, 'z'), (e: { code: number }) => e.code === 53105);
  });

  test('completing a room disconnects everyone and refuses new participants (53118)', async () => {
    const { rooms } = server.tv;
    const room = await server.client().video.v1.rooms.create({ uniqueName: 'to-complete' });
    const { participant } = await rooms.connectParticipant(room.sid, 'p1');
    const removed: unknown[] = [];
    const off = server.tv.bus.subscribe(`room:${room.sid}`, (m) => removed.push(m));
    await server.client().video.v1.rooms(room.sid).update({ status: 'completed' });
    await new Promise((r) => setTimeout(r, 20));
    off();
    assert.deepEqual(removed, [
      { type: 'participant-removed', participantSid: participant.sid, code: 53118 },
      { type: 'room-completed', roomSid: room.sid },
    ]);
    const p = await server.client().video.v1.rooms(room.sid).participants(participant.sid).fetch();
    assert.equal(p.status, 'disconnected');
    await assert.rejects(rooms.connectParticipant(room.sid, 'late'), (e: { code: number }) => e.code === 53118);
  });

  test('empty and unused rooms complete after their timeouts; ad-hoc rooms take the account defaults', async () => {
    const { rooms } = server.tv;
    const client = server.client();
    const unused = await client.video.v1.rooms.create({ uniqueName: 'unused', unusedRoomTimeout: 2 });
    const empty = await client.video.v1.rooms.create({ uniqueName: 'empty', emptyRoomTimeout: 3, unusedRoomTimeout: 1 });
    const { participant } = await rooms.connectParticipant(empty.sid, 'visitor');
    await rooms.disconnectParticipant(participant.sid);
    server.clock.advance(61_000);
    await rooms.sweep();
    assert.equal((await client.video.v1.rooms(unused.sid).fetch()).status, 'in-progress');
    assert.equal((await client.video.v1.rooms(empty.sid).fetch()).status, 'in-progress', 'a joined room waits for EmptyRoomTimeout, not UnusedRoomTimeout');
    server.clock.advance(60_000);
    await rooms.sweep();
    assert.equal((await client.video.v1.rooms(unused.sid).fetch()).status, 'completed');
    assert.equal((await client.video.v1.rooms(empty.sid).fetch()).status, 'in-progress');
    server.clock.advance(61_000);
    await rooms.sweep();
    assert.equal((await client.video.v1.rooms(empty.sid).fetch()).status, 'completed');

    const adHoc = await rooms.getOrCreateAdHocRoom(server.accountSid, 'ad-hoc-1');
    assert.equal(adHoc.created, true);
    assert.equal(adHoc.room.type, 'group');
    assert.deepEqual(JSON.parse(adHoc.room.video_codecs), ['VP8']);
    const again = await rooms.getOrCreateAdHocRoom(server.accountSid, 'ad-hoc-1');
    assert.equal(again.created, false);
    assert.equal(again.room.sid, adHoc.room.sid);
  });

  test('participants past MaxParticipantDuration are removed', async () => {
    const { rooms } = server.tv;
    const room = await server.client().video.v1.rooms.create({ maxParticipantDuration: 600 });
    const { participant } = await rooms.connectParticipant(room.sid, 'long-stayer');
    server.clock.advance(601_000);
    await rooms.sweep();
    const p = await server.client().video.v1.rooms(room.sid).participants(participant.sid).fetch();
    assert.equal(p.status, 'disconnected');
  });
});
