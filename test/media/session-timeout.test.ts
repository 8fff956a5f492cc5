// A participant whose browser vanishes (no goodbye) is kept for the session timeout, then
// removed: the others see participantDisconnected and the REST record says disconnected.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/server.js';
import { startBrowserFixture, type BrowserFixture } from '../helpers/browser.js';

let fx: BrowserFixture;
before(async () => {
  fx = await startBrowserFixture({ env: { SIGNALING_SESSION_TIMEOUT_SECONDS: '3' } });
});
after(async () => fx?.close());

test('a vanished participant is removed after the session timeout and the others are told', async () => {
  const server = fx.server;
  const join = async (identity: string) => {
    const page = await fx.join(identity, { name: 'timeout-room', audio: true, video: false });
    const info = (await page.evaluate(() => ({ localSid: (window as any).tv.room.localParticipant.sid }))) as { localSid: string };
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
