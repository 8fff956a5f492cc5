// The unmodified twilio-video SDK (two versions) in real Chromium against our signaling and SFU:
// the seed's connect() calls, H.264 rooms, four participants, mute and republish, token and
// room errors, REST completion with callbacks, signaling reconnection, and data tracks.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import twilio from 'twilio';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';
import { launchChromium, openAppPage, PAGE_HELPERS, startAppOrigin } from '../helpers/browser.js';
import { startCallbackReceiver, type CallbackReceiver } from '../helpers/callback-receiver.js';

const SDKS = [
  { version: '2.36.0', dir: 'node_modules/twilio-video' },
  { version: '2.28.1', dir: 'node_modules/twilio-video-2-28' },
];

type Media = Record<string, { video: { width: number; height: number; frames: number; codec: string | null; bytes: number } | null; audio: { bytes: number; packets: number } | null }>;

for (const sdk of SDKS) {
  describe(`twilio-video ${sdk.version}`, () => {
    let server: TestServer;
    let browser: Browser;
    let context: BrowserContext;
    let app: { url: string; close(): Promise<void> };
    let receiver: CallbackReceiver;
    let wsServer: string;
    const pages: Page[] = [];

    before(async () => {
      server = await startServer('sqlite');
      receiver = await startCallbackReceiver(server.authToken);
      app = await startAppOrigin({ sdkDir: sdk.dir });
      browser = await launchChromium();
      context = await browser.newContext();
      wsServer = server.url.replace('http', 'ws') + '/signaling';
    });
    after(async () => {
      await context?.close();
      await browser?.close();
      await app?.close();
      await receiver?.close();
      await server?.stop();
    });

    async function closePages(): Promise<void> {
      for (const p of pages.splice(0)) await p.close().catch(() => undefined);
    }
    afterEach(closePages);

    function token(identity: string, opts: { room?: string; ttl?: number } = {}): string {
      const t = new twilio.jwt.AccessToken(server.accountSid, server.apiKey, server.apiSecret, { identity, ...(opts.ttl ? { ttl: opts.ttl } : {}) });
      t.addGrant(new twilio.jwt.AccessToken.VideoGrant(opts.room ? { room: opts.room } : {}));
      return t.toJwt();
    }

    const desktop = (name: string) => ({
      name,
      audio: true,
      video: { height: 720, frameRate: 24, width: 1280 },
      bandwidthProfile: { video: { mode: 'collaboration', dominantSpeakerPriority: 'high' } },
      dominantSpeaker: true,
      preferredVideoCodecs: [{ codec: 'VP8', simulcast: true }],
      networkQuality: { local: 1, remote: 1 },
    });
    const mobile = (name: string) => ({ ...desktop(name), video: { height: 480, frameRate: 24, width: 640 } });

    async function join(identity: string, options: Record<string, unknown>, tok = token(identity)): Promise<Page> {
      const page = await openAppPage(context, app.url);
      pages.push(page);
      await page.evaluate(PAGE_HELPERS);
      await page.evaluate(([t, o]) => (window as any).tv.connect(t, o), [tok, { ...options, wsServer, insights: false }] as const);
      return page;
    }

    const media = (page: Page): Promise<Media> => page.evaluate(() => (window as any).tv.media());
    const events = (page: Page): Promise<{ type: string; identity?: string; kind?: string; code?: number | null }[]> => page.evaluate(() => (window as any).tv.events);

    /** Waits until `page` decodes `from`'s video (frames rising) and receives its audio. */
    async function decodes(page: Page, from: string, check?: (v: NonNullable<Media[string]['video']>) => boolean): Promise<NonNullable<Media[string]['video']>> {
      const first = await waitFor(`${from}'s video painting`, async () => {
        const m = (await media(page))[from];
        return m?.video && m.video.frames > 0 && m.video.width > 0 && (!check || check(m.video)) ? m.video : undefined;
      }, 30_000).catch(async (err: Error) => {
        // Say what the server forwarded and what the page saw, to tell a stall from a signaling slip.
        const forwarded = server.tv.signaling.mediaStats().map((r) => r.tracks.map((t) => ({ kind: t.kind, in: t.layerPackets, out: t.forwarders.map((f) => [f.layer, f.forwarded, f.dropped]) })));
        throw new Error(`${err.message}; server: ${JSON.stringify(forwarded)}; page: ${JSON.stringify(await media(page))}; events: ${JSON.stringify(await events(page))}`);
      });
      const later = await waitFor(`${from}'s frames rising`, async () => {
        const m = (await media(page))[from];
        return m?.video && m.video.frames > first.frames + 5 ? m : undefined;
      }, 15_000);
      await waitFor(`${from}'s audio`, async () => {
        const m = (await media(page))[from];
        return m?.audio && m.audio.bytes > (later.audio?.bytes ?? 0) ? true : undefined;
      }, 10_000);
      return later.video!;
    }

    test('1. the seed desktop and mobile options: both connect, subscribe and decode each other at the size sent', async () => {
      for (const [label, options] of [['desktop', desktop], ['mobile', mobile]] as const) {
        const room = `seed-${label}-${sdk.version}`;
        const a = await join(`provider-${label}`, options(room));
        const b = await join(`patient-${label}`, options(room));
        for (const [page, other, otherPage] of [[a, `patient-${label}`, b], [b, `provider-${label}`, a]] as const) {
          await decodes(page, other, () => true);
          // The decoded picture is one the publisher is sending (one of its simulcast layers).
          await waitFor(`${label}: decoded size is a size ${other} sends`, async () => {
            const v = (await media(page))[other]!.video!;
            const sent = (await otherPage.evaluate(() => (window as any).tv.sentVideoSizes())) as [number, number][];
            return sent.some(([w, h]) => w === v.width && h === v.height) ? true : undefined;
          }, 20_000);
          const ev = await events(page);
          assert.ok(ev.some((e) => e.type === 'trackSubscribed' && e.identity === other && e.kind === 'audio'));
          assert.ok(ev.some((e) => e.type === 'trackSubscribed' && e.identity === other && e.kind === 'video'));
        }
        assert.ok((await events(a)).some((e) => e.type === 'participantConnected' && e.identity === `patient-${label}`));
        if (label === 'mobile') {
          const v = (await media(a))[`patient-${label}`]!.video!;
          assert.ok(v.width <= 640 && v.height <= 480, `mobile picture is at most 640x480, got ${v.width}x${v.height}`);
        }
        await closePages();
      }
    });

    test('2. a room created by REST with VideoCodecs=H264: both sides decode H.264', async () => {
      const room = await server.client().video.v1.rooms.create({ uniqueName: `h264-${sdk.version}`, videoCodecs: ['H264'] });
      const options = { name: room.uniqueName, audio: true, video: { width: 1280, height: 720, frameRate: 24 }, preferredVideoCodecs: ['H264'] };
      const a = await join('h264-a', options);
      const b = await join('h264-b', options);
      const va = await decodes(a, 'h264-b');
      const vb = await decodes(b, 'h264-a');
      assert.equal(va.codec, 'H264');
      assert.equal(vb.codec, 'H264');
      await closePages();
    });

    test('3. four participants in one group room each decode the three others', async () => {
      const room = `four-${sdk.version}`;
      const names = ['p1', 'p2', 'p3', 'p4'];
      const options = { name: room, audio: true, video: { width: 640, height: 360, frameRate: 15 }, preferredVideoCodecs: ['VP8'] };
      const joined: Page[] = [];
      for (const n of names) joined.push(await join(n, options));
      for (const [i, page] of joined.entries()) {
        for (const other of names.filter((_, j) => j !== i)) await decodes(page, other);
      }
      await closePages();
    });

    test('4. mute/unmute reaches the other side; camera unpublished then published again is unsubscribed, subscribed and decoded', async () => {
      const room = `mute-${sdk.version}`;
      const options = { name: room, audio: true, video: { width: 640, height: 360, frameRate: 15 }, preferredVideoCodecs: ['VP8'] };
      const a = await join('mute-a', options);
      const b = await join('mute-b', options);
      await decodes(b, 'mute-a');
      await a.evaluate(() => (window as any).tv.setVideoEnabled(false));
      await waitFor('trackDisabled', async () => (await events(b)).some((e) => e.type === 'trackDisabled' && e.identity === 'mute-a' && e.kind === 'video'));
      await a.evaluate(() => (window as any).tv.setVideoEnabled(true));
      await waitFor('trackEnabled', async () => (await events(b)).some((e) => e.type === 'trackEnabled' && e.identity === 'mute-a' && e.kind === 'video'));

      await a.evaluate(() => (window as any).tv.unpublishVideo());
      await waitFor('trackUnsubscribed', async () => (await events(b)).some((e) => e.type === 'trackUnsubscribed' && e.identity === 'mute-a' && e.kind === 'video'));
      const subscribedBefore = (await events(b)).filter((e) => e.type === 'trackSubscribed' && e.kind === 'video').length;
      await a.evaluate(() => (window as any).tv.publishVideo({ width: 640, height: 360, frameRate: 15 }));
      await waitFor('trackSubscribed again', async () => (await events(b)).filter((e) => e.type === 'trackSubscribed' && e.kind === 'video').length > subscribedBefore, 15_000);
      await decodes(b, 'mute-a');
      await closePages();
    });

    test('5. wrong room, expired token, duplicate identity (53205) and a full room (53105)', async () => {
      const a = await join('owner', { name: `room-a-${sdk.version}`, audio: false, video: false }, token('owner', { room: `room-a-${sdk.version}` }));
      void a;
      const page = await openAppPage(context, app.url);
      pages.push(page);
      await page.evaluate(PAGE_HELPERS);
      const wrongRoom = await page.evaluate(([t, o]) => (window as any).tv.connectError(t, o), [token('guest', { room: `room-a-${sdk.version}` }), { name: `room-b-${sdk.version}`, wsServer, insights: false, audio: false, video: false }] as const);
      assert.equal(wrongRoom.code, 20106, JSON.stringify(wrongRoom));
      server.clock.advance(2 * 3600_000);
      const expired = await page.evaluate(([t, o]) => (window as any).tv.connectError(t, o), [token('late', { ttl: 3600 }), { name: `room-a-${sdk.version}`, wsServer, insights: false, audio: false, video: false }] as const);
      server.clock.advance(-2 * 3600_000);
      assert.equal(expired.code, 20104, JSON.stringify(expired));

      const dupRoom = `dup-${sdk.version}`;
      const first = await join('same-person', { name: dupRoom, audio: false, video: false });
      await join('other-person', { name: dupRoom, audio: false, video: false });
      await join('same-person', { name: dupRoom, audio: false, video: false });
      await waitFor('the older connection is disconnected with 53205', async () => (await events(first)).some((e) => e.type === 'disconnected' && e.code === 53205));

      const full = await server.client().video.v1.rooms.create({ uniqueName: `full-${sdk.version}`, maxParticipants: 4 });
      for (const n of ['f1', 'f2', 'f3', 'f4']) await join(n, { name: full.uniqueName, audio: false, video: false });
      const fifth = await page.evaluate(([t, o]) => (window as any).tv.connectError(t, o), [token('f5'), { name: full.uniqueName, wsServer, insights: false, audio: false, video: false }] as const);
      assert.equal(fifth.code, 53105, JSON.stringify(fifth));
      await closePages();
    });

    test('6. completing the room by REST disconnects both clients with 53118; callbacks arrive in order and validate', async () => {
      const room = await server.client().video.v1.rooms.create({ uniqueName: `complete-${sdk.version}`, statusCallback: receiver.url });
      const options = { name: room.uniqueName, audio: true, video: { width: 640, height: 360, frameRate: 15 }, preferredVideoCodecs: ['VP8'] };
      const a = await join('c-a', options);
      const b = await join('c-b', options);
      await decodes(a, 'c-b');
      await server.client().video.v1.rooms(room.sid).update({ status: 'completed' });
      for (const p of [a, b]) await waitFor('53118', async () => (await events(p)).some((e) => e.type === 'disconnected' && e.code === 53118));
      await waitFor('room-ended callback', () => receiver.received.some((c) => c.params.RoomSid === room.sid && c.params.StatusCallbackEvent === 'room-ended'), 10_000);
      const got = receiver.received.filter((c) => c.params.RoomSid === room.sid);
      assert.ok(got.every((c) => c.signatureValid));
      assert.deepEqual(got.map((c) => Number(c.params.SequenceNumber)), got.map((_, i) => i));
      const names = got.map((c) => c.params.StatusCallbackEvent);
      assert.equal(names[0], 'room-created');
      assert.equal(names.filter((n) => n === 'participant-connected').length, 2);
      assert.equal(names.filter((n) => n === 'track-added').length, 4);
      assert.equal(names.filter((n) => n === 'participant-disconnected').length, 2);
      assert.equal(names.at(-1), 'room-ended');
      assert.ok(names.indexOf('track-added') > names.indexOf('participant-connected'));
      await closePages();
    });

    test('7. the signaling socket is cut mid-call: reconnecting, reconnected, and video keeps decoding', async () => {
      const options = { name: `reconnect-${sdk.version}`, audio: true, video: { width: 640, height: 360, frameRate: 15 }, preferredVideoCodecs: ['VP8'] };
      const a = await join('r-a', options);
      const b = await join('r-b', options);
      await decodes(a, 'r-b');
      assert.ok(server.tv.signaling.dropSockets() >= 2);
      for (const p of [a, b]) {
        await waitFor('reconnecting', async () => (await events(p)).some((e) => e.type === 'reconnecting'));
        await waitFor('reconnected', async () => (await events(p)).some((e) => e.type === 'reconnected'), 20_000);
      }
      const before = (await media(a))['r-b']!.video!.frames;
      await waitFor('frames still rising', async () => (await media(a))['r-b']!.video!.frames > before + 10);
      assert.ok(!(await events(a)).some((e) => e.type === 'disconnected'));
      await closePages();
    });

    test('7b. a dead media path recovers by ICE restart and video decodes again', async () => {
      const options = { name: `ice-restart-${sdk.version}`, audio: true, video: { width: 640, height: 360, frameRate: 15 }, preferredVideoCodecs: ['VP8'] };
      const a = await join('i-a', options);
      await join('i-b', options);
      await decodes(a, 'i-b');
      const roomSid = (await server.client().video.v1.rooms(options.name).fetch()).sid;
      assert.equal(server.tv.signaling.breakMediaPaths(roomSid), 2);
      await waitFor('ICE restarts', () => server.tv.signaling.iceRestarts(roomSid) >= 2, 60_000);
      const before = (await media(a))['i-b']!.video!.frames;
      await waitFor('frames rising after the restart', async () => (await media(a))['i-b']!.video!.frames > before + 10, 20_000);
    });

    test('9. subscribe rules set by REST take effect live: video excluded, then included again', async () => {
      const options = { name: `rules-${sdk.version}`, audio: true, video: { width: 320, height: 180, frameRate: 15 }, preferredVideoCodecs: ['VP8'] };
      await join('rules-a', options);
      const b = await join('rules-b', options);
      await decodes(b, 'rules-a');
      const participant = b.evaluate(() => (window as any).tv.room.localParticipant.sid) as Promise<string>;
      const rules = server.client().video.v1.rooms(options.name).participants(await participant).subscribeRules;
      await rules.update({ rules: [{ type: 'include', all: true }, { type: 'exclude', kind: 'video' }] });
      await waitFor('video unsubscribed', async () => (await events(b)).some((e) => e.type === 'trackUnsubscribed' && e.kind === 'video'), 15_000);
      assert.ok(!(await events(b)).some((e) => e.type === 'trackUnsubscribed' && e.kind === 'audio'), 'audio stays');
      const subscribed = await server.client().video.v1.rooms(options.name).participants(await participant).subscribedTracks.list();
      assert.deepEqual(subscribed.map((t) => t.kind), ['audio']);
      await rules.update({ rules: [{ type: 'include', all: true }] });
      await waitFor('video subscribed again', async () => (await events(b)).filter((e) => e.type === 'trackSubscribed' && e.kind === 'video').length >= 2, 15_000);
      await decodes(b, 'rules-a');
    });

    test('8. data track messages sent by one participant arrive at the other', async () => {
      const options = { name: `data-${sdk.version}`, audio: false, video: false };
      const a = await join('d-a', options);
      const b = await join('d-b', options);
      await a.evaluate(() => (window as any).tv.publishData());
      await waitFor('data track subscribed', async () => (await events(b)).some((e) => e.type === 'trackSubscribed' && e.kind === 'data'), 15_000);
      await waitFor('a message arrives', async () => {
        await a.evaluate(() => (window as any).tv.sendData('hello from a'));
        const got = (await b.evaluate(() => (window as any).tv.dataReceived)) as { from: string; data: string }[];
        return got.some((m) => m.from === 'd-a' && m.data === 'hello from a');
      }, 15_000);
      await closePages();
    });
  });
}
