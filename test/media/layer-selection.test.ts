// Per-subscriber simulcast layer choice with the real twilio-video in Chromium, three people in a
// room with the seed's 3+ options (simulcast, collaboration mode, dominantSpeakerPriority 'high',
// dominant speaker and network quality on):
//  1. a subscriber that renders a track small gets the lowest-bitrate layer, one that renders it
//     large the highest;
//  2. under a tight maxSubscriptionBitrate the low-priority track is switched off (switchedOff on
//     the client) and the other kept; raising its priority swaps them;
//  3. the dominant speaker's video gets the higher layer.
//
// Measured on Chromium 156: with the seed's `preferredVideoCodecs: [{codec: 'VP8', simulcast:
// true}]` (twilio-video munges an SSRC SIM group into the offer) Chromium sends all three layers
// at the capture size and the same bitrate, so a layer choice changes nothing the subscriber can
// see; only adaptive simulcast (`preferredVideoCodecs: 'auto'`, which needs our publisher_hints
// channel) gives 1/4, 1/2 and full size layers. Tests 1 and 3 therefore run the 3+ options with
// 'auto' and check the picture the subscriber decodes; 1 also runs the seed's exact options and
// checks the server's choice.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import twilio from 'twilio';
import type { Browser, Page } from 'playwright-core';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';
import { writeVoiceWav } from '../helpers/wav.js';
import { launchChromium, openAppPage, PAGE_HELPERS, startAppOrigin } from '../helpers/browser.js';


const SEED_3PLUS = {
  audio: true,
  video: { width: 1280, height: 720, frameRate: 24 },
  preferredVideoCodecs: [{ codec: 'VP8', simulcast: true }] as unknown,
  bandwidthProfile: { video: { mode: 'collaboration', dominantSpeakerPriority: 'high' } } as Record<string, Record<string, unknown>>,
  dominantSpeaker: true,
  networkQuality: { local: 1, remote: 1 },
};
const ADAPTIVE = { ...SEED_3PLUS, preferredVideoCodecs: 'auto' };

type Video = { sid: string; width: number; height: number; frames: number; bytes: number };
type ServerTrack = ReturnType<TestServer['tv']['signaling']['mediaStats']>[number]['tracks'][number];

let server: TestServer;
let app: { url: string; close(): Promise<void> };
let speakerBrowser: Browser;
let silentBrowser: Browser;
let dir: string;
const pages: Page[] = [];

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-layers-'));
  writeVoiceWav(path.join(dir, 'voice.wav'), 10, true);
  writeVoiceWav(path.join(dir, 'silence.wav'), 10, false);
  server = await startServer('sqlite');
  app = await startAppOrigin();
  speakerBrowser = await launchChromium([`--use-file-for-fake-audio-capture=${path.join(dir, 'voice.wav')}`]);
  silentBrowser = await launchChromium([`--use-file-for-fake-audio-capture=${path.join(dir, 'silence.wav')}`]);
});
after(async () => {
  for (const p of pages.splice(0)) await p.close().catch(() => undefined);
  await speakerBrowser?.close();
  await silentBrowser?.close();
  await app?.close();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function closePages(): Promise<void> {
  for (const p of pages.splice(0)) {
    await p.evaluate(() => (window as any).tv.disconnect()).catch(() => undefined);
    await p.context().close().catch(() => undefined);
  }
}

async function join(identity: string, room: string, options: Record<string, unknown>, browser = silentBrowser): Promise<Page> {
  const t = new twilio.jwt.AccessToken(server.accountSid, server.apiKey, server.apiSecret, { identity });
  t.addGrant(new twilio.jwt.AccessToken.VideoGrant({}));
  const page = await openAppPage(await browser.newContext({ viewport: { width: 1400, height: 900 } }), app.url);
  pages.push(page);
  await page.evaluate(PAGE_HELPERS);
  const wsServer = server.url.replace('http', 'ws') + '/signaling';
  await page.evaluate(([tok, o]) => (window as any).tv.connect(tok, o), [t.toJwt(), { ...options, name: room, wsServer, insights: false }] as const);
  return page;
}

function sidOf(identity: string): string {
  // The newest session of that identity (an earlier test's may still be winding down).
  const sessions = (server.tv.signaling as unknown as { sessions: Map<string, { identity: string; participantSid: string; isPresent: boolean }> }).sessions;
  const s = [...sessions.values()].reverse().find((x) => x.identity === identity && x.isPresent);
  assert.ok(s, `${identity} is connected`);
  return s.participantSid;
}

function roomStats(roomSid: string) {
  const r = server.tv.signaling.mediaStats().find((x) => x.roomSid === roomSid);
  assert.ok(r, 'the room is live');
  return r;
}

/** The video track `publisher` publishes, as the server sees it, and the forwarder to `subscriber`. */
function videoTo(roomSid: string, publisher: string, subscriber: string): { track: ServerTrack; f: ServerTrack['forwarders'][number] | undefined } {
  const track = roomStats(roomSid).tracks.find((t) => t.kind === 'video' && t.publisher === sidOf(publisher));
  assert.ok(track, `${publisher}'s video is published`);
  return { track, f: track.forwarders.find((x) => x.subscriber === sidOf(subscriber)) };
}

const media = async (page: Page): Promise<Record<string, { video: Video | null; audio: { bytes: number } | null }>> => page.evaluate(() => (window as any).tv.media());
const events = async (page: Page): Promise<{ type: string; identity?: string; kind?: string }[]> => page.evaluate(() => (window as any).tv.events);
const size = (page: Page, identity: string, w: number, h: number) => page.evaluate(([i, ww, hh]) => (window as any).tv.sizeVideo(i, ww, hh), [identity, w, h] as const);
const roomSidOf = (page: Page): Promise<string> => page.evaluate(() => (window as any).tv.room.sid);

/** Waits until `page` decodes `from`'s video with frames still rising, and returns it. */
async function decoding(page: Page, from: string, check: (v: Video) => boolean = () => true, timeout = 30_000): Promise<Video> {
  let last = -1;
  return waitFor(`${from}'s video decoding`, async () => {
    const v = (await media(page))[from]?.video;
    if (!v || v.frames === 0) return undefined;
    const rising = last >= 0 && v.frames > last;
    last = v.frames;
    return rising && check(v) ? v : undefined;
  }, timeout);
}

/** Bytes per second of `from`'s video received by `page`, over `ms`. */
async function receiveRate(page: Page, from: string, ms = 3000): Promise<number> {
  const a = (await media(page))[from]!.video!.bytes;
  await new Promise((r) => setTimeout(r, ms));
  const b = (await media(page))[from]!.video!.bytes;
  return ((b - a) * 8 * 1000) / ms;
}

for (const [label, options] of [['adaptive simulcast (preferredVideoCodecs auto)', ADAPTIVE], ['the seed options exactly', SEED_3PLUS]] as const) {
  test(`1. render size: small gets the lowest-bitrate layer, large the highest — ${label}`, async () => {
    const room = `render-${label.length}`;
    const manual = { ...options, bandwidthProfile: { video: { ...options.bandwidthProfile.video, contentPreferencesMode: 'manual', clientTrackSwitchOffControl: 'manual' } } };
    await join('presenter', room, manual);
    // The two subscribers publish audio only (less encoding on a 2-core machine).
    const small = await join('small', room, { ...manual, video: false });
    const large = await join('large', room, { ...manual, video: false });
    const roomSid = await roomSidOf(small);
    await decoding(small, 'presenter');
    await decoding(large, 'presenter');
    // Render hints through the SDK's public API (contentPreferencesMode 'manual').
    const prefer = (page: Page, w: number, h: number) =>
      page.evaluate(([ww, hh]) => {
        for (const p of (window as any).tv.room.participants.values()) {
          for (const pub of p.videoTracks.values()) if (pub.track && p.identity === 'presenter') pub.track.setContentPreferences({ renderDimensions: { width: ww, height: hh } });
        }
      }, [w, h] as const);
    await prefer(small, 160, 90);
    await prefer(large, 1280, 720);

    // The server: the small renderer's forwarder settles on the lowest-bitrate layer, the large one's on the highest.
    // A hint sent while the SDK's render-hints channel is still settling can be lost on a busy
    // machine; the app re-states its preferences now and then (a slightly different size, so the
    // SDK sends it again), as an app resizing its tiles would.
    let nudges = 0;
    let lastNudge = Date.now();
    const settled = await waitFor('both forwarders on their layers', async () => {
      if (Date.now() - lastNudge > 4000) {
        lastNudge = Date.now();
        nudges++;
        await prefer(small, 160, 90 + (nudges % 2) * 6);
        await prefer(large, 1280, 720 - (nudges % 2) * 8);
      }
      const s = videoTo(roomSid, 'presenter', 'small');
      const l = videoTo(roomSid, 'presenter', 'large');
      const order = s.track.layerOrder;
      if (order.length < 2 || !s.f || !l.f) return undefined;
      const smallHinted = s.f.renderHeight > 0 && s.f.renderHeight <= 96;
      const largeHinted = l.f.renderHeight >= 712;
      return smallHinted && largeHinted && s.f.layer === order[0] && l.f.layer === order[order.length - 1] ? { order, track: s.track, small: s.f, large: l.f } : undefined;
    }, 40_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(roomStats(roomSid).tracks.filter((t) => t.kind === 'video'))}`);
    });
    const t = settled.track;
    if (options === ADAPTIVE) assert.ok(t.layerHeights[settled.small.layer]! < t.layerHeights[settled.large.layer]!, `layers of different sizes rank by size: ${JSON.stringify(t.layerHeights)}`);
    else assert.ok(t.layerBitrates[settled.small.layer]! <= t.layerBitrates[settled.large.layer]! * 1.25, `equal-size layers rank by measured bitrate: ${JSON.stringify(t.layerBitrates)}`);

    if (options === ADAPTIVE) {
      // Real layers: the subscribers decode different pictures at different bitrates.
      // (The top layer is 1280x720 unless Chromium's CPU adaptation scaled the publisher down.)
      const vs = await decoding(small, 'presenter', (v) => v.height <= 180, 20_000);
      const vl = await decoding(large, 'presenter', (v) => v.height >= 2 * vs.height, 20_000).catch(async (err: Error) => {
        throw new Error(`${err.message}: large sees ${JSON.stringify((await media(large)).presenter)}, small ${JSON.stringify(vs)}; server ${JSON.stringify(videoTo(roomSid, 'presenter', 'large'))}`);
      });
      assert.ok(vl.height >= 360, `small decodes ${vs.width}x${vs.height}, large ${vl.width}x${vl.height}`);
      const [rs, rl] = await Promise.all([receiveRate(small, 'presenter'), receiveRate(large, 'presenter')]);
      assert.ok(rs < rl, `the small renderer receives fewer bits: ${Math.round(rs / 1000)} vs ${Math.round(rl / 1000)} kbit/s`);
      // Publisher hints: the presenter still encodes the layers somebody receives.
      const hinted = videoTo(roomSid, 'presenter', 'small').track.hintedOff;
      assert.equal(hinted[settled.small.layer], false);
      assert.equal(hinted[settled.large.layer], false);
    }
    await closePages();
  });
}

test('2. tight maxSubscriptionBitrate: the low-priority track is switched off first, and priorities decide which', async () => {
  const room = 'switch-off-room';
  await join('first', room, SEED_3PLUS);
  await join('second', room, SEED_3PLUS);
  // 300 kbit/s: room for audio and at most one video layer.
  const viewer = await join('viewer', room, { ...SEED_3PLUS, video: false, bandwidthProfile: { video: { ...SEED_3PLUS.bandwidthProfile.video, maxSubscriptionBitrate: 300_000 } } });
  const roomSid = await roomSidOf(viewer);
  await waitFor('the viewer subscribed to both videos', async () => {
    const m = await media(viewer);
    return m.first?.video && m.second?.video ? true : undefined;
  }, 30_000);
  for (const who of ['first', 'second']) await size(viewer, who, 320, 180);
  const setPriority = (identity: string, priority: string) =>
    viewer.evaluate(([i, p]) => {
      for (const part of (window as any).tv.room.participants.values()) if (part.identity === i) for (const pub of part.videoTracks.values()) pub.track?.setPriority(p);
    }, [identity, priority] as const);
  const lastSwitch = async (identity: string) => (await events(viewer)).filter((e) => (e.type === 'switchedOff' || e.type === 'switchedOn') && e.identity === identity && e.kind === 'video').at(-1)?.type;

  await setPriority('first', 'low');
  await waitFor('the low-priority track is switched off (server and client)', async () => {
    const off = videoTo(roomSid, 'first', 'viewer').f;
    return off?.offForBandwidth && (await lastSwitch('first')) === 'switchedOff' ? true : undefined;
  }, 30_000).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(roomStats(roomSid))}; events ${JSON.stringify(await events(viewer))}`);
  });
  const kept = await decoding(viewer, 'second', () => true, 20_000).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(roomStats(roomSid))}; events ${JSON.stringify(await events(viewer))}; page ${JSON.stringify(await media(viewer))}`);
  });
  assert.ok(kept.frames > 0, 'the standard-priority track keeps playing');
  assert.notEqual(await lastSwitch('second'), 'switchedOff', 'the other track is on');
  const before = videoTo(roomSid, 'first', 'viewer').f!.forwarded;
  await new Promise((r) => setTimeout(r, 1000));
  assert.ok(videoTo(roomSid, 'first', 'viewer').f!.forwarded - before < 5, 'nothing forwarded for the switched-off track');
  const sub = roomStats(roomSid).subscribers.find((s) => s.subscriber === sidOf('viewer'))!;
  assert.equal(sub.maxSubscriptionBitrate, 300_000);
  assert.ok(sub.budget! <= 300_000);
  // Audio is not switched off.
  const audioBefore = (await media(viewer)).first!.audio!.bytes;
  await waitFor('audio from the switched-off participant keeps flowing', async () => ((await media(viewer)).first!.audio!.bytes > audioBefore ? true : undefined), 10_000);

  // The viewer raises the first track above the second: they trade places.
  await setPriority('first', 'high');
  await waitFor('the high-priority track is switched back on and the other off', async () => ((await lastSwitch('first')) === 'switchedOn' && (await lastSwitch('second')) === 'switchedOff' ? true : undefined), 30_000);
  await decoding(viewer, 'first', () => true, 20_000).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(videoTo(roomSid, 'first', 'viewer'))}; events ${JSON.stringify(await events(viewer))}`);
  });
  await closePages();
});

test('3. the dominant speaker\'s video gets the higher layer', async () => {
  const room = 'speaker-layers';
  // 640x360 cameras: adaptive simulcast sends two layers, 320x180 and 640x360 (less encoding).
  const small = { ...ADAPTIVE, video: { width: 640, height: 360, frameRate: 24 } };
  const speaker = await join('speaker', room, small, speakerBrowser);
  const quiet = await join('quiet', room, small);
  // Each shows the other at 640x360, so both publishers keep both layers on and measured.
  await decoding(speaker, 'quiet');
  await decoding(quiet, 'speaker');
  await size(speaker, 'quiet', 640, 360);
  await size(quiet, 'speaker', 640, 360);
  const roomSid = await roomSidOf(quiet);
  const layers = (who: string) => videoTo(roomSid, who, who === 'speaker' ? 'quiet' : 'speaker').track;
  // What the allocation charges per ranked layer (bitrate, or its recent peak if higher).
  const rate = (t: ServerTrack, rank: number) => t.layerCosts[rank]!;
  const ok = (t: ServerTrack) => t.layerOrder.length === 2 && t.layerOrder.every((l) => t.layerBitrates[l]! > 20_000 && !t.hintedOff[l]) && rate(t, 1) > 1.5 * rate(t, 0);
  // Both encoders ramped up and steady (top layers within 20 % over 2 s), then the budget is set
  // between "one higher and one lower layer" and "two higher layers" (plus audio).
  let previous: number[] = [];
  const { s, q } = await waitFor('two layers of each publisher measured and steady', async () => {
    await new Promise((r) => setTimeout(r, 2000));
    const sp = layers('speaker');
    const qu = layers('quiet');
    const now = ok(sp) && ok(qu) ? [rate(sp, 1), rate(qu, 1)] : [];
    const steady = now.length === 2 && previous.length === 2 && now.every((r, i) => Math.abs(r - previous[i]!) < 0.2 * previous[i]!);
    previous = now;
    return steady ? { s: sp, q: qu } : undefined;
  }, 60_000).catch((err: Error) => {
    const brief = (t: ServerTrack) => ({ order: t.layerOrder, kbps: t.layerBitrates.map((b) => Math.round(b / 1000)), off: t.hintedOff, h: t.layerHeights });
    throw new Error(`${err.message}: speaker ${JSON.stringify(brief(layers('speaker')))}, quiet ${JSON.stringify(brief(layers('quiet')))}; subscribers ${JSON.stringify(roomStats(roomSid).subscribers)}`);
  });
  const oneUp = 1.08 * (rate(s, 1) + rate(q, 0));
  const bothUp = 1.08 * (rate(s, 1) + rate(q, 1));
  const max = Math.round(80_000 + (oneUp + bothUp) / 2);

  const viewer = await join('speaker-viewer', room, { ...small, video: false, bandwidthProfile: { video: { ...ADAPTIVE.bandwidthProfile.video, maxSubscriptionBitrate: max } } });
  // Both shown at 640x360 (once their video elements exist: an unsized element takes the size of
  // the picture it gets, and the SDK's 'auto' render hints would then keep asking for that).
  await waitFor('the viewer subscribed to both videos', async () => {
    const m = await media(viewer);
    return m.speaker?.video && m.quiet?.video ? true : undefined;
  }, 30_000);
  await size(viewer, 'speaker', 640, 360);
  await size(viewer, 'quiet', 640, 360);
  await waitFor('the viewer is told who speaks', async () => (await events(viewer)).some((e) => e.type === 'dominantSpeakerChanged' && e.identity === 'speaker'), 20_000);
  const settled = await waitFor('the speaker on the higher layer, the quiet one on the lower', () => {
    const sp = videoTo(roomSid, 'speaker', 'speaker-viewer');
    const qu = videoTo(roomSid, 'quiet', 'speaker-viewer');
    if (!sp.f || !qu.f) return undefined;
    return sp.f.layer === sp.track.layerOrder[1] && qu.f.layer === qu.track.layerOrder[0] ? { sp, qu } : undefined;
  }, 30_000).catch((err: Error) => {
    throw new Error(`${err.message} (max ${max}): ${JSON.stringify(roomStats(roomSid))}`);
  });
  assert.equal(settled.sp.f!.switchedOff, false);
  assert.equal(settled.qu.f!.switchedOff, false);
  const vq = await decoding(viewer, 'quiet', (v) => v.height <= 180, 20_000);
  const vs = await decoding(viewer, 'speaker', (v) => v.height >= 2 * vq.height, 20_000);
  assert.ok(vs.height > vq.height, `the speaker is decoded larger: ${vs.width}x${vs.height} vs ${vq.width}x${vq.height}`);
  await closePages();
});
