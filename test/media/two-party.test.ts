import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import twilio from 'twilio';
import type { Browser, BrowserContext } from 'playwright-core';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';
import { launchChromium, openAppPage, PAGE_HELPERS, startAppOrigin } from '../helpers/browser.js';

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let app: { url: string; close(): Promise<void> };

function token(identity: string, room?: string): string {
  const t = new twilio.jwt.AccessToken(server.accountSid, server.apiKey, server.apiSecret, { identity });
  t.addGrant(new twilio.jwt.AccessToken.VideoGrant(room ? { room } : {}));
  return t.toJwt();
}

before(async () => {
  server = await startServer('sqlite');
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

test('two participants see and decode each other', async () => {
  const wsServer = server.url.replace('http', 'ws') + '/signaling';
  const pages = [await openAppPage(context, app.url), await openAppPage(context, app.url)];
  for (const p of pages) await p.evaluate(PAGE_HELPERS);
  const options = { wsServer, insights: false, name: 'visit-1', audio: true, video: { height: 720, frameRate: 24, width: 1280 }, preferredVideoCodecs: ['VP8'], logLevel: 'debug' };
  const a = await pages[0]!.evaluate(([t, o]) => (window as any).tv.connect(t, o), [token('provider-1'), options] as const);
  assert.match(a.sid, /^RM/);
  const b = await pages[1]!.evaluate(([t, o]) => (window as any).tv.connect(t, o), [token('patient-1'), options] as const);
  assert.equal(b.sid, a.sid);
  await new Promise((r) => setTimeout(r, 6000));
  for (const p of pages) console.log(JSON.stringify(await p.evaluate(async () => ({ events: (window as any).tv.events, inbound: await (window as any).tv.inbound(), frames: await (window as any).tv.framesDecoded() }))));
  for (const [page, other] of [[pages[0]!, 'patient-1'], [pages[1]!, 'provider-1']] as const) {
    await waitFor(`${other} video decoded`, async () => {
      const f = await page.evaluate(() => (window as any).tv.framesDecoded());
      return f[other] && f[other].frames > 10 && f[other].width > 0 ? f : undefined;
    }, 20_000);
  }
});
