// Simulcast layer-switch latency (issue 4): how long after a subscriber's budget drops the SFU
// forwards the first packet of the lower layer, and how long after it recovers the higher layer
// is back.
//
//   npx tsx bench/layer-switch.bench.ts [--rounds=10]
//
// One Televisit server in this process (SQLite, LOG_LEVEL=silent, 127.0.0.1), one Chromium with
// two pages on twilio-video 2.36: a publisher (1280x720@24 camera, Chromium's fake device, the 3+
// options with adaptive simulcast, preferredVideoCodecs 'auto', so its layers are 320x180,
// 640x360 and 1280x720) and a subscriber that renders it at 1280x720 (contentPreferencesMode
// 'manual'). Each round:
//   down: the subscriber's budget is cut (its profile's maxSubscriptionBitrate set to audio plus
//         1.5 × the lowest layer, server-side) at t0; the drop is answered at the next allocation
//         tick (≤ 250 ms), a keyframe of the lowest layer is requested and the forwarder switches
//         at it. Measured: t0 → the forwarder's first packet of the new layer (Forwarder stats
//         `lastSwitchAt`), split into t0 → decision and decision → first packet (`lastSwitchMs`).
//   up:   the cap is lifted at t1; the higher layer must hold for 1 s before the switch
//         (UPGRADE_HOLD_MS), then the same keyframe path.
// A budget cut stands in for a bandwidth drop: it measures the SFU's reaction (allocation, keyframe
// request, switch), not the estimator's time to notice congestion.
import { performance } from 'node:perf_hooks';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../test/helpers/server.js';
import { ADAPTIVE_3PLUS_MANUAL, connectInPage, launchChromium, startAppOrigin } from '../test/helpers/browser.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = path.join(ROOT, 'bench/results/layer-switch.json');
const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const ROUNDS = Number(args.get('rounds') ?? 10);
const WATCHDOG_MS = 240_000;

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const watchdog = setTimeout(() => {
  console.error('watchdog: giving up');
  process.exit(3);
}, WATCHDOG_MS);

const server = await startServer('sqlite');
const app = await startAppOrigin();
const browser = await launchChromium();
try {
  const options = { ...ADAPTIVE_3PLUS_MANUAL, name: 'layer-switch' };
  const join = (identity: string, extra: Record<string, unknown>) => connectInPage(browser, server, app.url, identity, { ...options, ...extra });
  await join('publisher', {});
  const viewer = await join('viewer', { video: false });
  const live = () => [...(server.tv.signaling as unknown as { liveRooms: Map<string, { live: { sfu: import('../src/media/sfu-room.js').SfuRoom; sessions: Map<string, { identity: string; participantSid: string }> } }> }).liveRooms.values()][0]!.live;
  const viewerSid = [...live().sessions.values()].find((s) => s.identity === 'viewer')!.participantSid;
  const video = () => live().sfu.stats().find((t) => t.kind === 'video')!;
  const forwarder = () => video().forwarders.find((f) => f.subscriber === viewerSid)!;
  await viewer.evaluate(() => {
    for (const p of (window as any).tv.room.participants.values()) for (const pub of p.videoTracks.values()) pub.track?.setContentPreferences({ renderDimensions: { width: 1280, height: 720 } });
  });
  await waitFor('the viewer on the top layer of three', () => {
    const t = video();
    const f = t.forwarders.find((x) => x.subscriber === viewerSid);
    return t.layerOrder.length === 3 && f && f.layer === t.layerOrder[2];
  }, 60_000);
  await sleep(3000);
  const t = video();
  const low = t.layerBitrates[t.layerOrder[0]!]!;
  const cap = Math.round(80_000 + 1.5 * low);
  console.log(`layers (kbit/s, lowest first): ${t.layerOrder.map((l) => Math.round(t.layerBitrates[l]! / 1000)).join(' / ')}; heights ${t.layerOrder.map((l) => t.layerHeights[l]).join(' / ')}; budget cut to ${Math.round(cap / 1000)} kbit/s`);
  const profile = () => (live().sfu as unknown as { peers: Map<string, { profile: import('../src/media/layer-allocator.js').SubscriberProfile }> }).peers.get(viewerSid)!.profile;
  const base = { ...profile() };

  const down: { total: number; decision: number; keyframe: number }[] = [];
  const up: { total: number; decision: number; keyframe: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [dir, list, max, target] of [
      ['down', down, cap, () => video().layerOrder[0]],
      ['up', up, null, () => video().layerOrder[video().layerOrder.length - 1]],
    ] as const) {
      const before = forwarder().switches;
      const t0 = Date.now();
      const p0 = performance.now();
      live().sfu.setSubscriberProfile(viewerSid, { ...base, maxSubscriptionBitrate: max });
      const f = await waitFor(`${dir}: the switch`, () => {
        const x = forwarder();
        return x.switches > before && x.layer === target() ? x : undefined;
      }, 15_000);
      void p0;
      const total = f.lastSwitchAt - t0;
      list.push({ total, decision: total - f.lastSwitchMs, keyframe: f.lastSwitchMs });
      console.log(`round ${round + 1} ${dir.padEnd(4)}: ${total} ms (decision ${total - f.lastSwitchMs} ms, keyframe ${f.lastSwitchMs} ms)`);
      await sleep(2500);
    }
  }
  const summary = (xs: { total: number; decision: number; keyframe: number }[]) => ({
    p50: percentile(xs.map((x) => x.total), 50),
    p90: percentile(xs.map((x) => x.total), 90),
    max: Math.max(...xs.map((x) => x.total)),
    decisionP50: percentile(xs.map((x) => x.decision), 50),
    keyframeP50: percentile(xs.map((x) => x.keyframe), 50),
    keyframeP90: percentile(xs.map((x) => x.keyframe), 90),
  });
  const result = { date: new Date().toISOString(), rounds: ROUNDS, layersKbps: t.layerOrder.map((l) => Math.round(t.layerBitrates[l]! / 1000)), capKbps: Math.round(cap / 1000), down: summary(down), up: summary(up), samples: { down, up } };
  console.log('\n| switch | p50 | p90 | max | decision p50 | keyframe p50 / p90 |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [name, s] of [['down (budget cut)', result.down], ['up (cap lifted)', result.up]] as const) {
    console.log(`| ${name} | ${s.p50} ms | ${s.p90} ms | ${s.max} ms | ${s.decisionP50} ms | ${s.keyframeP50} / ${s.keyframeP90} ms |`);
  }
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, JSON.stringify(result, null, 2));
} finally {
  clearTimeout(watchdog);
  await browser.close().catch(() => undefined);
  await app.close().catch(() => undefined);
  await server.stop().catch(() => undefined);
}
