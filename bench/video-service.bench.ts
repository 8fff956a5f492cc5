// Benchmark of the video service's hot paths, on SQLite and on PostgreSQL:
//   1. access token verification (in-process, tv.tokens.verify in a loop),
//   2. REST room create  (POST /v1/Rooms),
//   3. REST room fetch   (GET /v1/Rooms/{sid}).
// The server runs in this process; the HTTP load (autocannon) runs in a forked child process so
// the client does not compete with the server for this process's event loop. Every phase is
// time-bounded, all traffic is on 127.0.0.1, and the data (temp dir / PostgreSQL schema) is
// removed afterwards. Run with `npm run bench`; results go to stdout and
// bench/results/video-service.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { EventEmitter } from 'node:events';
import type { Televisit } from '../src/app.js';

const CLIENT_FLAG = '--autocannon-client';
const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

const TOKEN_WARMUP_MS = 1_000;
const TOKEN_MEASURE_MS = 3_000;
const TOKEN_POOL = 64;
const HTTP_CONNECTIONS = 10;
const HTTP_WARMUP_S = 1;
const HTTP_MEASURE_S = 5;
const FETCH_ROOMS = 200;
/** A child that has not reported back this long after its expected end is killed. */
const CHILD_GRACE_MS = 30_000;
/** The whole run is aborted if it takes longer than this. */
const WATCHDOG_MS = 170_000;

type DbKind = 'sqlite' | 'postgres';

// ---------------------------------------------------------------------------------------------
// Minimal typings for the part of autocannon used here (the package ships no types).

interface AcRequest {
  method?: string;
  path?: string;
  body?: string;
  headers?: Record<string, string>;
  setupRequest?: (req: AcRequest, context: Record<string, unknown>) => AcRequest;
}

interface AcOptions {
  url: string;
  connections: number;
  duration: number;
  method?: string;
  headers?: Record<string, string>;
  requests?: AcRequest[];
}

interface AcResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  requests: { total: number; average: number };
  latency: { p50: number; p99: number };
  statusCodeStats?: Record<string, { count: number }>;
}

type Autocannon = (opts: AcOptions, cb: (err: Error | null, result: AcResult) => void) => EventEmitter;

// ---------------------------------------------------------------------------------------------
// Shared shapes and helpers.

interface ClientJob {
  kind: 'create' | 'fetch';
  url: string;
  authorization: string;
  connections: number;
  warmupS: number;
  durationS: number;
  namePrefix: string;
  roomSids: string[];
}

interface LoadResult {
  /** Completed 2xx responses in the measured run. */
  ok: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationS: number;
  /** 2xx responses per second over the measured run. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  statusCodes: Record<string, number>;
  /** 2xx responses during the warm-up run (rooms created before the measured run, for create). */
  warmupOk: number;
}

interface TokenResult {
  verifications: number;
  durationS: number;
  perSecond: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

interface DbResult {
  database: DbKind;
  tokens: TokenResult;
  roomCreate: LoadResult;
  roomFetch: LoadResult;
  /** Rooms found in the store after the create phase (must equal warm-up + measured 2xx). */
  roomsStored: number;
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

// ---------------------------------------------------------------------------------------------
// Child process: runs autocannon against the server and reports one LoadResult over IPC.

async function runAutocannon(job: ClientJob, durationS: number, runTag: string): Promise<LoadResult> {
  const require = createRequire(import.meta.url);
  const autocannon = require('autocannon') as Autocannon;
  const headers: Record<string, string> = { authorization: job.authorization };
  let n = 0;
  const requests: AcRequest[] =
    job.kind === 'create'
      ? [
          {
            method: 'POST',
            path: '/v1/Rooms',
            headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
            setupRequest: (req) => ({ ...req, body: `UniqueName=${job.namePrefix}-${runTag}-${n++}` }),
          },
        ]
      : [
          {
            method: 'GET',
            headers,
            setupRequest: (req) => ({ ...req, path: `/v1/Rooms/${job.roomSids[n++ % job.roomSids.length]}` }),
          },
        ];

  // autocannon's own histogram has 1 ms resolution; keep the exact (hrtime) latency of every
  // 2xx response to report sub-millisecond percentiles.
  const latencies: number[] = [];
  const result = await new Promise<AcResult>((resolve, reject) => {
    const tracker = autocannon(
      { url: job.url, connections: job.connections, duration: durationS, requests },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    tracker.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
  const sorted = Float64Array.from(latencies).sort();
  const sum = latencies.reduce((a, b) => a + b, 0);
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = count;
  return {
    ok: result['2xx'],
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: result.duration,
    rps: result['2xx'] / result.duration,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    meanMs: latencies.length ? sum / latencies.length : NaN,
    maxMs: sorted.length ? sorted[sorted.length - 1]! : NaN,
    statusCodes,
    warmupOk: 0,
  };
}

async function clientMain(): Promise<void> {
  const job = await new Promise<ClientJob>((resolve) => process.once('message', (m) => resolve(m as ClientJob)));
  const warmup = job.warmupS > 0 ? await runAutocannon(job, job.warmupS, 'w') : undefined;
  const measured = await runAutocannon(job, job.durationS, 'm');
  measured.warmupOk = warmup?.ok ?? 0;
  process.send!(measured, () => process.disconnect());
}

/** Forks this file as an autocannon client, gives it the job, and waits (bounded) for its result. */
function runClient(job: ClientJob): Promise<LoadResult> {
  const child = fork(fileURLToPath(import.meta.url), [CLIENT_FLAG], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<LoadResult>((resolve, reject) => {
    let settled = false;
    const limit = setTimeout(
      () => {
        child.kill('SIGKILL');
        finish(new Error(`autocannon client (${job.kind}) did not finish in time`));
      },
      (job.warmupS + job.durationS) * 1000 + CHILD_GRACE_MS,
    );
    const finish = (err: Error | null, result?: LoadResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(limit);
      if (err) reject(err);
      else resolve(result!);
    };
    child.once('message', (m) => finish(null, m as LoadResult));
    child.once('error', (err) => finish(err));
    child.once('exit', (code, signal) => finish(new Error(`autocannon client exited (${code ?? signal}) without a result`)));
    child.send(job);
  });
}

// ---------------------------------------------------------------------------------------------
// Parent: the server, the phases, the report.

interface BenchServer {
  tv: Televisit;
  url: string;
  accountSid: string;
  apiKey: string;
  apiSecret: string;
  stop(): Promise<void>;
}

async function startServer(db: DbKind): Promise<BenchServer> {
  const { loadConfig } = await import('../src/config.js');
  const { createTelevisit } = await import('../src/app.js');
  const pg = (await import('pg')).default;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'televisit-bench-'));
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const creds = {
    TWILIO_ACCOUNT_SID: 'AC' + randomBytes(16).toString('hex'),
    TWILIO_AUTH_TOKEN: randomBytes(16).toString('hex'),
    TWILIO_API_KEY: 'SK' + randomBytes(16).toString('hex'),
    TWILIO_API_SECRET: randomBytes(16).toString('hex'),
  };
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    ...(db === 'postgres' ? { DATABASE_URL } : {}),
    ...creds,
  });
  const dropData = async () => {
    if (db === 'postgres') {
      const admin = new pg.Client({ connectionString: DATABASE_URL });
      await admin.connect();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await admin.end();
      }
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  let tv: Televisit;
  try {
    tv = await createTelevisit(config, { sweepIntervalMs: 0, ...(db === 'postgres' ? { databaseSchema: schema } : {}) });
  } catch (err) {
    await dropData().catch(() => undefined);
    throw err;
  }
  const address = await tv.listen();
  const url = address.replace('[::1]', '127.0.0.1');
  (tv.config as { publicUrl: string }).publicUrl = url;
  return {
    tv,
    url,
    accountSid: creds.TWILIO_ACCOUNT_SID,
    apiKey: creds.TWILIO_API_KEY,
    apiSecret: creds.TWILIO_API_SECRET,
    async stop() {
      try {
        await tv.close();
      } finally {
        await dropData();
      }
    },
  };
}

async function benchTokens(s: BenchServer): Promise<TokenResult> {
  const twilio = (await import('twilio')).default;
  const tokens: string[] = [];
  for (let i = 0; i < TOKEN_POOL; i++) {
    const at = new twilio.jwt.AccessToken(s.accountSid, s.apiKey, s.apiSecret, { identity: `bench-user-${i}` });
    at.addGrant(new twilio.jwt.AccessToken.VideoGrant({ room: 'r' }));
    tokens.push(at.toJwt());
  }
  // Sanity: a token verifies to what was put in.
  const check = await s.tv.tokens.verify(tokens[0]);
  if (check.identity !== 'bench-user-0' || check.video?.room !== 'r') throw new Error('token verification returned unexpected claims');

  let i = 0;
  const warmupEnd = performance.now() + TOKEN_WARMUP_MS;
  while (performance.now() < warmupEnd) await s.tv.tokens.verify(tokens[i++ % TOKEN_POOL]);

  const latencies: number[] = [];
  const start = performance.now();
  const end = start + TOKEN_MEASURE_MS;
  let now = start;
  while (now < end) {
    const t0 = now;
    await s.tv.tokens.verify(tokens[i++ % TOKEN_POOL]);
    now = performance.now();
    latencies.push(now - t0);
  }
  const elapsedS = (now - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    verifications: latencies.length,
    durationS: round(elapsedS, 3),
    perSecond: latencies.length / elapsedS,
    p50Us: percentile(sorted, 50) * 1000,
    p99Us: percentile(sorted, 99) * 1000,
    maxUs: sorted[sorted.length - 1]! * 1000,
  };
}

function basicAuthHeader(s: BenchServer): string {
  return 'Basic ' + Buffer.from(`${s.apiKey}:${s.apiSecret}`).toString('base64');
}

async function countRooms(s: BenchServer): Promise<number> {
  const row = await s.tv.database.db
    .selectFrom('rooms')
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Creates rooms for the fetch phase over REST and checks one of them reads back. */
async function seedRooms(s: BenchServer, count: number): Promise<string[]> {
  const authorization = basicAuthHeader(s);
  const sids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${s.url}/v1/Rooms`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: `UniqueName=bench-fetch-${i}`,
    });
    if (res.status !== 201) throw new Error(`seeding room ${i}: HTTP ${res.status} ${await res.text()}`);
    sids.push(((await res.json()) as { sid: string }).sid);
  }
  const res = await fetch(`${s.url}/v1/Rooms/${sids[0]}`, { headers: { authorization } });
  const body = (await res.json()) as { sid?: string; unique_name?: string };
  if (res.status !== 200 || body.sid !== sids[0] || body.unique_name !== 'bench-fetch-0') {
    throw new Error(`fetching a seeded room: HTTP ${res.status} ${JSON.stringify(body)}`);
  }
  return sids;
}

async function benchDatabase(db: DbKind): Promise<DbResult> {
  const s = await startServer(db);
  try {
    process.stdout.write(`[${db}] token verification (${TOKEN_WARMUP_MS / 1000} s warm-up + ${TOKEN_MEASURE_MS / 1000} s)…\n`);
    const tokens = await benchTokens(s);

    const job: Omit<ClientJob, 'kind'> = {
      url: s.url,
      authorization: basicAuthHeader(s),
      connections: HTTP_CONNECTIONS,
      warmupS: HTTP_WARMUP_S,
      durationS: HTTP_MEASURE_S,
      namePrefix: `bench-create-${db}`,
      roomSids: [],
    };
    process.stdout.write(`[${db}] POST /v1/Rooms (${HTTP_WARMUP_S} s warm-up + ${HTTP_MEASURE_S} s, ${HTTP_CONNECTIONS} connections)…\n`);
    const roomsBefore = await countRooms(s);
    const roomCreate = await runClient({ ...job, kind: 'create' });
    const roomsStored = (await countRooms(s)) - roomsBefore;

    process.stdout.write(`[${db}] GET /v1/Rooms/{sid} over ${FETCH_ROOMS} rooms (${HTTP_WARMUP_S} s warm-up + ${HTTP_MEASURE_S} s, ${HTTP_CONNECTIONS} connections)…\n`);
    const roomSids = await seedRooms(s, FETCH_ROOMS);
    const roomFetch = await runClient({ ...job, kind: 'fetch', roomSids });

    return { database: db, tokens, roomCreate, roomFetch, roomsStored };
  } finally {
    await s.stop();
  }
}

function formatTable(results: DbResult[]): string {
  const fmt = (v: number, digits = 0) => (Number.isFinite(v) ? v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');
  const header = ['Metric', ...results.map((r) => (r.database === 'sqlite' ? 'SQLite' : 'PostgreSQL'))];
  const rows: string[][] = [
    header,
    ['Token verifications / s (1 in flight)', ...results.map((r) => fmt(r.tokens.perSecond))],
    ['Token verify p50 (µs)', ...results.map((r) => fmt(r.tokens.p50Us, 1))],
    ['Token verify p99 (µs)', ...results.map((r) => fmt(r.tokens.p99Us, 1))],
    ['Room create req/s (POST /v1/Rooms)', ...results.map((r) => fmt(r.roomCreate.rps))],
    ['Room create p50 (ms)', ...results.map((r) => fmt(r.roomCreate.p50Ms, 2))],
    ['Room create p99 (ms)', ...results.map((r) => fmt(r.roomCreate.p99Ms, 2))],
    ['Room fetch req/s (GET /v1/Rooms/{sid})', ...results.map((r) => fmt(r.roomFetch.rps))],
    ['Room fetch p50 (ms)', ...results.map((r) => fmt(r.roomFetch.p50Ms, 2))],
    ['Room fetch p99 (ms)', ...results.map((r) => fmt(r.roomFetch.p99Ms, 2))],
    ['Non-2xx / errors (create, fetch)', ...results.map((r) => `${r.roomCreate.non2xx + r.roomCreate.errors + r.roomCreate.timeouts}, ${r.roomFetch.non2xx + r.roomFetch.errors + r.roomFetch.timeouts}`)],
  ];
  const widths = header.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => '| ' + r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(header), sep, ...rows.slice(1).map(line)].join('\n');
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    process.stderr.write(`benchmark aborted: still running after ${WATCHDOG_MS / 1000} s\n`);
    process.exit(2);
  }, WATCHDOG_MS);
  watchdog.unref();

  const startedAt = new Date();
  const results: DbResult[] = [];
  const problems: string[] = [];
  for (const db of ['sqlite', 'postgres'] as const) {
    try {
      results.push(await benchDatabase(db));
    } catch (err) {
      problems.push(`${db}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  for (const r of results) {
    for (const [phase, l] of [['create', r.roomCreate], ['fetch', r.roomFetch]] as const) {
      if (l.non2xx || l.errors || l.timeouts) problems.push(`${r.database} ${phase}: ${l.non2xx} non-2xx (${JSON.stringify(l.statusCodes)}), ${l.errors} errors, ${l.timeouts} timeouts`);
    }
    // Requests still in flight when autocannon stops a run (at most one per connection, for the
    // warm-up and the measured run) complete on the server without being counted by the client.
    const answered = r.roomCreate.warmupOk + r.roomCreate.ok;
    if (r.roomsStored < answered || r.roomsStored > answered + 2 * HTTP_CONNECTIONS) {
      problems.push(`${r.database}: ${r.roomsStored} rooms stored but ${answered} creates answered 2xx`);
    }
  }

  const cpus = os.cpus();
  const report = {
    benchmark: 'video-service',
    date: startedAt.toISOString(),
    command: 'npm run bench',
    machine: {
      cpus: os.availableParallelism(),
      cpuModel: cpus[0]?.model ?? 'unknown',
      memoryGiB: round(os.totalmem() / 2 ** 30, 1),
      node: process.version,
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    },
    settings: {
      tokens: { warmupMs: TOKEN_WARMUP_MS, measureMs: TOKEN_MEASURE_MS, inFlight: 1, distinctTokens: TOKEN_POOL },
      http: {
        client: 'autocannon in a forked child process',
        connections: HTTP_CONNECTIONS,
        warmupS: HTTP_WARMUP_S,
        measureS: HTTP_MEASURE_S,
        fetchRooms: FETCH_ROOMS,
        auth: 'Basic (API key SID : secret)',
      },
      postgres: DATABASE_URL,
    },
    results: results.map((r) => ({
      database: r.database,
      tokens: { ...r.tokens, perSecond: round(r.tokens.perSecond, 0), p50Us: round(r.tokens.p50Us, 1), p99Us: round(r.tokens.p99Us, 1), maxUs: round(r.tokens.maxUs, 1) },
      roomCreate: roundLoad(r.roomCreate),
      roomFetch: roundLoad(r.roomFetch),
      roomsStored: r.roomsStored,
    })),
    problems,
  };
  const outDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
  fs.mkdirSync(outDir, { recursive: true });
  const outFile = path.join(outDir, 'video-service.json');
  fs.writeFileSync(outFile, JSON.stringify(report, null, 2) + '\n');

  process.stdout.write(`\nVideo service benchmark — ${report.date}\n`);
  process.stdout.write(`${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.memoryGiB} GiB, Node ${report.machine.node}\n\n`);
  if (results.length) process.stdout.write(formatTable(results) + '\n\n');
  process.stdout.write(`Results written to ${path.relative(process.cwd(), outFile)}\n`);
  if (problems.length) {
    process.stderr.write(`\nProblems:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    process.exitCode = 1;
  }
  clearTimeout(watchdog);
}

function roundLoad(l: LoadResult): LoadResult {
  return { ...l, rps: round(l.rps, 0), p50Ms: round(l.p50Ms, 3), p99Ms: round(l.p99Ms, 3), meanMs: round(l.meanMs, 3), maxMs: round(l.maxMs, 3), durationS: round(l.durationS, 3) };
}

if (process.argv.includes(CLIENT_FLAG)) {
  clientMain().catch((err: unknown) => {
    process.stderr.write(`autocannon client failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    process.stderr.write(`benchmark failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
