// Simulcast figures for issue 4 ("Measure"), next to bench/layer-switch.bench.ts:
//
//   npx tsx bench/simulcast.bench.ts [--part=ramp|cpu|all] [--rounds=5] [--steps=0,3,6,9] [--measure=10]
//
// Part "ramp": the time for a fresh publisher to reach 720p on a clean link (issue 4's target:
// 3 s). One Televisit in this process (SQLite, LOG_LEVEL=silent, 127.0.0.1), one Chromium
// (Chromium's fake camera, 1280x720@24). Per round, in a new room: a viewer joins first (no
// camera; for the 3+ options it asks for the video at 1280x720 with setContentPreferences), then
// the publisher connects. t0 = just before the publisher's Twilio.Video.connect(). Both pages
// poll their WebRTC stats every 50 ms: "sent" is the first poll at which the publisher encodes
// 1280x720 frames (an outbound-rtp with frameHeight ≥ 720 and framesEncoded rising), "decoded"
// the first at which the viewer decodes 1280x720. Three option sets: the seed's two-party
// options (VP8, no simulcast, no bandwidth profile), the 3+ options with adaptive simulcast
// (preferredVideoCodecs 'auto') and the seed's 3+ options exactly ({codec: 'VP8', simulcast:
// true}). It also records the encodings each publisher sends (size, bitrate) once settled.
//
// Part "cpu": server CPU per forwarded packet with three simulcast layers. The server is
// bench/sfu/server.ts (a real Televisit in its own process) pinned to core 0; this process, the
// Chromium publisher and the subscribers run on core 1 (as in bench/sfu.bench.ts). The publisher
// sends 1280x720 with adaptive simulcast from the SFU bench's noisy generated camera clip (like a
// real webcam: its layers run at about 0.15 / 0.5 / 2.5 Mbit/s). Subscribers are werift peers
// (bench/sfu/werift-subscriber.ts) that join in threes: one with maxSubscriptionBitrate
// 350 kbit/s (gets the 320x180 layer), one with 1.2 Mbit/s (640x360), one without (1280x720),
// so all three layers stay on and are forwarded. For K = 0, 3, 6, 9 subscribers: settle, then
// measure the server's CPU (process.cpuUsage) and packet counters; CPU µs/s = a + b × packets
// out/s is fitted, b is the marginal cost of a forwarded packet. Windows in which other
// processes used more than 15 % of core 0 are flagged.
//
// Results: tables on stdout and bench/results/simulcast.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import twilio from 'twilio';
import type { Browser, Page } from 'playwright-core';
import { startServer } from '../test/helpers/server.js';
import { launchChromium, openAppPage, PAGE_HELPERS, startAppOrigin } from '../test/helpers/browser.js';
import { MARKER, type ServerReady, type ServerSample } from './sfu/protocol.js';
import { WeriftSubscriber } from './sfu/werift-subscriber.js';
import { launchBrowser } from './sfu/browser.js';
import { coreBusy, fitLine, percentile, readCoreTimes } from './sfu/stats.js';
import { writeNoisyCameraY4m } from './sfu/camera.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = path.join(ROOT, 'bench/results/simulcast.json');
const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const PART = args.get('part') ?? 'all';
const ROUNDS = Number(args.get('rounds') ?? 5);
const STEPS = (args.get('steps') ?? '0,3,6,9').split(',').map(Number);
const MEASURE_MS = 1000 * Number(args.get('measure') ?? 10);
const SETTLE_MS = 6000;
const WATCHDOG_MS = 900_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (...m: unknown[]) => console.error('[simulcast-bench]', ...m);
const watchdog = setTimeout(() => {
  console.error('watchdog: giving up');
  process.exit(3);
}, WATCHDOG_MS);

async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Page-side: adds x-google-start-bitrate to every VP8 fmtp line of remote descriptions. */
const START_BITRATE_MUNGE = (kbps: number) => `
(() => {
  const orig = RTCPeerConnection.prototype.setRemoteDescription;
  RTCPeerConnection.prototype.setRemoteDescription = function (d, ...rest) {
    if (d && d.sdp) {
      const pts = [...d.sdp.matchAll(/a=rtpmap:(\\d+) VP8\\/90000/g)].map((m) => m[1]);
      let sdp = d.sdp;
      for (const pt of pts) sdp = sdp.replace(new RegExp('a=fmtp:' + pt + ' ([^\\r\\n]*)'), (line) => line + ';x-google-start-bitrate=${kbps}');
      for (const pt of pts) if (!new RegExp('a=fmtp:' + pt + ' ').test(sdp)) sdp = sdp.replace(new RegExp('(a=rtpmap:' + pt + ' VP8/90000\\r\\n)'), '$1a=fmtp:' + pt + ' x-google-start-bitrate=${kbps}\\r\\n');
      d = { type: d.type, sdp };
    }
    return orig.call(this, d, ...rest);
  };
})();
`;

/** Keeps the page's peer connections and polls their video stats every 50 ms into window.__ramp. */
const RAMP_INIT = `
(() => {
  const Orig = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = function (...a) { const pc = new Orig(...a); window.__pcs.push(pc); return pc; };
  window.RTCPeerConnection.prototype = Orig.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Orig);
  window.__ramp = { t0: 0, sent720: 0, decoded720: 0, last: {}, timeline: [] };
  setInterval(async () => {
    const r = window.__ramp;
    if (!r.t0) return;
    const second = Math.floor((Date.now() - r.t0) / 1000);
    const log = r.timeline.length <= second && second < 30 ? { s: second, available: 0, sent: [] } : null;
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (log && s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate) log.available = Math.round(s.availableOutgoingBitrate / 1000);
        if (log && s.type === 'outbound-rtp' && s.kind === 'video') log.sent.push((s.frameHeight ?? 0) + 'p' + (s.qualityLimitationReason && s.qualityLimitationReason !== 'none' ? '(' + s.qualityLimitationReason + ')' : ''));
        if (s.kind !== 'video') return;
        const prev = r.last[s.id] ?? 0;
        if (s.type === 'outbound-rtp') {
          r.last[s.id] = s.framesEncoded ?? 0;
          if (!r.sent720 && (s.frameHeight ?? 0) >= 720 && (s.framesEncoded ?? 0) > prev && prev > 0) r.sent720 = Date.now() - r.t0;
        } else if (s.type === 'inbound-rtp') {
          r.last[s.id] = s.framesDecoded ?? 0;
          if (!r.decoded720 && (s.frameHeight ?? 0) >= 720 && (s.framesDecoded ?? 0) > prev && prev > 0) r.decoded720 = Date.now() - r.t0;
        }
      });
    }
    if (log && log.sent.length) r.timeline.push(log);
  }, 50);
})();
`;

const BASE = { audio: true, video: { width: 1280, height: 720, frameRate: 24 } };
const THREE_PLUS = {
  ...BASE,
  bandwidthProfile: { video: { mode: 'collaboration', dominantSpeakerPriority: 'high', contentPreferencesMode: 'manual', clientTrackSwitchOffControl: 'manual' } },
  dominantSpeaker: true,
  networkQuality: { local: 1, remote: 1 },
};
const CONFIGS: [string, Record<string, unknown>][] = [
  ['two-party (VP8, no simulcast)', { ...BASE, preferredVideoCodecs: ['VP8'] }],
  // An experiment, not what the server does: the same, with x-google-start-bitrate=1500 added to
  // the VP8 line of the server's answer in the page (see START_BITRATE_MUNGE).
  ['two-party, answer with x-google-start-bitrate=1500 (experiment)', { ...BASE, preferredVideoCodecs: ['VP8'], __startBitrate: 1500 }],
  ["3+ with adaptive simulcast ('auto')", { ...THREE_PLUS, preferredVideoCodecs: 'auto' }],
  ["3+ seed options ({codec: 'VP8', simulcast: true})", { ...THREE_PLUS, preferredVideoCodecs: [{ codec: 'VP8', simulcast: true }] }],
];

type Encoding = { rid: string | null; width: number; height: number; kbps: number; active: boolean };

async function rampPart(): Promise<Record<string, unknown>> {
  const server = await startServer('sqlite');
  const app = await startAppOrigin();
  const browser = await launchChromium();
  const wsServer = server.url.replace('http', 'ws') + '/signaling';
  const token = (identity: string) => {
    const t = new twilio.jwt.AccessToken(server.accountSid, server.apiKey, server.apiSecret, { identity });
    t.addGrant(new twilio.jwt.AccessToken.VideoGrant({}));
    return t.toJwt();
  };
  const out: Record<string, unknown> = {};
  const timelines: Record<string, unknown> = {};
  try {
    for (const [label, options] of CONFIGS.filter(([l]) => !args.get('only') || l.includes(args.get('only')!))) {
      const rounds: { sent: number; decoded: number }[] = [];
      let failed = 0;
      let encodings: Encoding[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const room = `ramp-${randomBytes(4).toString('hex')}`;
        const viewerCtx = await browser.newContext();
        const publisherCtx = await browser.newContext();
        try {
          const viewer = await openAppPage(viewerCtx, app.url);
          await viewer.evaluate(RAMP_INIT);
          await viewer.evaluate(PAGE_HELPERS);
          await viewer.evaluate(([tok, o]) => (window as any).tv.connect(tok, o), [token('viewer'), { ...options, video: false, name: room, wsServer, insights: false }] as const);
          // The viewer shows the video large (manual content preferences for the 3+ options).
          await viewer.evaluate(() => {
            (window as any).tv.room.on('trackSubscribed', (track: any) => {
              if (track.kind === 'video' && track.setContentPreferences) track.setContentPreferences({ renderDimensions: { width: 1280, height: 720 } });
            });
          });
          // A second viewer shows it as a thumbnail (320x180): with the 3+ options the server then
          // keeps a low layer on too, so the encodings below show what each layer is.
          const thumb = await openAppPage(viewerCtx, app.url);
          await thumb.evaluate(PAGE_HELPERS);
          await thumb.evaluate(([tok, o]) => (window as any).tv.connect(tok, o), [token('thumbnail'), { ...options, video: false, audio: false, name: room, wsServer, insights: false }] as const);
          await thumb.evaluate(() => {
            (window as any).tv.room.on('trackSubscribed', (track: any) => {
              if (track.kind === 'video' && track.setContentPreferences) track.setContentPreferences({ renderDimensions: { width: 320, height: 180 } });
            });
          });
          const publisher = await openAppPage(publisherCtx, app.url);
          await publisher.evaluate(RAMP_INIT);
          if (options.__startBitrate) await publisher.evaluate(START_BITRATE_MUNGE(options.__startBitrate as number));
          await publisher.evaluate(PAGE_HELPERS);
          // One clock for both pages (same browser): t0 just before connect().
          const t0 = await publisher.evaluate(() => Date.now());
          await viewer.evaluate((t) => ((window as any).__ramp.t0 = t), t0);
          await publisher.evaluate(([tok, o, t]) => {
            (window as any).__ramp.t0 = t;
            return (window as any).tv.connect(tok, o);
          }, [token('publisher'), { ...options, __startBitrate: undefined, name: room, wsServer, insights: false }, t0] as const);
          const r = await waitFor(`${label}: 720p sent and decoded`, async () => {
            const [p, v] = await Promise.all([publisher.evaluate(() => (window as any).__ramp.sent720 as number), viewer.evaluate(() => (window as any).__ramp.decoded720 as number)]);
            return p && v ? { sent: p, decoded: v } : undefined;
          }, 40_000, 100).catch(async (err: Error) => {
            const timeline = (await publisher.evaluate(() => (window as any).__ramp.timeline)) as { s: number; available: number; sent: string[] }[];
            log(`${err.message}: publisher ${timeline.map((x) => `${x.s}s ${x.available}: ${x.sent.join('/')}`).join('; ')}; viewer ${JSON.stringify(await viewer.evaluate(() => (window as any).tv.media()))}`);
            return null;
          });
          if (!r) {
            failed++;
            continue;
          }
          rounds.push(r);
          log(`${label} round ${round + 1}: 720p sent after ${r.sent} ms, decoded after ${r.decoded} ms`);
          if (round === 0) {
            const timeline = (await publisher.evaluate(() => (window as any).__ramp.timeline)) as { s: number; available: number; sent: string[] }[];
            log(`${label}, round 1, the publisher second by second (available send kbit/s: encodings): ${timeline.map((x) => `${x.s}s ${x.available}: ${x.sent.join('/')}`).join('; ')}`);
            timelines[label] = timeline;
          }
          if (round === ROUNDS - 1 || encodings.length === 0) {
            // What the publisher sends once settled: every encoding's size and bitrate.
            await sleep(5000);
            encodings = await sentEncodings(publisher);
          }
        } finally {
          await viewerCtx.close().catch(() => undefined);
          await publisherCtx.close().catch(() => undefined);
        }
        await sleep(1000);
      }
      const sent = rounds.map((r) => r.sent);
      const decoded = rounds.map((r) => r.decoded);
      out[label] = { timeline: timelines[label], rounds, failed, load: os.loadavg()[0], sent: { p50: percentile(sent, 50), max: Math.max(...sent) }, decoded: { p50: percentile(decoded, 50), max: Math.max(...decoded) }, encodings };
    }
  } finally {
    await browser.close().catch(() => undefined);
    await app.close().catch(() => undefined);
    await server.stop().catch(() => undefined);
  }
  console.log('\n| options | 720p sent p50 / max | 720p decoded p50 / max | not within 40 s | encodings once settled | load (1 min) |');
  console.log('|---|---:|---:|---:|---|---:|');
  for (const [label, r] of Object.entries(out) as [string, { failed: number; load: number; sent: { p50: number; max: number }; decoded: { p50: number; max: number }; encodings: Encoding[] }][]) {
    console.log(`| ${label} | ${r.sent.p50} / ${r.sent.max} ms | ${r.decoded.p50} / ${r.decoded.max} ms | ${r.failed} of ${ROUNDS} | ${r.encodings.map((e) => `${e.width}x${e.height} ${e.kbps} kbit/s`).join(', ')} | ${r.load.toFixed(1)} |`);
  }
  return out;
}

/** The publisher's outbound video encodings over 2 s: size and bitrate. */
async function sentEncodings(page: Page): Promise<Encoding[]> {
  const read = () =>
    page.evaluate(async () => {
      const out: Record<string, { rid: string | null; width: number; height: number; bytes: number; at: number; active: boolean }> = {};
      for (const pc of (window as any).__pcs as RTCPeerConnection[]) {
        if (pc.connectionState === 'closed') continue;
        (await pc.getStats()).forEach((s: any) => {
          if (s.type === 'outbound-rtp' && s.kind === 'video') out[s.id] = { rid: s.rid ?? null, width: s.frameWidth ?? 0, height: s.frameHeight ?? 0, bytes: s.bytesSent ?? 0, at: s.timestamp, active: s.active !== false };
        });
      }
      return out;
    });
  const a = await read();
  await sleep(2000);
  const b = await read();
  return Object.entries(b)
    .map(([id, s]) => ({ rid: s.rid, width: s.width, height: s.height, active: s.active, kbps: a[id] ? Math.round(((s.bytes - a[id]!.bytes) * 8) / (s.at - a[id]!.at)) : 0 }))
    .sort((x, y) => x.height - y.height || x.kbps - y.kbps);
}

// ------------------------------------------------------------------------------------- cpu part

class ServerProcess {
  private nextId = 1;
  private readonly pending = new Map<number, (v: unknown) => void>();
  readonly ready: Promise<ServerReady>;
  constructor(readonly child: ChildProcess) {
    let resolveReady!: (r: ServerReady) => void;
    this.ready = new Promise((r) => (resolveReady = r));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith(MARKER)) return;
      const msg = JSON.parse(line.slice(MARKER.length)) as { ready?: boolean; id?: number; ok?: boolean; value?: unknown; error?: string };
      if (msg.ready) resolveReady(msg as unknown as ServerReady);
      else if (msg.id !== undefined) this.pending.get(msg.id)?.(msg.ok ? msg.value : Promise.reject(new Error(msg.error)));
    });
    child.stderr!.on('data', (d: Buffer) => process.env.SIMULCAST_BENCH_LOG && process.stderr.write(d));
  }
  request<T>(cmd: string): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, (v) => resolve(v as T));
      this.child.stdin!.write(JSON.stringify({ id, cmd }) + '\n');
    });
  }
}

/** A werift subscriber whose connect carries a bandwidth profile (maxSubscriptionBitrate), as the SDK sends it. */
class CappedSubscriber extends WeriftSubscriber {
  constructor(identity: string, ws: string, token: string, room: string, maxBitrate: number | null) {
    super(identity, ws, token, room);
    const self = this as unknown as { sendFrame(frame: unknown): void };
    const send = self.sendFrame.bind(this);
    self.sendFrame = (frame: unknown) => {
      const f = frame as { type?: string; body?: Record<string, unknown> };
      if (f.type === 'hello' && f.body && maxBitrate !== null) f.body.bandwidth_profile = { video: { mode: 'collaboration', max_subscription_bandwidth: maxBitrate } };
      send(frame);
    };
  }
}

async function cpuPart(): Promise<Record<string, unknown>> {
  if (os.cpus().length < 2) throw new Error('needs two cores (server on core 0, clients on core 1)');
  execFileSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simulcast-bench-'));
  const creds = { TWILIO_ACCOUNT_SID: 'AC' + randomBytes(16).toString('hex'), TWILIO_AUTH_TOKEN: randomBytes(16).toString('hex'), TWILIO_API_KEY: 'SK' + randomBytes(16).toString('hex'), TWILIO_API_SECRET: randomBytes(16).toString('hex') };
  const child = spawn('taskset', ['-c', '0', process.execPath, '--expose-gc', '--import', 'tsx', path.join(ROOT, 'bench/sfu/server.ts')], { cwd: ROOT, env: { ...process.env, ...creds, SFU_BENCH_DATA_DIR: path.join(dir, 'data') }, stdio: ['pipe', 'pipe', 'pipe'] });
  fs.mkdirSync(path.join(dir, 'data'));
  const server = new ServerProcess(child);
  const subscribers: WeriftSubscriber[] = [];
  let browser: Browser | null = null;
  let app: { url: string; close(): Promise<void> } | null = null;
  try {
    const ready = await server.ready;
    const wsServer = ready.url.replace('http', 'ws') + '/signaling';
    const token = (identity: string) => {
      const t = new twilio.jwt.AccessToken(creds.TWILIO_ACCOUNT_SID, creds.TWILIO_API_KEY, creds.TWILIO_API_SECRET, { identity });
      t.addGrant(new twilio.jwt.AccessToken.VideoGrant({}));
      return t.toJwt();
    };
    const camera = path.join(dir, 'camera.y4m');
    writeNoisyCameraY4m(camera);
    browser = await launchBrowser(camera);
    app = await startAppOrigin();
    const room = 'simulcast-cpu';
    const publisher = await openAppPage(await browser.newContext(), app.url);
    await publisher.evaluate(RAMP_INIT);
    await publisher.evaluate(PAGE_HELPERS);
    await publisher.evaluate(([tok, o]) => (window as any).tv.connect(tok, o), [token('publisher'), { ...THREE_PLUS, preferredVideoCodecs: 'auto', name: room, wsServer, insights: false }] as const);
    const caps = [350_000, 1_200_000, null];
    const rows: Record<string, unknown>[] = [];
    for (const k of STEPS) {
      while (subscribers.length < k) {
        const i = subscribers.length;
        const s = new CappedSubscriber(`sub-${i}`, wsServer, token(`sub-${i}`), room, caps[i % 3]!);
        await s.connect();
        subscribers.push(s);
      }
      await waitFor(`${k} subscribers receiving video`, () => subscribers.every((s) => s.counts.video > 0), 30_000, 200);
      await sleep(SETTLE_MS);
      const encodings = await sentEncodings(publisher);
      const c0 = readCoreTimes();
      const a = await server.request<ServerSample>('sample');
      await sleep(MEASURE_MS);
      const b = await server.request<ServerSample>('sample');
      const c1 = readCoreTimes();
      const seconds = (b.hrNs - a.hrNs) / 1e9;
      const cpuUsPerS = (b.cpuUserUs + b.cpuSystemUs - a.cpuUserUs - a.cpuSystemUs) / seconds;
      const inPerS = (b.packetsIn - a.packetsIn) / seconds;
      const outPerS = (b.packetsOut - a.packetsOut) / seconds;
      const busy = coreBusy(c0, c1);
      const serverShare = cpuUsPerS / 1e6;
      const foreign = Math.max(0, (busy.cpu0 ?? 0) - serverShare);
      const row = { k, cpuUsPerS: Math.round(cpuUsPerS), inPerS: Math.round(inPerS), outPerS: Math.round(outPerS), usPerOut: outPerS > 0 ? +(cpuUsPerS / outPerS).toFixed(1) : null, otherOnCore0: +foreign.toFixed(2), encodings };
      rows.push(row);
      log(`K=${k}: server ${(serverShare * 100).toFixed(1)} % of a core, in ${row.inPerS}/s, out ${row.outPerS}/s, other on core 0 ${(foreign * 100).toFixed(0)} %; publisher ${encodings.map((e) => `${e.height}p ${e.kbps}k`).join(' ')}`);
    }
    const fit = fitLine(rows.map((r) => [r.outPerS as number, r.cpuUsPerS as number]));
    console.log('\n| K subscribers | server CPU | packets in/s | packets out/s | CPU ÷ out (µs) | other on core 0 | publisher layers (height, kbit/s) |');
    console.log('|---:|---:|---:|---:|---:|---:|---|');
    for (const r of rows as { k: number; cpuUsPerS: number; inPerS: number; outPerS: number; usPerOut: number | null; otherOnCore0: number; encodings: Encoding[] }[]) {
      console.log(`| ${r.k} | ${(r.cpuUsPerS / 1e4).toFixed(1)} % | ${r.inPerS} | ${r.outPerS} | ${r.usPerOut ?? '–'} | ${Math.round(r.otherOnCore0 * 100)} % | ${r.encodings.map((e) => `${e.height}p ${e.kbps}`).join(' / ')} |`);
    }
    console.log(`\nCPU per forwarded packet (slope, R² ${fit.r2.toFixed(2)}): ${fit.slope.toFixed(1)} µs; intercept ${(fit.intercept / 1000).toFixed(1)} ms/s`);
    return { rows, fit };
  } finally {
    for (const s of subscribers) await s.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await app?.close().catch(() => undefined);
    child.stdin?.write(JSON.stringify({ id: 0, cmd: 'quit' }) + '\n');
    await sleep(500);
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const result: Record<string, unknown> = { date: new Date().toISOString(), node: process.version };
try {
  if (PART === 'ramp' || PART === 'all') result.ramp = await rampPart();
  if (PART === 'cpu' || PART === 'all') result.cpu = await cpuPart();
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  // One part at a time keeps the other part's last figures.
  const previous = fs.existsSync(RESULTS) ? (JSON.parse(fs.readFileSync(RESULTS, 'utf8')) as Record<string, unknown>) : {};
  fs.writeFileSync(RESULTS, JSON.stringify({ ...previous, ...result }, null, 2));
} finally {
  clearTimeout(watchdog);
}
