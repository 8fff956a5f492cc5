// Media-signaling channels with the real SDK: the speaker is named by dominantSpeakerChanged,
// and every participant gets network quality levels for itself and the others.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import twilio from 'twilio';
import type { Browser } from 'playwright-core';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';
import { writeVoiceWav } from '../helpers/wav.js';
import { launchChromium, openAppPage, PAGE_HELPERS, startAppOrigin } from '../helpers/browser.js';


let server: TestServer;
let app: { url: string; close(): Promise<void> };
let speakerBrowser: Browser;
let silentBrowser: Browser;
let dir: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-audio-'));
  writeVoiceWav(path.join(dir, 'voice.wav'), 10, true);
  writeVoiceWav(path.join(dir, 'silence.wav'), 10, false);
  server = await startServer('sqlite');
  app = await startAppOrigin();
  speakerBrowser = await launchChromium([`--use-file-for-fake-audio-capture=${path.join(dir, 'voice.wav')}`]);
  silentBrowser = await launchChromium([`--use-file-for-fake-audio-capture=${path.join(dir, 'silence.wav')}`]);
});
after(async () => {
  await speakerBrowser?.close();
  await silentBrowser?.close();
  await app?.close();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('dominantSpeakerChanged names the one who speaks; network quality levels arrive for self and others', async () => {
  const wsServer = server.url.replace('http', 'ws') + '/signaling';
  const options = {
    name: 'speaker-room',
    wsServer,
    insights: false,
    audio: true,
    video: { width: 320, height: 180, frameRate: 15 },
    preferredVideoCodecs: [{ codec: 'VP8', simulcast: true }],
    bandwidthProfile: { video: { mode: 'collaboration', dominantSpeakerPriority: 'high' } },
    dominantSpeaker: true,
    networkQuality: { local: 1, remote: 1 },
  };
  const join = async (browser: Browser, identity: string) => {
    const t = new twilio.jwt.AccessToken(server.accountSid, server.apiKey, server.apiSecret, { identity });
    t.addGrant(new twilio.jwt.AccessToken.VideoGrant({}));
    const page = await openAppPage(await browser.newContext(), app.url);
    await page.evaluate(PAGE_HELPERS);
    await page.evaluate(([tok, o]) => (window as any).tv.connect(tok, o), [t.toJwt(), options] as const);
    return page;
  };
  const listener1 = await join(silentBrowser, 'listener-1');
  const listener2 = await join(silentBrowser, 'listener-2');
  const speaker = await join(speakerBrowser, 'speaker');
  const joinedAt = Date.now();
  for (const page of [listener1, listener2]) {
    await waitFor('dominantSpeakerChanged to the speaker', async () => {
      const ev = (await page.evaluate(() => (window as any).tv.events)) as { type: string; identity: string | null }[];
      return ev.some((e) => e.type === 'dominantSpeakerChanged' && e.identity === 'speaker');
    }, 15_000).catch(async (err: Error) => {
      // What the server decided and forwarded, and what the page saw, for the failure message.
      const events = (await page.evaluate(() => (window as any).tv.events)) as { type: string }[];
      const rooms = server.tv.signaling.mediaStats().map((r) => ({ tracks: r.tracks.filter((t) => t.kind === 'audio').map((t) => ({ publisher: t.publisher, packets: t.layerPackets, forwarders: t.forwarders.map((f) => f.forwarded) })) }));
      // The detector's view (activity per audio track, its choice) and each session's channels.
      const internals = server.tv.signaling as any;
      const detector = [...internals.liveRooms.values()].map(({ live }: any) => ({ dominant: live.sfu.dominantSpeaker, activity: [...live.sfu.speakers.tracks.values()].map((a: any) => ({ p: a.publisherSid, short: +a.short.toFixed(2), medium: +a.medium.toFixed(2) })) }));
      const channels = [...internals.sessions.values()].map((x: any) => ({ identity: x.identity, channels: x.msp ? [...x.msp.channels].map(([n, c]: [string, any]) => `${n}:${c.readyState}`) : null }));
      throw new Error(`${err.message}: page events ${JSON.stringify(events.map((e) => e.type))}; server ${JSON.stringify(rooms)}; detector ${JSON.stringify(detector)}; channels ${JSON.stringify(channels)}`);
    });
  }
  const took = Date.now() - joinedAt;
  const ev = (await listener1.evaluate(() => (window as any).tv.events)) as { type: string; identity: string | null }[];
  assert.ok(!ev.some((e) => e.type === 'dominantSpeakerChanged' && e.identity !== 'speaker'), 'nobody silent was ever named');
  assert.ok(took < 15_000, `named within ${took} ms of the speaker joining`);

  for (const page of [listener1, listener2, speaker]) {
    const q = await waitFor('network quality levels', async () => {
      const r = (await page.evaluate(() => (window as any).tv.quality())) as { local: number | null; remotes: Record<string, number | null> };
      return r.local !== null && Object.values(r.remotes).length === 2 && Object.values(r.remotes).every((l) => l !== null) ? r : undefined;
    }, 20_000);
    assert.ok(q.local! >= 1 && q.local! <= 5, `local level ${q.local}`);
    for (const level of Object.values(q.remotes)) assert.ok(level! >= 0 && level! <= 5);
  }
  assert.equal(((await speaker.evaluate(() => (window as any).tv.quality())) as { dominant: string | null }).dominant, null, 'the speaker is not their own remote dominant speaker');
});
