// The subscriber's render hints reach the SFU: a hidden video is switched off (switchedOff, and
// nothing is forwarded) and switched back on when shown (switchedOn, decoding again).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/server.js';
import { startBrowserFixture, type BrowserFixture } from '../helpers/browser.js';

let fx: BrowserFixture;
before(async () => {
  fx = await startBrowserFixture({}, { viewport: { width: 1400, height: 900 } });
});
after(async () => fx?.close());

test('render hints reach the server; hiding the video switches it off and showing it switches it back on', async () => {
  const server = fx.server;
  const options = {
    name: 'render-room',
    audio: false,
    video: { width: 1280, height: 720, frameRate: 24 },
    preferredVideoCodecs: [{ codec: 'VP8', simulcast: true }],
    bandwidthProfile: { video: { mode: 'collaboration', dominantSpeakerPriority: 'high' } },
  };
  const join = (identity: string) => fx.join(identity, options);
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
