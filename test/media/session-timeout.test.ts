// A participant whose browser vanishes (no goodbye) is kept for the session timeout, then
// removed: the others see participantDisconnected and the REST record says disconnected.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import twilio from 'twilio';
import type { Browser, BrowserContext } from 'playwright-core';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';
import { launchChromium, openAppPage, PAGE_HELPERS, startAppOrigin } from '../helpers/browser.js';

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let app: { url: string; close(): Promise<void> };

before(async () => {
  server = await startServer('sqlite', { env: { SIGNALING_SESSION_TIMEOUT_SECONDS: '3' } });
  app = await startAppOrigin();
  browser = await launchChromium();
  context = await browser.newContext();
});
after(async () => {
  await context?.close();
  await browser?.close();
  await app?.close();
  await server?.stop();
});

test('a vanished participant is removed after the session timeout and the others are told', async () => {
  const wsServer = server.url.replace('http', 'ws') + '/signaling';
  const join = async (identity: string) => {
    const t = new twilio.jwt.AccessToken(server.accountSid, server.apiKey, server.apiSecret, { identity });
    t.addGrant(new twilio.jwt.AccessToken.VideoGrant({}));
    const page = await openAppPage(context, app.url);
    await page.evaluate(PAGE_HELPERS);
    const info = await page.evaluate(([tok, o]) => (window as any).tv.connect(tok, o), [t.toJwt(), { name: 'timeout-room', wsServer, insights: false, audio: true, video: false }] as const);
    return { page, info };
  };
  const stayer = await join('stayer');
  const leaver = await join('leaver');
  await waitFor('stayer sees leaver', async () => (await stayer.page.evaluate(() => (window as any).tv.events)).some((e: any) => e.type === 'participantConnected' && e.identity === 'leaver'));
  const closedAt = Date.now();
  await leaver.page.close(); // no disconnect message: the tab just goes away
  await waitFor('participantDisconnected', async () => (await stayer.page.evaluate(() => (window as any).tv.events)).some((e: any) => e.type === 'participantDisconnected' && e.identity === 'leaver'), 20_000);
  const elapsed = Date.now() - closedAt;
  assert.ok(elapsed >= 2500, `kept for the session timeout first (${elapsed} ms)`);
  const p = await server.client().video.v1.rooms('timeout-room').participants(leaver.info.localSid).fetch();
  assert.equal(p.status, 'disconnected');
  await stayer.page.close();
});
