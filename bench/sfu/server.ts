// The server side of the SFU benchmark: a real Televisit (createTelevisit, the default
// configuration, SQLite in a temporary DATA_DIR, LOG_LEVEL=silent) on 127.0.0.1, on a random
// port. The benchmark starts this file pinned to one core:
//   taskset -c 0 node --expose-gc --import tsx bench/sfu/server.ts
// and talks to it with the line protocol of ./protocol.ts on stdin/stdout. The Twilio
// credentials and the data dir come from the environment (SFU_BENCH_DATA_DIR, TWILIO_*).
import fs from 'node:fs';
import readline from 'node:readline';
import { Session } from 'node:inspector';
import { performance } from 'node:perf_hooks';
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MARKER, type ServerMemory, type ServerReady, type ServerRequest, type ServerSample } from './protocol.js';

const env = process.env;
// SFU_BENCH_PEER_TRANSPORT=file.ts: the server uses that PeerTransport instead of
// src/media/peer-transport.ts (a before/after comparison without touching src/), e.g. werift's
// send path (the file must live inside the repository, where 'werift' resolves):
//   git show 77f4623:src/media/peer-transport.ts | sed "s#from '\./#from '$PWD/src/media/#" > bench/results/pt-old.ts
if (env.SFU_BENCH_PEER_TRANSPORT) {
  const replacement = pathToFileURL(env.SFU_BENCH_PEER_TRANSPORT).href;
  const hook = `export async function resolve(s, c, next) { const r = await next(s, c); return r.url.endsWith('/src/media/peer-transport.ts') ? { ...r, url: ${JSON.stringify(replacement)} } : r; }`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
}
console.log(`PeerTransport from ${env.SFU_BENCH_PEER_TRANSPORT ?? 'src/media/peer-transport.ts'}`);
const { loadConfig } = await import('../../src/config.js');
// The production process's GC setting (src/main.ts), unless the run compares without it.
if (env.SFU_BENCH_DEFAULT_GC !== '1') (await import('../../src/gc-tuning.js')).tuneGarbageCollector();
const { createTelevisit } = await import('../../src/app.js');
const dataDir = env.SFU_BENCH_DATA_DIR;
if (!dataDir) {
  console.error('SFU_BENCH_DATA_DIR is not set: this script is started by bench/sfu.bench.ts');
  process.exit(2);
}

const config = loadConfig({
  PORT: '0',
  HOST: '127.0.0.1',
  DATA_DIR: dataDir,
  LOG_LEVEL: 'silent',
  TWILIO_ACCOUNT_SID: env.TWILIO_ACCOUNT_SID,
  TWILIO_AUTH_TOKEN: env.TWILIO_AUTH_TOKEN,
  TWILIO_API_KEY: env.TWILIO_API_KEY,
  TWILIO_API_SECRET: env.TWILIO_API_SECRET,
});
const tv = await createTelevisit(config);
const url = (await tv.listen()).replace('[::1]', '127.0.0.1');

function out(value: unknown): void {
  process.stdout.write(MARKER + JSON.stringify(value) + '\n');
}

function sample(): ServerSample {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  const elu = performance.eventLoopUtilization();
  let packetsIn = 0;
  let packetsOut = 0;
  let dropped = 0;
  let tracks = 0;
  let forwarders = 0;
  const rooms = tv.signaling.mediaStats();
  for (const room of rooms) {
    for (const track of room.tracks) {
      tracks++;
      for (const n of track.layerPackets) packetsIn += n ?? 0;
      for (const f of track.forwarders) {
        forwarders++;
        packetsOut += f.forwarded;
        dropped += f.dropped;
      }
    }
  }
  return {
    hrNs: Number(process.hrtime.bigint()),
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    eluIdleMs: elu.idle,
    eluActiveMs: elu.active,
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    packetsIn,
    packetsOut,
    dropped,
    rooms: rooms.length,
    tracks,
    forwarders,
    sessions: tv.signaling.sessionCount,
  };
}

function memory(): ServerMemory {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  return { gc: !!gc, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

// In-process V8 CPU profile (or allocation sampling) of a chosen window (only with the benchmark's --profile).
let inspector: Session | null = null;
let profileKind: 'cpu' | 'heap' = 'cpu';
function post(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
  return new Promise((resolve, reject) => inspector!.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));
}

async function handle(req: ServerRequest): Promise<unknown> {
  switch (req.cmd) {
    case 'sample':
      return sample();
    case 'memory':
      return memory();
    case 'profile-start':
      inspector = new Session();
      inspector.connect();
      profileKind = req.kind ?? 'cpu';
      if (profileKind === 'heap') {
        // Where the garbage comes from: every sampled allocation, also those already collected.
        await post('HeapProfiler.enable');
        await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
        return true;
      }
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 200 });
      await post('Profiler.start');
      return true;
    case 'profile-stop': {
      if (!inspector) throw new Error('no profile running');
      const { profile } = (await post(profileKind === 'heap' ? 'HeapProfiler.stopSampling' : 'Profiler.stop')) as { profile: unknown };
      fs.writeFileSync(req.path, JSON.stringify(profile));
      inspector.disconnect();
      inspector = null;
      return req.path;
    }
    case 'quit':
      await shutdown(0);
      return true;
  }
}

let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(code), 5000);
  timer.unref();
  await tv.close().catch(() => undefined);
  process.exit(code);
}

process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));
// The parent went away (stdin closed): never outlive it.
const lines = readline.createInterface({ input: process.stdin });
lines.on('close', () => void shutdown(0));
lines.on('line', (line) => {
  let req: ServerRequest;
  try {
    req = JSON.parse(line) as ServerRequest;
  } catch {
    return;
  }
  handle(req).then(
    (value) => out({ id: req.id, ok: true, value }),
    (err: unknown) => out({ id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});

const ready: ServerReady = { ready: true, url, pid: process.pid, node: process.version };
out(ready);
