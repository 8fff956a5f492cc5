// The seed's low-end phone setting: a 640x480 publisher with maxVideoBitrate 500 kbps never
// sends more than that, measured at the server second by second (within one frame of windowing
// error), while the other side decodes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/server.js';
import { startBrowserFixture, type BrowserFixture } from '../helpers/browser.js';

let fx: BrowserFixture;
before(async () => {
  fx = await startBrowserFixture();
});
after(async () => fx?.close());

test('a 640x480 publisher with maxVideoBitrate 500000 stays under it', async () => {
  const server = fx.server;
  const join = (identity: string, extra: Record<string, unknown>) => fx.join(identity, { name: 'phone-room', audio: true, preferredVideoCodecs: ['VP8'], ...extra });
  await join('phone', { video: { width: 640, height: 480, frameRate: 24 }, maxVideoBitrate: 500_000 });
  const desk = await join('desk', { video: { width: 640, height: 360, frameRate: 24 } });
  await waitFor('desk decodes the phone', async () => {
    const m = (await desk.evaluate(() => (window as any).tv.media())) as Record<string, { video: { frames: number; width: number } | null }>;
    return (m.phone?.video?.frames ?? 0) > 20 ? m : undefined;
  }, 30_000);
  const phoneTrack = () => {
    const room = server.tv.signaling.mediaStats()[0]!;
    const phoneSid = [...(server.tv.signaling as unknown as { sessions: Map<string, { identity: string; participantSid: string }> }).sessions.values()].find((s) => s.identity === 'phone')!.participantSid;
    return room.tracks.find((t) => t.kind === 'video' && t.publisher === phoneSid)!;
  };
  const rates: number[] = [];
  let last = phoneTrack().layerBytes.reduce((a, b) => a + b, 0);
  let lastAt = Date.now();
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const bytes = phoneTrack().layerBytes.reduce((a, b) => a + b, 0);
    const now = Date.now();
    rates.push(((bytes - last) * 8) / ((now - lastAt) / 1000));
    last = bytes;
    lastAt = now;
  }
  const max = Math.max(...rates);
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  const shown = rates.map((r) => Math.round(r / 1000)).join(', ');
  assert.ok(max > 50_000, `the phone is really sending (${Math.round(max)} bit/s)`);
  assert.ok(mean <= 500_000, `on average under 500 kbps of video payload: ${shown} kbps`);
  // A one-second window cut at packet arrival can hold one frame more than its share
  // (500 kbps / 24 fps ≈ 21 kbit, about 4 %): that much, and no more, is measurement.
  assert.ok(max <= 500_000 * 1.05, `no second over 500 kbps beyond one frame of windowing: ${shown} kbps`);
});
