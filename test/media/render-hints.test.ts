// The subscriber's render hints reach the SFU: a hidden video is switched off (switchedOff, and
// nothing is forwarded) and switched back on when shown (switchedOn, decoding again).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import twilio from 'twilio';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';
import { launchChromium, openAppPage, PAGE_HELPERS, startAppOrigin } from '../helpers/browser.js';

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let app: { url: string; close(): Promise<void> };

before(async () => {
  server = await startServer('sqlite');
  app = await startAppOrigin();
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
});
after(async () => {
  await context?.close();
  await browser?.close();
  await app?.close();
  await server?.stop();
});

test('render hints reach the server; hiding the video switches it off and showing it switches it back on', async () => {
  const wsServer = server.url.replace('http', 'ws') + '/signaling';
  const options = {
    name: 'render-room',
    wsServer,
    insights: false,
    audio: false,
    video: { width: 1280, height: 720, frameRate: 24 },
    preferredVideoCodecs: [{ codec: 'VP8', simulcast: true }],
    bandwidthProfile: { video: { mode: 'collaboration', dominantSpeakerPriority: 'high' } },
  };
  const join = async (identity: string): Promise<Page> => {
    const t = new twilio.jwt.AccessToken(server.accountSid, server.apiKey, server.apiSecret, { identity });
    t.addGrant(new twilio.jwt.AccessToken.VideoGrant({}));
    const page = await openAppPage(context, app.url);
    await page.evaluate(PAGE_HELPERS);
    await page.evaluate(([tok, o]) => (window as any).tv.connect(tok, o), [t.toJwt(), options] as const);
    return page;
  };
  await join('presenter');
  const viewer = await join('viewer');
  const size = async () => ((await viewer.evaluate(() => (window as any).tv.media())) as Record<string, { video: { width: number; height: number; frames: number } | null }>).presenter?.video;
  await waitFor('decoding', async () => ((await size())?.frames ?? 0) > 10, 30_000);
  await viewer.evaluate(() => (window as any).tv.sizeVideo('presenter', 160, 90));
  await waitFor('the render hint reached the server', () => server.tv.signaling.mediaStats()[0]!.tracks.some((t) => t.forwarders.some((f) => f.renderHeight === 90)), 20_000);

  await viewer.evaluate(() => (window as any).tv.sizeVideo('presenter', 0, 0));
  await waitFor('switchedOff', async () => ((await viewer.evaluate(() => (window as any).tv.events)) as { type: string }[]).some((e) => e.type === 'switchedOff'), 20_000);
  // The presenter's video as forwarded to the viewer: the forwarder that is switched off.
  const offTrack = () => server.tv.signaling.mediaStats()[0]!.tracks.find((t) => t.forwarders.some((f) => f.switchedOff))!;
  const forwardedOff = offTrack();
  assert.ok(forwardedOff, 'the server switched the track off for the viewer');
  const before = forwardedOff.forwarders[0]!.forwarded;
  await new Promise((r) => setTimeout(r, 1000));
  const after = server.tv.signaling.mediaStats()[0]!.tracks.find((t) => t.sid === forwardedOff.sid)!.forwarders[0]!.forwarded;
  assert.ok(after - before < 5, `nothing forwarded while switched off (${after - before} packets)`);

  await viewer.evaluate(() => (window as any).tv.sizeVideo('presenter', 640, 360));
  await waitFor('switchedOn', async () => ((await viewer.evaluate(() => (window as any).tv.events)) as { type: string }[]).some((e) => e.type === 'switchedOn'), 20_000);
  const frames = (await size())!.frames;
  await waitFor('decoding again', async () => ((await size())?.frames ?? 0) > frames + 10, 20_000);
});
