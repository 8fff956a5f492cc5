// Phone bridge cost and delay (issue 7): CPU per phone leg (decode + mix + encode, both ways) and
// the mouth-to-ear delay the bridge adds.
//
//   npm run bench:phone [-- --legs=1,2,4 --seconds=20 --repeats=3 --sessions=12 --bursts=3 --idle=5]
//
// Each measurement below runs in a fresh child process of this script (see "children" for why)
// with its own Televisit (createTelevisit(loadConfig(...)), SQLite in a temporary DATA_DIR,
// LOG_LEVEL=silent, 127.0.0.1, random port, fresh random TWILIO_* credentials). Phone
// legs are fake call objects implementing the bridge's PhoneLeg seam (no SIP, no RTP socket),
// each joined with PhoneBridge.join and a token from mintAccessToken. One absolute 20 ms clock
// in the child hands every leg one 160-byte PCMU frame per tick, with RTP sequence, timestamp
// and SSRC, as SipCall does.
//
// 1. CPU. For each N in --legs, --repeats times (interleaved): the idle server for --idle s;
//    then a room and N legs, all talking at once (a voiced, harmonic, amplitude-modulated
//    signal: everyone speaks continuously, the worst case for the mix); wait until every leg
//    hears the other N-1 and 3 s more; then measure --seconds. Per leg:
//      * busy: the bridge's own busyMs (wall time inside the 20 ms frame work: jitter buffers,
//        G.711, resampling, Opus encode and decode, mix, and the synchronous part of handing the
//        packet to werift) per second;
//      * tick CPU: process.cpuUsage() around each bridge clock callback (the same work, counted
//        in CPU time, so preemption by other processes does not inflate it);
//      * process CPU ÷ N: everything in this process, i.e. the bridges AND the SFU (ingest,
//        forwarding to N-1 subscribers each, SRTP), both werift stacks (client and server side:
//        SRTP, DTLS, ICE, transport-cc), signaling and the bench's own frame clock. Also shown
//        minus the idle server's CPU.
//    Frames in/out, underruns, concealment and clock skips come from bridge.stats().
// 2. Delay. --sessions times: a fresh room with two legs A and B (fresh join, so fresh clock
//    phases). A says silence with --bursts bursts of 40 ms of 1 kHz (amplitude 10000, starting at
//    a random sample of a frame), 1 s apart; B says silence. The onset of each burst is found
//    with the same detector in (a) what A's call handed the bridge, (b) the Opus packets B's
//    room client received (decoded here), (c) what B's bridge sent to B's call. Detector: a
//    sliding 5 ms single-bin DFT at 1 kHz; the onset is the first window whose amplitude reaches
//    half of the burst's peak, minus half a window. A sample's time is the time its frame was
//    handed over (in: onAudio called; mid: the RTP packet emitted by the room client; out:
//    sendAudio called) plus its offset in the frame. (c) − (a) is phone → bridge → Opus → SFU →
//    Opus → bridge → phone, the bridge twice; the one-way bridge delay is reported as half of it.
//    (b) − (a) and (c) − (b) split it at B's room ingress (Opus's algorithmic delay falls in the
//    first part).
//
// Results: a table on stdout, everything in bench/results/phone-bridge.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config.js';
import { fork } from 'node:child_process';
import { createTelevisit, type Televisit } from '../src/app.js';
import { createLogger } from '../src/log.js';
import { mintAccessToken } from '../src/video/tokens/mint-token.js';
import { PhoneBridge, type PhoneBridgeStats, type PhoneLeg } from '../src/telephony/bridge/phone-bridge.js';
import { g711Decode, g711Encode, PAYLOAD_TYPE, type G711Codec } from '../src/telephony/bridge/g711.js';
import { OpusDecoder, OpusEncoder, OPUS_FRAME } from '../src/telephony/bridge/opus.js';
import { Decimator, Interpolator } from '../src/telephony/bridge/resampler.js';
import { mixFrames } from '../src/telephony/bridge/mixer.js';
import type { RemoteAudioPacket } from '../src/telephony/bridge/room-client.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = path.join(ROOT, 'bench/results/phone-bridge.json');
const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const LEGS = (args.get('legs') ?? '1,2,4').split(',').filter(Boolean).map(Number);
const SECONDS = Number(args.get('seconds') ?? 20);
const REPEATS = Number(args.get('repeats') ?? 3);
const SESSIONS = Number(args.get('sessions') ?? 12);
const BURSTS = Number(args.get('bursts') ?? 3);
const IDLE_SECONDS = Number(args.get('idle') ?? 5);
const WARMUP_MS = 3000;
const CODEC: G711Codec = 'PCMU';
const FRAME = 160;
const BURST_HZ = 1000;
const BURST_SAMPLES = 320; // 40 ms at 8 kHz
const BURST_AMP = 10000;
const WATCHDOG_MS = 20 * 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]! : NaN;
};
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const watchdog = setTimeout(() => {
  console.error('watchdog: giving up');
  process.exit(3);
}, WATCHDOG_MS);
watchdog.unref();
process.on('unhandledRejection', (err: unknown) => console.error('UNHANDLED REJECTION', err instanceof Error ? err.stack : err));

// ------------------------------------------------------------------ machine

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  let commit = '';
  let srcDirty = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    srcDirty = execFileSync('git', ['status', '--porcelain', '--', 'src/telephony', 'src/media'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    /* not a git checkout */
  }
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? '?',
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadavg: os.loadavg().map((x) => round(x)),
    commit,
    dirty: srcDirty ? srcDirty.split('\n') : [],
  };
}

/** Busy CPU of the whole machine (all processes) in ms, from /proc/stat. */
function machineBusyMs(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
  return (busy * 1000) / 100; // USER_HZ = 100
}

// ------------------------------------------------------------------ CPU time of the bridge clock

// The bridge counts busyMs in wall time. To also have CPU time for the same work, the clock
// callback is wrapped here (the bridge's code is not changed): cpuUsage() before and after.
const tickCpuMs = new WeakMap<PhoneBridge, number>();
{
  const proto = PhoneBridge.prototype as unknown as { onTimer: (this: PhoneBridge) => void };
  const original = proto.onTimer;
  proto.onTimer = function (this: PhoneBridge) {
    const c = process.cpuUsage();
    original.call(this);
    const d = process.cpuUsage(c);
    tickCpuMs.set(this, (tickCpuMs.get(this) ?? 0) + (d.user + d.system) / 1000);
  };
}

// ------------------------------------------------------------------ signals

/** Something like voiced speech: harmonics of a slowly gliding pitch, amplitude-modulated. */
function voice(seconds: number, f0: number, seed: number): Buffer[] {
  const n = seconds * 8000;
  const pcm = new Int16Array(n);
  let phase = 0;
  let rnd = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    const t = i / 8000;
    const pitch = f0 * (1 + 0.15 * Math.sin(2 * Math.PI * 0.7 * t + seed));
    phase += (2 * Math.PI * pitch) / 8000;
    let v = 0;
    for (let k = 1; k * pitch < 3400; k++) v += Math.sin(k * phase) / k;
    const env = 0.55 + 0.45 * Math.sin(2 * Math.PI * 4 * t + seed);
    rnd = (rnd * 1664525 + 1013904223) >>> 0;
    const noise = (rnd / 2 ** 32 - 0.5) * 0.2;
    pcm[i] = Math.max(-32768, Math.min(32767, Math.round(4000 * env * (v + noise))));
  }
  const frames: Buffer[] = [];
  for (let i = 0; i + FRAME <= n; i += FRAME) frames.push(g711Encode(CODEC, pcm.subarray(i, i + FRAME)));
  return frames;
}

/** A call object implementing the bridge's seam: frames are handed in by the bench's clock. */
class FakeCall implements PhoneLeg {
  onAudio: PhoneLeg['onAudio'] = null;
  readonly rtp = null;
  /** Frames the bridge sent to the phone, with when (only while recording). */
  record: Array<{ at: number; frame: Buffer }> | null = null;
  sentToPhone = 0;
  private seq = randomBytes(2).readUInt16BE(0);
  private ts = randomBytes(4).readUInt32BE(0);
  private readonly ssrc = randomBytes(4).readUInt32BE(0);

  sendAudio(frame: Buffer): boolean {
    this.sentToPhone++;
    if (this.record) this.record.push({ at: performance.now(), frame: Buffer.from(frame) });
    return true;
  }

  /** The phone says one 20 ms frame; returns when it was handed to the bridge. */
  say(frame: Buffer): number {
    const at = performance.now();
    this.onAudio?.(frame, PAYLOAD_TYPE[CODEC], { sequence: this.seq, timestamp: this.ts, ssrc: this.ssrc });
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + FRAME) >>> 0;
    return at;
  }
}

/** One absolute 20 ms clock for all legs: frame n is due at t0 + n·20 ms (late timers catch up). */
function frameClock(onFrame: (n: number) => void): { stop(): void } {
  const t0 = performance.now();
  let n = 0;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const due = Math.floor((performance.now() - t0) / 20) + 1;
    for (; n < due; n++) onFrame(n);
    timer = setTimeout(tick, Math.max(0, t0 + due * 20 - performance.now()));
  };
  tick();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

// ------------------------------------------------------------------ onset detector

/** Amplitude of `freq` in the window of `win` samples ending at each sample (sliding DFT bin). */
function toneEnvelope(x: ArrayLike<number>, rate: number, freq: number, win: number): Float64Array {
  const env = new Float64Array(x.length);
  const w = (2 * Math.PI * freq) / rate;
  let re = 0;
  let im = 0;
  for (let i = 0; i < x.length; i++) {
    re += x[i]! * Math.cos(w * i);
    im -= x[i]! * Math.sin(w * i);
    if (i >= win) {
      re -= x[i - win]! * Math.cos(w * (i - win));
      im += x[i - win]! * Math.sin(w * (i - win));
    }
    env[i] = i >= win - 1 ? (2 * Math.hypot(re, im)) / win : 0;
  }
  return env;
}

/** Sample index of the burst's onset in x[from, to), or null if no burst is there. */
function onset(x: ArrayLike<number>, rate: number, from: number, to: number, floor: number): { index: number; peak: number } | null {
  const win = Math.round(rate * 0.005);
  const env = toneEnvelope(x, rate, BURST_HZ, win);
  let peak = 0;
  for (let i = Math.max(from, win - 1); i < Math.min(to, x.length); i++) peak = Math.max(peak, env[i]!);
  if (peak < floor) return null;
  for (let i = Math.max(from, win - 1); i < Math.min(to, x.length); i++) if (env[i]! >= peak / 2) return { index: i - win / 2, peak };
  return null;
}

// ------------------------------------------------------------------ the server (one per child process)

const NPROC = os.availableParallelism();
const creds = {
  TWILIO_ACCOUNT_SID: 'AC' + randomBytes(16).toString('hex'),
  TWILIO_AUTH_TOKEN: randomBytes(16).toString('hex'),
  TWILIO_API_KEY: 'SK' + randomBytes(16).toString('hex'),
  TWILIO_API_SECRET: randomBytes(16).toString('hex'),
};
let tv: Televisit;
let wsServer = '';
let dataDir = '';
let roomCounter = 0;
/** What the bridges logged at warn and above ('bridge frame failed', 'bridge clock stalled'...), by message. */
const bridgeLogs: Record<string, number> = {};
/** Errors thrown by PhoneBridge.close() (see the Opus note in the docs). */
const closeErrors: string[] = [];
const log = createLogger('warn', {
  write(line: string) {
    const l = JSON.parse(line) as { msg?: string; err?: unknown };
    const err = typeof l.err === 'string' ? l.err : (l.err as { message?: string } | undefined)?.message;
    const key = (l.msg ?? '?') + (err ? `: ${err.slice(0, 120)}` : '');
    bridgeLogs[key] = (bridgeLogs[key] ?? 0) + 1;
  },
});

async function startTelevisit(): Promise<void> {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'televisit-phone-bench-'));
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...creds });
  tv = await createTelevisit(config);
  wsServer = (await tv.listen()).replace('[::1]', '127.0.0.1').replace(/^http/, 'ws') + '/signaling';
}

async function stopTelevisit(): Promise<void> {
  await tv?.close().catch(() => undefined);
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}

async function newRoom(prefix: string): Promise<string> {
  const room = await tv.rooms.createRoom(creds.TWILIO_ACCOUNT_SID, { uniqueName: `${prefix}-${++roomCounter}-${randomBytes(3).toString('hex')}` });
  return room.sid;
}

async function joinLeg(roomSid: string, identity: string, call: FakeCall): Promise<PhoneBridge> {
  const token = await mintAccessToken({ accountSid: creds.TWILIO_ACCOUNT_SID, keySid: creds.TWILIO_API_KEY, keySecret: creds.TWILIO_API_SECRET, identity, room: roomSid });
  return PhoneBridge.join({ call, codec: CODEC, wsServer, token, roomSid, log });
}

async function endRoom(roomSid: string, bridges: PhoneBridge[]): Promise<void> {
  for (const b of bridges) {
    try {
      b.close();
    } catch (err) {
      closeErrors.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    }
  }
  await sleep(300);
  await tv.rooms.completeRoom(creds.TWILIO_ACCOUNT_SID, roomSid).catch(() => undefined);
  await sleep(300);
}

function cpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

// ------------------------------------------------------------------ 1. CPU per leg

/** CPU time of this thread (ns → ms), precise over long windows: /proc/thread-self/schedstat. */
let schedstatFd: number | null = null;
const schedstatBuf = Buffer.alloc(128);
function mainThreadCpuMs(): number {
  schedstatFd ??= fs.openSync('/proc/thread-self/schedstat', 'r');
  const n = fs.readSync(schedstatFd, schedstatBuf, 0, schedstatBuf.length, 0);
  return Number(schedstatBuf.toString('latin1', 0, n).split(' ')[0]) / 1e6;
}

interface Snapshot {
  at: number;
  cpu: number;
  mainThread: number;
  machine: number;
  legs: Array<{ stats: PhoneBridgeStats; tickCpu: number }>;
}

function snapshot(bridges: PhoneBridge[]): Snapshot {
  return {
    at: performance.now(),
    cpu: cpuMs(),
    mainThread: mainThreadCpuMs(),
    machine: machineBusyMs(),
    legs: bridges.map((b) => ({ stats: structuredClone(b.stats()), tickCpu: tickCpuMs.get(b) ?? 0 })),
  };
}

async function measureIdle(): Promise<{ cpuMsPerS: number; otherPct: number }> {
  await sleep(1500);
  const a = { at: performance.now(), cpu: cpuMs(), machine: machineBusyMs() };
  await sleep(IDLE_SECONDS * 1000);
  const b = { at: performance.now(), cpu: cpuMs(), machine: machineBusyMs() };
  const s = (b.at - a.at) / 1000;
  return { cpuMsPerS: (b.cpu - a.cpu) / s, otherPct: ((b.machine - a.machine - (b.cpu - a.cpu)) / s / 10 / NPROC) };
}

interface CpuRun {
  n: number;
  seconds: number;
  /** Per leg, ms of CPU (or busy wall time) per second of call. */
  busyMsPerS: number;
  busyMsPerFrame: number;
  tickCpuMsPerS: number;
  processCpuMsPerS: number;
  processCpuPerLegMsPerS: number;
  processCpuPerLegAboveIdleMsPerS: number;
  /** Share of the process CPU spent on the main (JavaScript) thread. */
  mainThreadShare: number;
  /** Per leg per second. */
  phoneFramesIn: number;
  roomPacketsOut: number;
  roomPacketsIn: number;
  phoneFramesOut: number;
  /** Totals over the window, all legs. */
  underrunsToRoom: number;
  underrunsToPhone: number;
  concealed: number;
  lost: number;
  late: number;
  dropped: number;
  unsent: number;
  clockSkips: number;
  otherProcessesPct: number;
  loopDelayP99Ms: number;
}

async function cpuRun(n: number, idleMsPerS: number): Promise<CpuRun> {
  const roomSid = await newRoom(`cpu${n}`);
  const calls = Array.from({ length: n }, () => new FakeCall());
  const signals = calls.map((_, i) => voice(10, 110 + 35 * i, i + 1));
  const bridges: PhoneBridge[] = [];
  let clock: { stop(): void } | null = null;
  try {
    for (let i = 0; i < n; i++) bridges.push(await joinLeg(roomSid, `phone-${i}`, calls[i]!));
    clock = frameClock((k) => {
      for (let i = 0; i < n; i++) calls[i]!.say(signals[i]![k % signals[i]!.length]!);
    });
    await waitFor(`${n} legs to hear each other`, () => bridges.every((b) => b.room.mediaConnected && b.stats().roomToPhone.sources === n - 1), 30_000).catch((err: Error) => {
      const state = bridges.map((b, i) => ({ leg: i, media: b.room.mediaConnected, sources: b.stats().roomToPhone.sources, roomPackets: b.stats().roomToPhone.framesIn, sent: b.stats().phoneToRoom.framesOut, unsent: b.stats().phoneToRoom.unsent, audioRtp: b.room.counts.audio, participants: b.room.participants.size, error: b.room.error }));
      throw new Error(`${err.message}: ${JSON.stringify(state)}`);
    });
    await sleep(WARMUP_MS);
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const a = snapshot(bridges);
    await sleep(SECONDS * 1000);
    const b = snapshot(bridges);
    loop.disable();
    const s = (b.at - a.at) / 1000;
    const sum = (f: (x: PhoneBridgeStats) => number) => b.legs.reduce((acc, l, i) => acc + f(l.stats) - f(a.legs[i]!.stats), 0);
    const busy = sum((x) => x.busyMs);
    const ticks = sum((x) => x.ticks);
    const tickCpu = b.legs.reduce((acc, l, i) => acc + l.tickCpu - a.legs[i]!.tickCpu, 0);
    const cpu = b.cpu - a.cpu;
    return {
      n,
      seconds: round(s),
      busyMsPerS: busy / s / n,
      busyMsPerFrame: busy / ticks,
      tickCpuMsPerS: tickCpu / s / n,
      processCpuMsPerS: cpu / s,
      processCpuPerLegMsPerS: cpu / s / n,
      processCpuPerLegAboveIdleMsPerS: (cpu / s - idleMsPerS) / n,
      mainThreadShare: (b.mainThread - a.mainThread) / cpu,
      phoneFramesIn: sum((x) => x.phoneToRoom.framesIn) / s / n,
      roomPacketsOut: sum((x) => x.phoneToRoom.framesOut) / s / n,
      roomPacketsIn: sum((x) => x.roomToPhone.framesIn) / s / n,
      phoneFramesOut: sum((x) => x.roomToPhone.framesOut) / s / n,
      underrunsToRoom: sum((x) => x.phoneToRoom.underruns),
      underrunsToPhone: sum((x) => x.roomToPhone.underruns),
      concealed: sum((x) => x.phoneToRoom.concealed + x.roomToPhone.concealed),
      lost: sum((x) => x.phoneToRoom.lost + x.roomToPhone.lost),
      late: sum((x) => x.phoneToRoom.late + x.roomToPhone.late),
      dropped: sum((x) => x.phoneToRoom.dropped + x.roomToPhone.dropped),
      unsent: sum((x) => x.phoneToRoom.unsent + x.roomToPhone.unsent),
      clockSkips: sum((x) => x.clockSkips),
      otherProcessesPct: (b.machine - a.machine - cpu) / s / 10 / NPROC,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
    };
  } finally {
    clock?.stop();
    await endRoom(roomSid, bridges);
  }
}

// ------------------------------------------------------------------ 2. delay A → B

interface DelaySample {
  session: number;
  burst: number;
  /** Phone in (A) → phone out (B): the bridge twice plus the SFU. */
  totalMs: number;
  /** Phone in (A) → B's room ingress (A's bridge, Opus, SFU). */
  toRoomMs: number;
  /** B's room ingress → phone out (B's bridge). */
  toPhoneMs: number;
  peakIn: number;
  peakOut: number;
  /** Mean jitter-buffer fill (ms) over the second around the burst: A's phone buffer, B's buffer for A. */
  jbA: number;
  jbB: number;
}

/** Frames buffered in A's phone jitter buffer and in B's buffer for the room stream (read from private fields). */
function jitterDepths(a: PhoneBridge, b: PhoneBridge): [number, number] {
  const pa = a as unknown as { phoneJb: { stats: { depth: number } } };
  const pb = b as unknown as { sources: Map<number, { jb: { stats: { depth: number } } }> };
  const src = [...pb.sources.values()][0];
  return [pa.phoneJb.stats.depth, src ? src.jb.stats.depth : NaN];
}

interface JitterDelta {
  underruns: number;
  dropped: number;
  late: number;
  lost: number;
}

async function delaySession(session: number): Promise<{
  samples: DelaySample[];
  missed: string[];
  /** A's phone jitter buffer and B's buffer for A's stream, over the measured part. */
  jitter: { a: JitterDelta; b: JitterDelta };
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  otherProcessesPct: number;
}> {
  const roomSid = await newRoom('delay');
  const a = new FakeCall();
  const b = new FakeCall();
  const bridges: PhoneBridge[] = [];
  let clock: { stop(): void } | null = null;
  const silence = g711Encode(CODEC, new Int16Array(FRAME));
  /** Bursts: global sample index (of A's input) where each starts. */
  const bursts: number[] = [];
  const aIn: Array<{ at: number; frame: Buffer }> = [];
  const mid: Array<{ at: number; seq: number; payload: Buffer }> = [];
  try {
    bridges.push(await joinLeg(roomSid, 'phone-a', a));
    bridges.push(await joinLeg(roomSid, 'phone-b', b));
    const [bridgeA, bridgeB] = bridges as [PhoneBridge, PhoneBridge];
    await sleep(Math.random() * 20);
    clock = frameClock((k) => {
      const start = k * FRAME;
      const pcm = new Int16Array(FRAME);
      let any = false;
      for (const s0 of bursts) {
        for (let j = 0; j < FRAME; j++) {
          const i = start + j - s0;
          if (i >= 0 && i < BURST_SAMPLES) {
            pcm[j] = Math.round(BURST_AMP * Math.sin((2 * Math.PI * BURST_HZ * i) / 8000));
            any = true;
          }
        }
      }
      const frame = any ? g711Encode(CODEC, pcm) : silence;
      const at = a.say(frame);
      aIn[k] = { at, frame };
      b.say(silence);
    });
    await waitFor('A and B to hear each other', () => bridgeA.room.mediaConnected && bridgeB.room.mediaConnected && bridgeA.stats().roomToPhone.sources === 1 && bridgeB.stats().roomToPhone.sources === 1, 30_000);
    await sleep(1500);
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const m0 = { at: performance.now(), cpu: cpuMs(), machine: machineBusyMs(), a: structuredClone(bridgeA.stats()), b: structuredClone(bridgeB.stats()) };
    b.record = [];
    const onRoomAudio = (p: RemoteAudioPacket) => mid.push({ at: performance.now(), seq: p.sequence, payload: Buffer.from(p.payload) });
    bridgeB.room.on('audio', onRoomAudio);
    await sleep(200);
    const fill: Array<[number, number]> = [];
    for (let k = 0; k < BURSTS; k++) {
      const nextFrame = aIn.length + 5;
      bursts.push(nextFrame * FRAME + Math.floor(Math.random() * FRAME));
      const depth: Array<[number, number]> = [];
      const sampler = setInterval(() => depth.push(jitterDepths(bridgeA, bridgeB)), 7);
      await sleep(1000);
      clearInterval(sampler);
      const mean = (i: 0 | 1) => (depth.reduce((x, d) => x + d[i], 0) / depth.length) * 20;
      fill.push([mean(0), mean(1)]);
    }
    bridgeB.room.off('audio', onRoomAudio);
    const outFrames = b.record;
    b.record = null;
    loop.disable();
    const m1 = { at: performance.now(), cpu: cpuMs(), machine: machineBusyMs(), a: structuredClone(bridgeA.stats()), b: structuredClone(bridgeB.stats()) };
    // What the jitter buffers did on the measured path: A's phone buffer, B's buffer for A's stream.
    const jb = (d: 'phoneToRoom' | 'roomToPhone', x: typeof m0.a, y: typeof m0.a): JitterDelta => ({
      underruns: y[d].underruns - x[d].underruns,
      dropped: y[d].dropped - x[d].dropped,
      late: y[d].late - x[d].late,
      lost: y[d].lost - x[d].lost,
    });
    const jitter = { a: jb('phoneToRoom', m0.a, m1.a), b: jb('roomToPhone', m0.b, m1.b) };

    // Input: A's frames as handed over, decoded.
    const inPcm = g711Decode(CODEC, Buffer.concat(aIn.map((f) => f.frame)));
    // Mid: the Opus packets at B's room ingress, in sequence order, decoded here.
    mid.sort((x, y) => ((x.seq - y.seq + 0x18000) & 0xffff) - 0x8000);
    const dec = new OpusDecoder();
    const midPcm = new Int16Array(mid.length * OPUS_FRAME);
    mid.forEach((p, i) => midPcm.set(dec.decode(p.payload), i * OPUS_FRAME));
    dec.close();
    // Out: what B's bridge sent to B's phone.
    const outPcm = g711Decode(CODEC, Buffer.concat(outFrames.map((f) => f.frame)));

    const samples: DelaySample[] = [];
    const missed: string[] = [];
    bursts.forEach((s0, burst) => {
      const inOn = onset(inPcm, 8000, s0 - FRAME, s0 + BURST_SAMPLES + FRAME, 1000);
      if (!inOn) return void missed.push(`burst ${burst}: not found in A's input`);
      const inFrame = Math.floor(inOn.index / FRAME);
      const tIn = aIn[inFrame]!.at + ((inOn.index - inFrame * FRAME) / 8000) * 1000;
      // Search the 800 ms after the burst went in.
      const outFrom = outFrames.findIndex((f) => f.at >= tIn - 25);
      const midFrom = mid.findIndex((p) => p.at >= tIn - 25);
      if (outFrom < 0 || midFrom < 0) return void missed.push(`burst ${burst}: nothing recorded after it (out ${outFrom}, mid ${midFrom})`);
      const outOn = onset(outPcm, 8000, outFrom * FRAME, (outFrom + 40) * FRAME, 1000);
      const midOn = onset(midPcm, 48000, midFrom * OPUS_FRAME, (midFrom + 40) * OPUS_FRAME, 1000);
      if (!outOn || !midOn) return void missed.push(`burst ${burst}: not found ${!midOn ? 'at B\'s room ingress' : ''} ${!outOn ? 'in B\'s output' : ''}`);
      const outFrame = Math.floor(outOn.index / FRAME);
      const tOut = outFrames[outFrame]!.at + ((outOn.index - outFrame * FRAME) / 8000) * 1000;
      const midPacket = Math.floor(midOn.index / OPUS_FRAME);
      const tMid = mid[midPacket]!.at + ((midOn.index - midPacket * OPUS_FRAME) / 48000) * 1000;
      samples.push({ session, burst, totalMs: tOut - tIn, toRoomMs: tMid - tIn, toPhoneMs: tOut - tMid, peakIn: Math.round(inOn.peak), peakOut: Math.round(outOn.peak), jbA: round(fill[burst]![0], 1), jbB: round(fill[burst]![1], 1) });
    });
    const s = (m1.at - m0.at) / 1000;
    return { samples, missed, jitter, loopDelayP99Ms: loop.percentile(99) / 1e6, loopDelayMaxMs: loop.max / 1e6, otherProcessesPct: (m1.machine - m0.machine - (m1.cpu - m0.cpu)) / s / 10 / NPROC };
  } finally {
    clock?.stop();
    await endRoom(roomSid, bridges);
  }
}

// ------------------------------------------------------------------ 3. the steps alone

/**
 * CPU µs per 20 ms frame of each step of the bridge, called in a loop on the voice signal (no
 * room, no timers): where the per-leg time goes. Median of 5 rounds of 500 frames.
 */
function components(): Record<string, number> {
  const g711 = voice(10, 140, 7);
  const pcm8 = g711.map((f) => g711Decode(CODEC, f));
  const up = new Interpolator();
  const pcm48 = pcm8.map((f) => up.process(f));
  const enc = new OpusEncoder(1, 32000);
  const opus = pcm48.map((f) => enc.encode(f));
  const steps: Record<string, (i: number) => void> = {};
  const up2 = new Interpolator();
  const enc2 = new OpusEncoder(1, 32000);
  const dec = new OpusDecoder();
  const down = new Decimator();
  steps['G.711 decode (160 samples)'] = (i) => void g711Decode(CODEC, g711[i]!);
  steps['upsample 8 → 48 kHz'] = (i) => void up2.process(pcm8[i]!);
  steps['Opus encode (32 kb/s)'] = (i) => void enc2.encode(pcm48[i]!);
  steps['Opus decode (one source)'] = (i) => void dec.decode(opus[i]!);
  steps['mix 3 sources'] = (i) => void mixFrames([pcm48[i]!, pcm48[(i + 7) % pcm48.length]!, pcm48[(i + 13) % pcm48.length]!], OPUS_FRAME);
  steps['downsample 48 → 8 kHz'] = (i) => void down.process(pcm48[i]!);
  steps['G.711 encode (160 samples)'] = (i) => void g711Encode(CODEC, pcm8[i]!);
  const out: Record<string, number> = {};
  for (const [name, f] of Object.entries(steps)) {
    for (let i = 0; i < 200; i++) f(i % g711.length);
    const rounds: number[] = [];
    for (let r = 0; r < 5; r++) {
      const c = process.cpuUsage();
      for (let i = 0; i < 500; i++) f(i % g711.length);
      const d = process.cpuUsage(c);
      rounds.push((d.user + d.system) / 500);
    }
    out[name] = round(median(rounds), 1);
  }
  enc.close();
  enc2.close();
  dec.close();
  return out;
}

// ------------------------------------------------------------------ children

// Every measurement runs in a fresh child process with its own server: opusscript keeps all
// codecs of a process in one WebAssembly heap, and its JS wrapper reads and writes PCM at twice
// the address it allocated (HEAPU16.subarray(pointer) with a byte pointer), i.e. in memory other
// codecs own. Depending on the allocation history that corrupts the heap: a full run in one
// process crashed in PhoneBridge.close() (OpusScript.delete: "memory access out of bounds").
// Fresh processes keep one run's damage out of the next; close() errors are counted.

type ChildSpec = { kind: 'steps' } | { kind: 'cpu'; n: number } | { kind: 'delay'; session: number };
const SELF = fileURLToPath(import.meta.url);
const CHILD_TIMEOUT_MS = 240_000;

async function child(spec: ChildSpec): Promise<unknown> {
  if (spec.kind === 'steps') return components();
  await startTelevisit();
  try {
    if (spec.kind === 'cpu') {
      const idle = await measureIdle();
      const run = await cpuRun(spec.n, idle.cpuMsPerS);
      return { ...run, idleCpuMsPerS: idle.cpuMsPerS, closeErrors: [...closeErrors], bridgeLogs: { ...bridgeLogs } };
    }
    await sleep(1000);
    const r = await delaySession(spec.session);
    return { ...r, closeErrors: [...closeErrors], bridgeLogs: { ...bridgeLogs } };
  } finally {
    await stopTelevisit();
  }
}

function runChild<T>(spec: ChildSpec): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const cp = fork(SELF, [`--child=${JSON.stringify(spec)}`], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: { ok: true; value: T } | { ok: false; error: string } | null = null;
    cp.on('message', (m) => (result = m as typeof result));
    const timer = setTimeout(() => cp.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    cp.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(result ?? { ok: false, error: `child ${JSON.stringify(spec)} exited (${code ?? signal}) without a result` });
    });
  });
}

// ------------------------------------------------------------------ run

const CHILD = args.get('child');
if (CHILD) {
  let out: { ok: true; value: unknown } | { ok: false; error: string };
  try {
    out = { ok: true, value: await child(JSON.parse(CHILD) as ChildSpec) };
  } catch (err) {
    out = { ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
  // Run by hand (no IPC channel), e.g. under --cpu-prof: print the result instead.
  if (process.send) process.send(out, () => process.exit(0));
  else {
    console.log(JSON.stringify(out, null, 2));
    process.exit(0);
  }
} else {
  await orchestrate();
}

async function orchestrate(): Promise<void> {
  const mach = machine();
  const results: Record<string, unknown> = {
    machine: mach,
    command: `npm run bench:phone${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
    settings: { legs: LEGS, seconds: SECONDS, repeats: REPEATS, sessions: SESSIONS, bursts: BURSTS, idleSeconds: IDLE_SECONDS, warmupMs: WARMUP_MS, codec: CODEC, jitterDelayMs: 60, opusBitrate: 32000 },
  };
  const failures: string[] = [];
  const closeErrs: string[] = [];
  const logs: Record<string, number> = {};
  const note = (r: { closeErrors: string[]; bridgeLogs: Record<string, number> }) => {
    closeErrs.push(...r.closeErrors);
    for (const [k, v] of Object.entries(r.bridgeLogs)) logs[k] = (logs[k] ?? 0) + v;
  };
  const started = performance.now();
  try {
    console.log(`phone bridge bench: ${mach.nproc} CPUs (${mach.cpuModel}), Node ${mach.node}, load ${mach.loadavg.join(' ')}, commit ${mach.commit}`);

    const steps = await runChild<Record<string, number>>({ kind: 'steps' });
    if (steps.ok) {
      results.stepsCpuUsPerFrame = steps.value;
      console.log('bridge steps alone, CPU µs per 20 ms frame (median of 5 × 500 frames):');
      console.table(steps.value);
    } else failures.push(steps.error);

    type ChildRun = CpuRun & { idleCpuMsPerS: number; closeErrors: string[]; bridgeLogs: Record<string, number> };
    const runs: ChildRun[] = [];
    for (let r = 0; r < REPEATS; r++) {
      for (const n of LEGS) {
        const res = await runChild<ChildRun>({ kind: 'cpu', n });
        if (!res.ok) {
          failures.push(`cpu N=${n} run ${r + 1}: ${res.error}`);
          console.log(`N=${n} run ${r + 1}: FAILED ${res.error.split('\n')[0]}`);
          continue;
        }
        const run = res.value;
        runs.push(run);
        note(run);
        console.log(
          `N=${n} run ${r + 1}: busy ${run.busyMsPerS.toFixed(2)} ms/s/leg, tick CPU ${run.tickCpuMsPerS.toFixed(2)}, process ${run.processCpuPerLegMsPerS.toFixed(1)} ms/s/leg ` +
            `(${run.processCpuPerLegAboveIdleMsPerS.toFixed(1)} above idle ${run.idleCpuMsPerS.toFixed(1)}), frames/s/leg in ${run.phoneFramesIn.toFixed(1)} → room ${run.roomPacketsOut.toFixed(1)}, ` +
            `room ${run.roomPacketsIn.toFixed(1)} → phone ${run.phoneFramesOut.toFixed(1)}, underruns ${run.underrunsToRoom}/${run.underrunsToPhone}, loop p99 ${run.loopDelayP99Ms.toFixed(1)} ms, other ${run.otherProcessesPct.toFixed(0)}%` +
            (run.closeErrors.length ? `, close() threw: ${run.closeErrors.join('; ')}` : ''),
        );
      }
    }
    results.cpuRuns = runs;
    const keys = Object.keys(runs[0] ?? {}).filter((k) => typeof (runs[0] as unknown as Record<string, unknown>)[k] === 'number' && k !== 'n') as Array<keyof CpuRun>;
    const range = (xs: number[], d: number) => [round(Math.min(...xs), d), round(Math.max(...xs), d)];
    const cpuSummary = LEGS.map((n) => {
      const mine = runs.filter((r) => r.n === n);
      const row: Record<string, unknown> = { n, runs: mine.length };
      for (const k of keys) row[k] = round(median(mine.map((r) => r[k] as number)), 3);
      row.busyRange = range(mine.map((r) => r.busyMsPerS), 2);
      row.tickCpuRange = range(mine.map((r) => r.tickCpuMsPerS), 2);
      row.processCpuPerLegRange = range(mine.map((r) => r.processCpuPerLegMsPerS), 1);
      return row;
    });
    results.cpu = cpuSummary;
    console.log('\nCPU per leg, median of runs (ms per second of call; 10 ms/s = 1% of a core):');
    console.table(
      cpuSummary.map((r) => ({
        N: r.n,
        runs: r.runs,
        'busy (wall)': r.busyMsPerS,
        'busy ms/frame': r.busyMsPerFrame,
        'tick CPU': r.tickCpuMsPerS,
        'process ÷ N': r.processCpuPerLegMsPerS,
        '(process − idle) ÷ N': r.processCpuPerLegAboveIdleMsPerS,
        'main thread share': r.mainThreadShare,
        'phone in/s': r.phoneFramesIn,
        'room out/s': r.roomPacketsOut,
        'room in/s': r.roomPacketsIn,
        'phone out/s': r.phoneFramesOut,
        'underruns →room/→phone': `${r.underrunsToRoom}/${r.underrunsToPhone}`,
        'loop p99 ms': r.loopDelayP99Ms,
        'other procs %': r.otherProcessesPct,
      })),
    );

    type ChildDelay = Awaited<ReturnType<typeof delaySession>> & { closeErrors: string[]; bridgeLogs: Record<string, number> };
    const sessions: Array<Record<string, unknown>> = [];
    const samples: DelaySample[] = [];
    const missed: string[] = [];
    for (let s = 0; s < SESSIONS; s++) {
      const res = await runChild<ChildDelay>({ kind: 'delay', session: s });
      if (!res.ok) {
        failures.push(`delay session ${s + 1}: ${res.error}`);
        console.log(`delay session ${s + 1}: FAILED ${res.error.split('\n')[0]}`);
        continue;
      }
      const r = res.value;
      note(r);
      sessions.push({ session: s, samples: r.samples.map((x) => round(x.totalMs)), missed: r.missed, jitter: r.jitter, loopDelayP99Ms: round(r.loopDelayP99Ms), loopDelayMaxMs: round(r.loopDelayMaxMs), otherProcessesPct: round(r.otherProcessesPct, 0), closeErrors: r.closeErrors });
      samples.push(...r.samples);
      missed.push(...r.missed.map((m) => `session ${s + 1} ${m}`));
      console.log(
        `delay session ${s + 1}: A→B ${r.samples.map((x) => x.totalMs.toFixed(1)).join(', ')} ms (split ${r.samples.map((x) => `${x.toRoomMs.toFixed(1)}+${x.toPhoneMs.toFixed(1)}`).join(', ')}; ` +
          `jitter buffers A/B ${r.samples.map((x) => `${x.jbA.toFixed(0)}/${x.jbB.toFixed(0)}`).join(', ')} ms), loop p99/max ${r.loopDelayP99Ms.toFixed(1)}/${r.loopDelayMaxMs.toFixed(0)} ms, other ${r.otherProcessesPct.toFixed(0)}%` +
          (Object.values(r.jitter).some((j) => Object.values(j).some((v) => v > 0)) ? `; jitter buffers A ${JSON.stringify(r.jitter.a)} B ${JSON.stringify(r.jitter.b)}` : '') +
          (r.missed.length ? `; MISSED ${r.missed.join('; ')}` : '') +
          (r.closeErrors.length ? `; close() threw: ${r.closeErrors.join('; ')}` : ''),
      );
    }
    const stat = (xs: number[]) => ({ n: xs.length, median: round(median(xs)), p10: round(percentile(xs, 10)), p90: round(percentile(xs, 90)), min: round(Math.min(...xs)), max: round(Math.max(...xs)) });
    const totals = samples.map((x) => x.totalMs);
    const bySession = new Map<number, number[]>();
    for (const x of samples) bySession.set(x.session, [...(bySession.get(x.session) ?? []), x.totalMs]);
    const withinSession = [...bySession.values()].map((xs) => Math.max(...xs) - Math.min(...xs));
    results.delay = {
      samples: samples.length,
      missed,
      sessions,
      phoneToPhoneMs: stat(totals),
      oneWayBridgeMs: stat(totals.map((x) => x / 2)),
      sessionMediansMs: stat([...bySession.values()].map(median)),
      withinSessionRangeMs: stat(withinSession),
      toRoomMs: stat(samples.map((x) => x.toRoomMs)),
      toPhoneMs: stat(samples.map((x) => x.toPhoneMs)),
      jitterFillAMs: stat(samples.map((x) => x.jbA)),
      jitterFillBMs: stat(samples.map((x) => x.jbB)),
      raw: samples.map((x) => ({ ...x, totalMs: round(x.totalMs), toRoomMs: round(x.toRoomMs), toPhoneMs: round(x.toPhoneMs) })),
    };
    const d = results.delay as Record<string, any>;
    console.log(`\ndelay over ${samples.length} bursts in ${bySession.size} sessions (missed ${missed.length}):`);
    console.table({
      'A in → B out (bridge ×2 + SFU)': d.phoneToPhoneMs,
      'one-way bridge (half)': d.oneWayBridgeMs,
      'A in → B room ingress': d.toRoomMs,
      'B room ingress → B out': d.toPhoneMs,
      'per-session medians (A→B)': d.sessionMediansMs,
      'range within a session': d.withinSessionRangeMs,
      "A's jitter buffer fill": d.jitterFillAMs,
      "B's jitter buffer fill": d.jitterFillBMs,
    });
    // A burst missing downstream is a result (the bridge dropped it), not a failure of the bench,
    // unless most are missing.
    if (samples.length < (SESSIONS * BURSTS) / 2) failures.push(`delay: only ${samples.length} bursts measured, ${missed.length} missed`);
    if (runs.some((r) => r.unsent > 0 || r.clockSkips > 0)) failures.push('frames unsent or clock skips during a measured window');
  } catch (err) {
    failures.push(err instanceof Error ? (err.stack ?? err.message) : String(err));
  } finally {
    results.closeErrors = closeErrs;
    results.bridgeLogs = logs;
    results.failures = failures;
    results.minutes = round((performance.now() - started) / 60_000, 1);
    fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
    fs.writeFileSync(RESULTS, JSON.stringify(results, null, 2) + '\n');
    if (closeErrs.length) console.log(`\nPhoneBridge.close() threw ${closeErrs.length}×: ${[...new Set(closeErrs)].join('; ')}`);
    if (Object.keys(logs).length) console.log(`bridge warnings/errors: ${JSON.stringify(logs)}`);
    for (const f of failures) console.error(`FAILED: ${f}`);
    console.log(`\nwritten: ${path.relative(ROOT, RESULTS)} (${results.minutes} min)`);
    process.exit(failures.length ? 1 : 0);
  }
}
