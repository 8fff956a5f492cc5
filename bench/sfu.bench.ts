// SFU benchmark (issue 3): what forwarding media costs the server, and how long a join takes.
//
//   npm run bench:sfu            (= tsx bench/sfu.bench.ts)
//   npm run bench:sfu -- --profile           also record a V8 CPU profile of the server at the
//                                            largest subscriber count (inflates that row's CPU)
//   npm run bench:sfu -- --profile=heap      instead, sample the server's allocations (collected ones too)
//   SFU_BENCH_SERVER_FLAGS='--trace-gc'      extra node/V8 flags for the server process
//   SFU_BENCH_DEFAULT_GC=1                   the server without src/gc-tuning.ts (V8's default heap growth)
//   npm run bench:sfu -- --steps=0,2,4 --joins=5 --measure=5     a shorter run
//   npm run bench:sfu -- --camera=pattern    Chromium's built-in fake camera instead of the
//                                            generated noisy clip (much lower bitrate)
//
// Layout on a machine with ≥ 2 cores:
//   core 0: the server only, bench/sfu/server.ts (a real Televisit: createTelevisit with the
//           default configuration, SQLite, LOG_LEVEL=silent), started under `taskset -c 0`.
//   core 1: everything else, since this process pins itself (and so its children) there:
//           one Chromium publisher (twilio-video 2.36, 1280x720@24 camera + fake microphone,
//           VP8, no simulcast), K werift subscribers that speak the signaling protocol
//           themselves (bench/sfu/werift-subscriber.ts), and the join-time Chromium page.
//           The camera is a generated Y4M clip with sensor-like noise (bench/sfu/camera.ts), so
//           VP8 runs at Chromium's 2.5 Mbit/s cap as with a real webcam.
//
// Phase 0: the idle server's CPU (no participants), then the publisher joins; two warm-up
// subscribers join and leave (first-use costs), and we wait until Chromium has ramped up to
// 1280x720 at ≥ 2 Mbit/s target without a quality limitation.
// Phase 1, for K = 0, 2, 4, 8, 12 subscribers (added step by step, all in one room with the
// publisher): wait until every subscriber receives video, settle 5 s, measure 10 s. The server
// reports its own CPU time (process.cpuUsage: all threads), RSS, and the SFU's packet counters
// (tv.signaling.mediaStats(): packets received per layer = in, packets forwarded per
// subscriber = out). CPU µs/s = a + b × (packets out/s) is fitted by least squares; b is the
// marginal cost of one forwarded packet. Memory per subscriber is the slope of RSS (after a full
// GC) against K.
//
// Phase 2: 20 times, a second Chromium page joins the room as a viewer (no local tracks) and
// times from just before Twilio.Video.connect() to the first decoded frame of the publisher's
// video (requestVideoFrameCallback, or getVideoPlaybackQuality().totalVideoFrames > 0), then
// leaves. p50 and p90 are reported.
//
// All traffic stays on 127.0.0.1. Everything is time-bounded (a watchdog aborts after
// WATCHDOG_MS), and the server, Chromium, the app origin and the temp dir are cleaned up on
// every exit path. Results: a table on stdout and bench/results/sfu.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import twilio from 'twilio';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { MARKER, type ServerMemory, type ServerReady, type ServerSample } from './sfu/protocol.js';
import { WeriftSubscriber } from './sfu/werift-subscriber.js';
import { CHROMIUM_PATH, launchBrowser, openBenchPage, startAppOrigin, type JoinTiming, type PublisherSendStats } from './sfu/browser.js';
import { coreBusy, fitLine, percentile, readCoreTimes, type Line } from './sfu/stats.js';
import { printProfile, summarizeProfile, type ProfileSummary } from './sfu/profile-summary.js';
import { summarizeHeapProfile } from './sfu/heap-profile-summary.js';
import { writeNoisyCameraY4m } from './sfu/camera.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = path.join(ROOT, 'bench/results/sfu.json');

// ---------------------------------------------------------------------------------------------
// Parameters (flags override).

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k!, v ?? 'true'] as const;
  }),
);
const numberList = (v: string | undefined, fallback: number[]) => (v ? v.split(',').map(Number).filter((n) => Number.isInteger(n) && n >= 0) : fallback);
const STEPS = [...new Set(numberList(args.get('steps'), [0, 2, 4, 8, 12]))].sort((a, b) => a - b);
const JOINS = Number(args.get('joins') ?? 20);
const SETTLE_MS = 1000 * Number(args.get('settle') ?? 5);
const MEASURE_MS = 1000 * Number(args.get('measure') ?? 10);
const PROFILE = args.get('profile') === 'true' || args.get('profile') === 'heap';
const HEAP_PROFILE = args.get('profile') === 'heap';
const CAMERA = args.get('camera') === 'pattern' ? 'pattern' : 'noise';
const IDLE_MS = 5000;
/** Longest wait for Chromium's bandwidth estimate and encoder to reach 1280x720. */
const RAMP_UP_MS = 60_000;
/** Chromium's cap for 1280x720 is 2.5 Mbit/s; at or above this its send rate has settled. */
const RAMPED_TARGET_BPS = 2_000_000;
const WARM_UP_MS = 8000;
/** Before a step, wait at most this long for a throttled publisher to recover … */
const PUBLISHER_RECOVERY_MS = 15_000;
/** … and only while the run is younger than this (the joins still need time). */
const RECOVERY_BUDGET_MS = 190_000;
const ROOM = 'sfu-bench';
const SERVER_CORE = 0;
const CLIENT_CORE = 1;
/** Whole run, hard limit. */
const WATCHDOG_MS = 290_000;
const MEDIA_FLOWING_TIMEOUT_MS = 30_000;
const JOIN_TIMEOUT_MS = 15_000;
/** A measurement slice in which other processes took more than this share of the server's core is not used. */
const FOREIGN_LOAD_LIMIT = 0.15;
const QUIET_LIMIT = 0.25;
/** A measurement window is read in this many slices (see measureWindow). */
const SLICES = 5;
const MIN_CLEAN_SLICES = 2;
const QUIET_WAIT_MS = 30_000;

const log = (...m: unknown[]) => console.error(`[sfu-bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s]`, ...m);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = performance.now();

async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------
// The server process, pinned to its own core, driven over stdin/stdout.

class ServerProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readyResolve!: (r: ServerReady) => void;
  readonly ready: Promise<ServerReady>;
  exited = false;

  constructor(readonly child: ChildProcess) {
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      child.once('exit', (code) => reject(new Error(`server exited with ${code} before it was ready`)));
    });
    child.once('exit', (code, signal) => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`server exited (${code ?? signal})`));
      this.pending.clear();
    });
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith(MARKER)) {
        process.stderr.write(`[server] ${line}\n`);
        return;
      }
      const msg = JSON.parse(line.slice(MARKER.length)) as Record<string, unknown>;
      if (msg.ready) return this.readyResolve(msg as unknown as ServerReady);
      const p = this.pending.get(msg.id as number);
      if (!p) return;
      this.pending.delete(msg.id as number);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(new Error(String(msg.error)));
    });
  }

  request<T>(cmd: string, extra: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error('server is not running'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`server did not answer ${cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin!.write(JSON.stringify({ id, cmd, ...extra }) + '\n');
    });
  }

  sample(): Promise<ServerSample> {
    return this.request<ServerSample>('sample');
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin!.write(JSON.stringify({ id: 0, cmd: 'quit' }) + '\n');
    this.child.stdin!.end();
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 8000);
    await exited;
    clearTimeout(killer);
  }
}

// ---------------------------------------------------------------------------------------------
// Machine facts and pinning.

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The commit the server code came from, and whether src/ had uncommitted changes. */
function gitState(): { commit: string; srcDirty: boolean } | null {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return { commit, srcDirty: dirty };
  } catch {
    return null;
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    nproc: os.availableParallelism(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuMHz: cpus[0]?.speed ?? 0,
    memTotalGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    chromium: (() => {
      try {
        return execFileSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      } catch {
        return 'unknown';
      }
    })(),
  };
}

function publisherAtFullRate(stats: PublisherSendStats): boolean {
  const v = stats.video;
  return !!v && v.width >= 1280 && v.qualityLimitationReason === 'none' && v.targetBitrate >= RAMPED_TARGET_BPS;
}

/** Busy share of each core over `ms`, all processes. */
async function coreLoad(ms: number): Promise<Record<string, number>> {
  const a = readCoreTimes();
  await sleep(ms);
  return coreBusy(a, readCoreTimes());
}

/** Waits (up to QUIET_WAIT_MS) until no core is more than QUIET_LIMIT busy before we start. */
async function waitForQuiet(): Promise<{ waitedS: number; load: Record<string, number> }> {
  const start = performance.now();
  let load = await coreLoad(2000);
  while (Object.values(load).some((v) => v > QUIET_LIMIT) && performance.now() - start < QUIET_WAIT_MS) {
    log(`machine busy before the run (${Object.entries(load).map(([c, v]) => `${c} ${(v * 100).toFixed(0)}%`).join(', ')}); waiting for quiet`);
    load = await coreLoad(5000);
  }
  if (Object.values(load).some((v) => v > QUIET_LIMIT)) log('WARNING: starting on a busy machine; rows will be flagged');
  return { waitedS: (performance.now() - start) / 1000, load };
}

/** Pins this process (every thread, and so every child started later) to the client core. */
function pinClient(canPin: boolean): void {
  if (!canPin) return;
  execFileSync('taskset', ['-a', '-cp', String(CLIENT_CORE), String(process.pid)], { stdio: 'ignore' });
}

// ---------------------------------------------------------------------------------------------
// The run.

interface StepRow {
  subscribers: number;
  /** SRTP profile(s) the subscribers' DTLS settled on. */
  subscriberSrtp: string;
  /** Seconds actually used (the clean slices). */
  seconds: number;
  slicesUsed: number;
  slicesTaken: number;
  serverCpuUsPerS: number;
  /** Of which in the kernel (process.cpuUsage().system): the socket calls, mostly. */
  serverSystemCpuUsPerS: number;
  serverCpuPercent: number;
  eventLoopUtilization: number;
  packetsInPerS: number;
  packetsOutPerS: number;
  /** Server CPU / packets out, everything included (receive side too). */
  usPerForwardedPacketRaw: number | null;
  /** Server CPU / (packets in + out). */
  usPerPacketHandled: number | null;
  droppedPerS: number;
  /** What the werift subscribers counted, summed (to see whether the client core kept up). */
  subscribersReceivedPerS: number;
  coreBusy: Record<string, number>;
  /** Share of the server's core that user/system time of other processes took (irq/softirq excluded). */
  foreignServerCoreLoad: number;
  benchProcessCpuPercent: number;
  rssAfterGcMiB: number;
  heapUsedAfterGcMiB: number;
  publisher: PublisherSendStats;
  /** Why this row is not trustworthy (other load on the server core, publisher throttled), if so. */
  disturbed: string | null;
}

const cleanups: (() => Promise<void>)[] = [];
let cleaningUp: Promise<void> | null = null;
function cleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log('cleanup:', (err as Error).message));
  })();
  return cleaningUp;
}

async function main(): Promise<void> {
  const facts = machine();
  const canPin = hasCommand('taskset') && facts.nproc >= 2;
  if (!fs.existsSync(CHROMIUM_PATH)) throw new Error(`Chromium is missing at ${CHROMIUM_PATH} (apt-get install chromium)`);
  if (!canPin) log(`WARNING: ${hasCommand('taskset') ? 'fewer than 2 cores' : 'taskset (util-linux) not found'}: server and clients are NOT pinned, results are not comparable`);
  pinClient(canPin);
  // Other work on the machine (a test suite, a build) skews every number: wait a little for quiet.
  const quiet = await waitForQuiet();
  const loadBefore = os.loadavg();
  log(`${facts.nproc} cores, ${facts.cpuModel}, node ${facts.node}; steps ${STEPS.join(',')}; ${JOINS} joins; pinned: ${canPin}`);

  // -- server
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'televisit-sfu-bench-'));
  cleanups.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
  const creds = {
    TWILIO_ACCOUNT_SID: 'AC' + randomBytes(16).toString('hex'),
    TWILIO_AUTH_TOKEN: randomBytes(16).toString('hex'),
    TWILIO_API_KEY: 'SK' + randomBytes(16).toString('hex'),
    TWILIO_API_SECRET: randomBytes(16).toString('hex'),
  };
  const nodeArgs = [process.execPath, '--expose-gc', ...(process.env.SFU_BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean), '--import', 'tsx', path.join(ROOT, 'bench/sfu/server.ts')];
  const [cmd, ...cmdArgs] = canPin ? ['taskset', '-c', String(SERVER_CORE), ...nodeArgs] : nodeArgs;
  const child = spawn(cmd!, cmdArgs, {
    cwd: ROOT,
    env: { ...process.env, ...creds, SFU_BENCH_DATA_DIR: dataDir, NODE_OPTIONS: '' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const server = new ServerProcess(child);
  cleanups.push(() => server.stop());
  const ready = await Promise.race([server.ready, sleep(30_000).then(() => Promise.reject(new Error('server did not start within 30 s')))]);
  const wsServer = ready.url.replace('http', 'ws') + '/signaling';
  log(`server pid ${ready.pid} on ${ready.url}${canPin ? ` (core ${SERVER_CORE})` : ''}`);

  // -- idle baseline (no participants: timers, job queue polling, room sweeper)
  await sleep(2000);
  const idleA = await server.sample();
  await sleep(IDLE_MS);
  const idleB = await server.sample();
  const idleCpuUsPerS = (idleB.cpuUserUs + idleB.cpuSystemUs - idleA.cpuUserUs - idleA.cpuSystemUs) / ((idleB.hrNs - idleA.hrNs) / 1e9);
  const idleMem = await server.request<ServerMemory>('memory', {}, 30_000);
  log(`idle server: ${(idleCpuUsPerS / 1e4).toFixed(2)}% CPU, RSS ${(idleMem.rss / 2 ** 20).toFixed(1)} MiB after GC`);

  const token = (identity: string) => {
    const t = new twilio.jwt.AccessToken(creds.TWILIO_ACCOUNT_SID, creds.TWILIO_API_KEY, creds.TWILIO_API_SECRET, { identity, ttl: 3600 });
    t.addGrant(new twilio.jwt.AccessToken.VideoGrant({ room: ROOM }));
    return t.toJwt();
  };

  // -- publisher (Chromium)
  const app = await startAppOrigin(ROOT);
  cleanups.push(() => app.close());
  let cameraFile: string | undefined;
  if (CAMERA === 'noise') {
    cameraFile = path.join(dataDir, 'camera-1280x720-24.y4m');
    const bytes = writeNoisyCameraY4m(cameraFile);
    log(`camera clip ${path.basename(cameraFile)} (${(bytes / 2 ** 20).toFixed(0)} MiB)`);
  }
  const browser: Browser = await launchBrowser(cameraFile);
  cleanups.push(() => browser.close());
  const context: BrowserContext = await browser.newContext();
  const publisher = await openBenchPage(context, app.url);
  const published = (await publisher.evaluate(
    ([tok, opts]) => (window as any).bench.publish(tok, opts),
    [
      token('publisher'),
      { wsServer, insights: false, name: ROOM, audio: true, video: { width: 1280, height: 720, frameRate: 24 }, preferredVideoCodecs: ['VP8'] },
    ] as const,
  )) as { sid: string };
  log(`publisher connected to ${published.sid}`);
  await waitFor(
    'the publisher\'s audio and video to reach the server',
    async () => {
      const a = await server.sample();
      await sleep(1000);
      const b = await server.sample();
      return b.tracks >= 2 && b.packetsIn - a.packetsIn > 50 ? true : undefined;
    },
    MEDIA_FLOWING_TIMEOUT_MS,
  );
  const sendStats = () => publisher.evaluate(() => (window as any).bench.sendStats()) as Promise<PublisherSendStats>;
  // Warm-up, while Chromium ramps up anyway: two subscribers join, receive for a while and leave,
  // so the first measured subscribers do not pay one-time costs (JIT of the send path, pools).
  const rampStart = performance.now();
  {
    const warm = [1, 2].map((i) => new WeriftSubscriber(`warm-up-${i}`, wsServer, token(`warm-up-${i}`), ROOM));
    try {
      for (const w of warm) await w.connect();
      await waitFor('the warm-up subscribers to receive video', () => warm.every((w) => w.counts.video > 0) || undefined, MEDIA_FLOWING_TIMEOUT_MS);
      await sleep(WARM_UP_MS);
    } finally {
      await Promise.all(warm.map((w) => w.close()));
    }
    await waitFor('the warm-up subscribers to leave', async () => ((await server.sample()).sessions <= 1 ? true : undefined), 15_000);
    log(`warm-up: 2 subscribers received ${warm.reduce((n, w) => n + w.received, 0)} packets and left`);
  }
  // Chromium starts low and raises resolution and bitrate as its bandwidth estimate grows (~40 s).
  let ramp: PublisherSendStats | null = null;
  let fullSince: number | null = null;
  for (;;) {
    ramp = await sendStats();
    const full = publisherAtFullRate(ramp);
    fullSince = full ? (fullSince ?? performance.now()) : null;
    if (fullSince !== null && performance.now() - fullSince >= 5000) break;
    if (performance.now() - rampStart > RAMP_UP_MS) {
      log(`WARNING: the publisher did not settle at 1280x720, ≥ ${RAMPED_TARGET_BPS / 1e6} Mbit/s within ${RAMP_UP_MS / 1000} s; measuring anyway`);
      break;
    }
    await sleep(1000);
  }
  const rampUpS = (performance.now() - rampStart) / 1000;
  log(`publisher ramped up in ${rampUpS.toFixed(0)} s: ${ramp.video ? `${ramp.video.width}x${ramp.video.height}@${ramp.video.fps}, target ${(ramp.video.targetBitrate / 1e6).toFixed(2)} Mbit/s, ${ramp.video.qualityLimitationReason}` : 'no video'}`);

  // -- phase 1: forwarding cost per subscriber count
  const subscribers: WeriftSubscriber[] = [];
  cleanups.push(async () => {
    await Promise.all(subscribers.map((s) => s.close()));
  });
  const rows: StepRow[] = [];
  let profile: ProfileSummary | null = null;
  let heapProfile: string | null = null;
  let profileFile: string | null = null;
  const received = () => subscribers.reduce((s, x) => s + x.received, 0);
  /** One slice of a measurement window: raw deltas, and how much of the server core others took. */
  interface Slice {
    seconds: number;
    cpuUs: number;
    systemUs: number;
    packetsIn: number;
    packetsOut: number;
    dropped: number;
    received: number;
    eluActive: number;
    eluIdle: number;
    cores: Record<string, number>;
    foreign: number;
    benchCpuUs: number;
  }
  const measureSlices = async (): Promise<Slice[]> => {
    const slices: Slice[] = [];
    let cores = readCoreTimes();
    let self = process.cpuUsage();
    let recv = received();
    let prev = await server.sample();
    for (let i = 0; i < SLICES; i++) {
      await sleep(MEASURE_MS / SLICES);
      const next = await server.sample();
      const coresNow = readCoreTimes();
      const recvNow = received();
      const selfCpu = process.cpuUsage(self);
      const seconds = (next.hrNs - prev.hrNs) / 1e9;
      const cpuUs = next.cpuUserUs + next.cpuSystemUs - (prev.cpuUserUs + prev.cpuSystemUs);
      const systemUs = next.cpuSystemUs - prev.cpuSystemUs;
      const task = coreBusy(cores, coresNow, true)[`cpu${SERVER_CORE}`] ?? NaN;
      slices.push({
        seconds,
        cpuUs,
        systemUs,
        packetsIn: next.packetsIn - prev.packetsIn,
        packetsOut: next.packetsOut - prev.packetsOut,
        dropped: next.dropped - prev.dropped,
        received: recvNow - recv,
        eluActive: next.eluActiveMs - prev.eluActiveMs,
        eluIdle: next.eluIdleMs - prev.eluIdleMs,
        cores: coreBusy(cores, coresNow),
        foreign: Math.max(0, task - cpuUs / 1e6 / seconds),
        benchCpuUs: selfCpu.user + selfCpu.system,
      });
      prev = next;
      cores = coresNow;
      self = process.cpuUsage();
      recv = recvNow;
    }
    return slices;
  };
  /**
   * One measurement: MEASURE_MS in SLICES slices. Slices in which other processes took more than
   * FOREIGN_LOAD_LIMIT of the server's core are left out (this machine runs other people's test
   * suites in bursts); with fewer than MIN_CLEAN_SLICES clean ones, another MEASURE_MS is taken
   * (once) and, failing that, the quietest slices are used and the row is flagged.
   */
  const measureWindow = async (retry: boolean) => {
    let slices = await measureSlices();
    const cleanOf = (xs: Slice[]) => xs.filter((x) => x.foreign <= FOREIGN_LOAD_LIMIT);
    if (retry && cleanOf(slices).length < MIN_CLEAN_SLICES) {
      log(`  only ${cleanOf(slices).length} of ${slices.length} slices without other load on core ${SERVER_CORE}; measuring ${MEASURE_MS / 1000} s more`);
      slices = slices.concat(await measureSlices());
    }
    let used = cleanOf(slices);
    if (used.length < MIN_CLEAN_SLICES) used = [...slices].sort((a, b) => a.foreign - b.foreign).slice(0, MIN_CLEAN_SLICES);
    const sum = (f: (x: Slice) => number) => used.reduce((acc, x) => acc + f(x), 0);
    const seconds = sum((x) => x.seconds);
    const cpuPerS = sum((x) => x.cpuUs) / seconds;
    const inPerS = sum((x) => x.packetsIn) / seconds;
    const outPerS = sum((x) => x.packetsOut) / seconds;
    const eluActive = sum((x) => x.eluActive);
    const eluIdle = sum((x) => x.eluIdle);
    const coreNames = Object.keys(used[0]!.cores);
    return {
      seconds,
      slicesUsed: used.length,
      slicesTaken: slices.length,
      serverCpuUsPerS: cpuPerS,
      serverCpuPercent: cpuPerS / 1e4,
      serverSystemCpuUsPerS: sum((x) => x.systemUs) / seconds,
      eventLoopUtilization: eluActive / (eluActive + eluIdle),
      packetsInPerS: inPerS,
      packetsOutPerS: outPerS,
      usPerForwardedPacketRaw: outPerS > 0 ? cpuPerS / outPerS : null,
      usPerPacketHandled: inPerS + outPerS > 0 ? cpuPerS / (inPerS + outPerS) : null,
      droppedPerS: sum((x) => x.dropped) / seconds,
      subscribersReceivedPerS: sum((x) => x.received) / seconds,
      coreBusy: Object.fromEntries(coreNames.map((c) => [c, sum((x) => (x.cores[c] ?? 0) * x.seconds) / seconds])),
      foreignServerCoreLoad: sum((x) => x.foreign * x.seconds) / seconds,
      benchProcessCpuPercent: (sum((x) => x.benchCpuUs) / 1e6 / seconds) * 100,
    };
  };
  for (const k of STEPS) {
    while (subscribers.length < k) {
      const sub = new WeriftSubscriber(`subscriber-${subscribers.length + 1}`, wsServer, token(`subscriber-${subscribers.length + 1}`), ROOM);
      subscribers.push(sub);
      await sub.connect();
    }
    await waitFor(
      `all ${k} subscribers to receive audio and video`,
      () => {
        const failed = subscribers.find((s) => s.error);
        if (failed) throw new Error(failed.error!);
        return subscribers.every((s) => s.counts.video > 0 && s.counts.audio > 0) ? true : undefined;
      },
      MEDIA_FLOWING_TIMEOUT_MS,
    );
    // After a burst of other load, Chromium's bandwidth estimate may have backed off: give it a
    // little time to come back (within the run's time budget) rather than measure a throttled input.
    const recoverUntil = performance.now() + PUBLISHER_RECOVERY_MS;
    while (performance.now() - t0 < RECOVERY_BUDGET_MS && performance.now() < recoverUntil && !publisherAtFullRate(await sendStats())) {
      await sleep(1000);
    }
    log(`K=${k}: media flowing to every subscriber; settling ${SETTLE_MS / 1000} s`);
    await sleep(SETTLE_MS);
    const profiling = PROFILE && k === STEPS[STEPS.length - 1];
    if (profiling) await server.request('profile-start', { kind: HEAP_PROFILE ? 'heap' : 'cpu' });
    const w = await measureWindow(!profiling);
    if (profiling) {
      profileFile = path.join(os.tmpdir(), `televisit-sfu-server-${Date.now()}.${HEAP_PROFILE ? 'heapprofile' : 'cpuprofile'}`);
      await server.request('profile-stop', { path: profileFile }, 60_000);
      if (HEAP_PROFILE) heapProfile = summarizeHeapProfile(profileFile, MEASURE_MS / 1000);
      else profile = summarizeProfile(profileFile);
    }
    const pub = await sendStats();
    const mem = await server.request<ServerMemory>('memory', {}, 30_000);
    const reasons: string[] = [];
    if (w.foreignServerCoreLoad > FOREIGN_LOAD_LIMIT) reasons.push(`other processes took ${(w.foreignServerCoreLoad * 100).toFixed(0)}% of core ${SERVER_CORE}`);
    if (pub.video && pub.video.qualityLimitationReason !== 'none') reasons.push(`publisher limited by ${pub.video.qualityLimitationReason} (${pub.video.width}x${pub.video.height})`);
    if (profiling) reasons.push(HEAP_PROFILE ? 'allocation sampling running' : 'CPU profiler running');
    const row: StepRow = {
      subscribers: k,
      subscriberSrtp: [...new Set(subscribers.map((x) => x.srtpProfile ?? 'unknown'))].join(','),
      ...w,
      rssAfterGcMiB: mem.rss / 2 ** 20,
      heapUsedAfterGcMiB: mem.heapUsed / 2 ** 20,
      publisher: pub,
      disturbed: reasons.length ? reasons.join('; ') : null,
    };
    const inPerS = row.packetsInPerS;
    const outPerS = row.packetsOutPerS;
    rows.push(row);
    log(
      `K=${k}: server ${row.serverCpuPercent.toFixed(1)}% CPU, in ${inPerS.toFixed(0)}/s, out ${outPerS.toFixed(0)}/s, ` +
        `${row.usPerForwardedPacketRaw?.toFixed(1) ?? '-'} µs/out, subscribers got ${row.subscribersReceivedPerS.toFixed(0)}/s, ` +
        `cores ${Object.entries(row.coreBusy).map(([c, v]) => `${c} ${(v * 100).toFixed(0)}%`).join(' ')} (others on cpu${SERVER_CORE}: ${(row.foreignServerCoreLoad * 100).toFixed(0)}%), ` +
        `publisher ${pub.video ? `${pub.video.width}x${pub.video.height}@${pub.video.fps} (${pub.video.qualityLimitationReason})` : 'no video'}, ` +
        `${row.slicesUsed}/${row.slicesTaken} slices used; SRTP publisher ${pub.srtpCipher ?? '?'}, subscribers ${row.subscriberSrtp || '-'}` +
        (profiling ? ' [profiled]' : ''),
    );
  }

  // Fit on the undisturbed rows (the profiler, other load and a throttled publisher all skew CPU)
  // when at least three remain; otherwise on every row, with a warning.
  const clean = rows.filter((r) => !r.disturbed);
  const fitRows = clean.length >= 3 ? clean : rows;
  const fitNote = clean.length >= 3 ? (clean.length < rows.length ? `fit excludes disturbed rows K=${rows.filter((r) => r.disturbed).map((r) => r.subscribers).join(',')}` : null) : 'WARNING: fewer than 3 undisturbed rows; the fit uses disturbed rows';
  if (fitNote) log(fitNote);
  const cpuFit: Line = fitLine(fitRows.map((r) => [r.packetsOutPerS, r.serverCpuUsPerS]));
  // The same fit for the kernel's share alone (system CPU: sendmsg and the loopback's delivery).
  const systemFit: Line = fitLine(fitRows.map((r) => [r.packetsOutPerS, r.serverSystemCpuUsPerS]));
  const memFit: Line = fitLine(rows.map((r) => [r.subscribers, r.rssAfterGcMiB]));
  const heapFit: Line = fitLine(rows.map((r) => [r.subscribers, r.heapUsedAfterGcMiB]));
  // The first subscribers also pay one-time costs (code, pools); the slope from K = 2 on is the marginal one.
  const memFitFrom2: Line = fitLine(rows.filter((r) => r.subscribers >= 2).map((r) => [r.subscribers, r.rssAfterGcMiB]));

  // -- phase 2: join time
  log(`closing ${subscribers.length} subscribers`);
  await Promise.all(subscribers.map((s) => s.close()));
  subscribers.length = 0;
  await waitFor('the subscribers to leave', async () => ((await server.sample()).sessions <= 1 ? true : undefined), 15_000);
  await sleep(1000);
  const joiner: Page = await openBenchPage(context, app.url);
  const joins: JoinTiming[] = [];
  const joinErrors: string[] = [];
  for (let i = 1; i <= JOINS; i++) {
    try {
      const timing = (await joiner.evaluate(
        ([tok, opts, timeout]) => (window as any).bench.join(tok, opts, timeout),
        [token(`viewer-${i}`), { wsServer, insights: false, name: ROOM, audio: false, video: false, preferredVideoCodecs: ['VP8'] }, JOIN_TIMEOUT_MS] as const,
      )) as JoinTiming;
      joins.push(timing);
    } catch (err) {
      joinErrors.push(`join ${i}: ${(err as Error).message.split('\n')[0]}`);
      log(joinErrors[joinErrors.length - 1]);
    }
    await joiner.evaluate(() => (window as any).bench.leave());
    await waitFor('the viewer to leave', async () => ((await server.sample()).sessions <= 1 ? true : undefined), 10_000, 50).catch(() => undefined);
    await sleep(250);
  }
  const firstFrame = joins.map((j) => j.firstFrameMs);
  const joinSummary = {
    count: joins.length,
    failed: joinErrors.length,
    errors: joinErrors,
    firstFrameMs: { p50: percentile(firstFrame, 50), p90: percentile(firstFrame, 90), min: Math.min(...firstFrame), max: Math.max(...firstFrame) },
    // Where the time goes, p50 of each milestone (ms from just before connect()).
    milestonesP50Ms: {
      connectResolved: percentile(joins.map((j) => j.connectMs), 50),
      trackSubscribed: percentile(joins.map((j) => j.subscribedMs), 50),
      iceConnected: percentile(joins.flatMap((j) => (j.iceConnectedMs === null ? [] : [j.iceConnectedMs])), 50),
      dtlsConnected: percentile(joins.flatMap((j) => (j.dtlsConnectedMs === null ? [] : [j.dtlsConnectedMs])), 50),
      firstVideoRtp: percentile(joins.flatMap((j) => (j.firstRtpMs === null ? [] : [j.firstRtpMs])), 50),
      firstDecodedFrame: percentile(firstFrame, 50),
    },
    samples: joins.map((j) => roundDeep(j)),
  };
  const loadAfter = os.loadavg();

  // -- report
  const result = {
    benchmark: 'sfu',
    date: new Date().toISOString(),
    command: 'npm run bench:sfu' + (process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''),
    machine: facts,
    git: gitState(),
    pinned: canPin ? { server: SERVER_CORE, clients: CLIENT_CORE } : null,
    quietCheck: roundDeep(quiet),
    loadavgBefore: loadBefore,
    loadavgAfter: loadAfter,
    parameters: { steps: STEPS, settleMs: SETTLE_MS, measureMs: MEASURE_MS, joins: JOINS, profile: PROFILE },
    publisherOptions: { audio: true, video: { width: 1280, height: 720, frameRate: 24 }, preferredVideoCodecs: ['VP8'] },
    camera: CAMERA === 'noise' ? 'generated Y4M, 1280x720@24, drifting texture + per-frame noise' : "Chromium's built-in fake camera",
    idleServer: { cpuUsPerS: round(idleCpuUsPerS, 0), rssAfterGcMiB: round(idleMem.rss / 2 ** 20, 1) },
    publisherRampUpS: round(rampUpS, 1),
    steps: rows.map(roundDeep),
    forwardingCost: {
      usPerForwardedPacket: round(cpuFit.slope, 2),
      interceptCpuUsPerS: round(cpuFit.intercept, 0),
      r2: round(cpuFit.r2, 4),
      systemUsPerForwardedPacket: round(systemFit.slope, 2),
      points: cpuFit.n,
      fitSubscriberCounts: fitRows.map((r) => r.subscribers),
      note: fitNote,
      targetUs: 25,
      weriftPrototypeUs: 42,
    },
    memoryPerSubscriber: {
      rssMiB: round(memFit.slope, 3),
      heapUsedMiB: round(heapFit.slope, 3),
      rssR2: round(memFit.r2, 4),
      rssMiBFromK2: round(memFitFrom2.slope, 3),
    },
    join: roundDeep(joinSummary),
    profile: profile ? { file: profileFile, ...roundDeep(profile) } : null,
  };
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, JSON.stringify(result, null, 2) + '\n');
  printReport(result, rows);
  if (profile) printProfile(profile);
  if (heapProfile) console.log(heapProfile);
  console.log(`\nJSON: ${path.relative(ROOT, RESULTS)}`);
  if (joins.length < JOINS / 2) throw new Error(`only ${joins.length} of ${JOINS} joins reached a decoded frame`);
}

function round(x: number, digits = 1): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function roundDeep<T>(v: T): T {
  if (typeof v === 'number') return (Number.isInteger(v) ? v : Math.abs(v) < 10 ? round(v, 3) : round(v, 1)) as T;
  if (Array.isArray(v)) return v.map(roundDeep) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, roundDeep(x)])) as T;
  return v;
}

function printReport(result: any, rows: StepRow[]): void {
  const f = (x: number | null, d = 0) => (x === null || !Number.isFinite(x) ? '-' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
  const header = ['K subs', 'server CPU', 'pkts in/s', 'pkts out/s', 'µs/out pkt', 'µs/pkt in+out', 'subs got/s', `core${SERVER_CORE}`, 'other on core' + SERVER_CORE, `core${CLIENT_CORE}`, 'slices', 'RSS MiB', 'publisher video'];
  const lines = rows.map((r) => [
    String(r.subscribers),
    f(r.serverCpuPercent, 1) + '%',
    f(r.packetsInPerS),
    f(r.packetsOutPerS),
    f(r.usPerForwardedPacketRaw, 1),
    f(r.usPerPacketHandled, 1),
    f(r.subscribersReceivedPerS),
    f((r.coreBusy[`cpu${SERVER_CORE}`] ?? NaN) * 100) + '%',
    f(r.foreignServerCoreLoad * 100) + '%',
    f((r.coreBusy[`cpu${CLIENT_CORE}`] ?? NaN) * 100) + '%',
    `${r.slicesUsed}/${r.slicesTaken}`,
    f(r.rssAfterGcMiB, 1),
    r.publisher.video ? `${r.publisher.video.width}x${r.publisher.video.height}@${f(r.publisher.video.fps)} ${r.publisher.video.qualityLimitationReason}` : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => '| ' + cells.map((c, i) => (i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  console.log(`\nSFU forwarding cost (server pinned to core ${SERVER_CORE}; ${MEASURE_MS / 1000} s per row in ${SLICES} slices, slices with other load on core ${SERVER_CORE} left out)`);
  console.log(fmt(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const l of lines) console.log(fmt(l));
  for (const r of rows) if (r.disturbed) console.log(`  K=${r.subscribers} disturbed: ${r.disturbed}`);
  const fc = result.forwardingCost;
  console.log(`\nIdle server (no participants): ${f(result.idleServer.cpuUsPerS)} µs/s CPU, RSS ${result.idleServer.rssAfterGcMiB} MiB`);
  console.log(`Fit CPU µs/s = ${f(fc.interceptCpuUsPerS)} + ${fc.usPerForwardedPacket} × packets out/s  (R² ${fc.r2}, K = ${fc.fitSubscriberCounts.join(',')})${fc.note ? ` — ${fc.note}` : ''}`);
  console.log(`=> ${fc.usPerForwardedPacket} µs of server CPU per forwarded packet (target ≤ ${fc.targetUs} µs; werift prototype ${fc.weriftPrototypeUs} µs)`);
  console.log(`   of which in the kernel (system CPU): ${fc.systemUsPerForwardedPacket} µs`);
  const mp = result.memoryPerSubscriber;
  console.log(`Memory per subscriber (RSS after full GC, slope over K): ${f(mp.rssMiB, 2)} MiB (heap ${f(mp.heapUsedMiB, 2)} MiB); from K=2 on: ${f(mp.rssMiBFromK2, 2)} MiB`);
  const j = result.join;
  console.log(
    `Join → first decoded remote frame over ${j.count} joins: p50 ${f(j.firstFrameMs.p50)} ms, p90 ${f(j.firstFrameMs.p90)} ms ` +
      `(min ${f(j.firstFrameMs.min)}, max ${f(j.firstFrameMs.max)})${j.failed ? `; ${j.failed} failed` : ''}`,
  );
  const m = j.milestonesP50Ms;
  console.log(
    `  milestones, p50 ms after connect(): connect() resolved ${f(m.connectResolved)}, trackSubscribed ${f(m.trackSubscribed)}, ` +
      `ICE connected ${f(m.iceConnected)}, DTLS connected ${f(m.dtlsConnected)}, first video RTP ${f(m.firstVideoRtp)}, first decoded frame ${f(m.firstDecodedFrame)}`,
  );
}

const watchdog = setTimeout(() => {
  log(`watchdog: the run exceeded ${WATCHDOG_MS / 1000} s; aborting`);
  void cleanup().finally(() => process.exit(1));
}, WATCHDOG_MS);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

main()
  .then(async () => {
    await cleanup();
    clearTimeout(watchdog);
    process.exit(0);
  })
  .catch(async (err: unknown) => {
    log('FAILED:', err instanceof Error ? err.stack ?? err.message : err);
    await cleanup();
    process.exit(1);
  });
