// Micro-benchmark of the SFU's per-subscriber send path: CPU per forwarded packet of
// PeerTransport.sendRtp (header rewrite, transport-wide numbering, SRTP, UDP send, the downlink
// estimator's bookkeeping), with real werift peers receiving, but without Chromium, the
// signaling server or the publisher's ingest. Repeatable where the full bench (sfu.bench.ts) is
// at the mercy of other load on the machine: one process, fixed packet rate and sizes.
//
//   npx tsx bench/sfu-send-path.bench.ts [--subscribers=8] [--rate=330] [--windows=6] [--window=3]
//                                        [--impl=path/to/peer-transport.ts] [--label=…]
//
// This process pins itself to core 0 (taskset) and holds K server-side PeerTransports, each with
// one video section (addSender) negotiated with a werift peer in a child process pinned to core 1
// (bench/sfu/send-path-peer.ts), SRTP AES_CM_128_HMAC_SHA1_80 as with Chromium, which send
// transport-cc feedback every 100 ms as Chromium and the full bench's subscribers do (the server
// parses it and feeds its downlink estimator: part of what a forwarded packet costs; set
// SEND_PATH_FEEDBACK=0 to leave it out). Every 5 ms it
// forwards its share of `rate` packets/s (payload 1000–1199 bytes, one RtpPacket shared by all
// subscribers, as the SfuRoom does) to every subscriber. It measures process.cpuUsage() over
// `windows` windows of `window` seconds, subtracts the idle cost of the same connected peers
// (measured first, nothing sent) and reports µs per forwarded packet per window and the
// median. A second figure counts only the CPU from just before each 5 ms batch of sends to the
// setImmediate after it (the send calls, their promises and ticks, the socket writes): less
// disturbed by everything else the process does. The receivers check every payload byte, the
// count and the sequence numbers.
//
// `--impl` loads PeerTransport from another file, e.g. the previous version for a before/after:
//   git show 77f4623:src/media/peer-transport.ts | sed "s#from '\./#from '$PWD/src/media/#" > bench/results/pt-old.ts
//   npx tsx bench/sfu-send-path.bench.ts --impl=bench/results/pt-old.ts
import { execFileSync, fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RtpHeader, RtpPacket } from 'werift';
import { DownlinkEstimator } from '../src/media/downlink-estimator.js';
import type { PeerTransport as PeerTransportType } from '../src/media/peer-transport.js';
import { makePayload } from './sfu/send-path-payload.js';
import { coreBusy, percentile, readCoreTimes } from './sfu/stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const K = Number(args.get('subscribers') ?? 8);
const RATE = Number(args.get('rate') ?? 330);
const WINDOWS = Number(args.get('windows') ?? 6);
const WINDOW_MS = 1000 * Number(args.get('window') ?? 3);
const IMPL = args.get('impl') ? path.resolve(args.get('impl')!) : path.join(ROOT, 'src/media/peer-transport.ts');
const LABEL = args.get('label') ?? path.relative(ROOT, IMPL);
const TICK_MS = 5;
const CHROMIUM_EXT_IDS = new Map([
  ['urn:ietf:params:rtp-hdrext:ssrc-audio-level', 1],
  ['http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', 2],
  ['http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', 3],
  ['urn:ietf:params:rtp-hdrext:sdes:mid', 4],
]);

const log = (...m: unknown[]) => console.error('[send-path-bench]', ...m);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pin(core: number, pid: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-cp', String(core), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function main() {
  const pinned = pin(0, process.pid);
  const { PeerTransport } = (await import(pathToFileURL(IMPL).href)) as { PeerTransport: typeof PeerTransportType };
  const child = fork(path.join(ROOT, 'bench/sfu/send-path-peer.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  if (pinned) pin(1, child.pid!);
  const replies = new Map<string, (m: Record<string, unknown>) => void>();
  child.on('message', (m: Record<string, unknown>) => {
    const key = m.type === 'answer' ? `answer:${m.id as number}` : String(m.type);
    replies.get(key)?.(m);
    replies.delete(key);
  });
  const ask = (key: string, msg: unknown) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${key} from the peer process`)), 20_000);
      replies.set(key, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      if (msg) child.send(msg as never);
    });
  await ask('ready', null);

  const subs: { pt: PeerTransportType; t: ReturnType<PeerTransportType['addSender']> }[] = [];
  for (let i = 0; i < K; i++) {
    const pt = new PeerTransport({ hostAddresses: ['127.0.0.1'], allowedRemoteAddresses: ['127.0.0.1'], tcp: false }, ['VP8'], CHROMIUM_EXT_IDS);
    pt.downlink = new DownlinkEstimator();
    const t = pt.addSender('video', `track-${i}`, `stream-${i}`);
    const offer = await pt.offer();
    const answer = await ask(`answer:${i}`, { type: 'answer', id: i, sdp: offer });
    await pt.acceptAnswer(answer.sdp as string);
    subs.push({ pt, t });
  }
  const deadline = Date.now() + 20_000;
  while (!subs.every((s) => s.pt.isConnected && (s.t.sender as unknown as { canSendRtp(): boolean }).canSendRtp())) {
    if (Date.now() > deadline) throw new Error('peers did not connect');
    await sleep(50);
  }
  log(`${K} subscribers connected; impl ${LABEL}; pinned ${pinned}`);

  // A pool of packets as the SfuRoom hands them over (decrypted, extensions cleared).
  const POOL = 1024;
  const pool: RtpPacket[] = [];
  for (let i = 0; i < POOL; i++) pool.push(new RtpPacket(new RtpHeader({ payloadType: 96, ssrc: 0x1234, marker: i % 8 === 7, extensions: [] }), makePayload(i, 1000 + ((i * 37) % 200))));
  let n = 0;
  let out = 0;
  let sending = false;
  /** CPU (µs) from just before each batch to the setImmediate after it (promises, ticks and the socket work included). */
  let batchCpuUs = 0;
  let startedAt = 0;
  let startN = 0;
  const timer = setInterval(() => {
    if (!sending) return;
    // Catch up on late ticks: the input rate stays RATE on a busy machine.
    const due = startN + Math.floor(((performance.now() - startedAt) * RATE) / 1000);
    if (n >= due) return;
    const before = process.cpuUsage();
    setImmediate(() => {
      const d = process.cpuUsage(before);
      batchCpuUs += d.user + d.system;
    });
    while (n < due) {
      const rtp = pool[n % POOL]!;
      rtp.header.sequenceNumber = n & 0xffff;
      rtp.header.timestamp = (Math.floor(n / 8) * 3750) >>> 0;
      rtp.payload.writeUInt32BE(n % POOL, 0);
      for (const s of subs) s.pt.sendRtp(s.t, rtp);
      out += subs.length;
      n++;
    }
  }, TICK_MS);

  const measure = async (ms: number) => {
    const cpu0 = process.cpuUsage();
    const core0 = readCoreTimes();
    const out0 = out;
    const batch0 = batchCpuUs;
    const t0 = performance.now();
    await sleep(ms);
    const dt = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const busy = coreBusy(core0, readCoreTimes(), true);
    const ours = (cpu.user + cpu.system) / 1e6 / dt;
    return { batchUsPerPacket: (batchCpuUs - batch0) / Math.max(1, out - out0), cpuUsPerS: (cpu.user + cpu.system) / dt, sysShare: cpu.system / (cpu.user + cpu.system), packets: out - out0, perS: (out - out0) / dt, others: Math.max(0, (busy.cpu0 ?? 0) - ours) };
  };

  await sleep(1000);
  const idle = [await measure(WINDOW_MS), await measure(WINDOW_MS)];
  const idleUsPerS = Math.min(...idle.map((w) => w.cpuUsPerS));
  log(`idle (connected, nothing sent): ${idle.map((w) => (w.cpuUsPerS / 1000).toFixed(1)).join(', ')} ms CPU/s; others on core 0 ${idle.map((w) => (w.others * 100).toFixed(0) + '%').join(', ')}`);
  sending = true;
  startedAt = performance.now();
  startN = n;
  await sleep(3000); // warm-up: JIT, buffer pools
  const rows: number[] = [];
  const batchRows: number[] = [];
  for (let w = 0; w < WINDOWS; w++) {
    const m = await measure(WINDOW_MS);
    const perPacket = (m.cpuUsPerS - idleUsPerS) / m.perS;
    rows.push(perPacket);
    batchRows.push(m.batchUsPerPacket);
    log(`window ${w + 1}: ${m.perS.toFixed(0)} packets out/s, ${(m.cpuUsPerS / 1000).toFixed(1)} ms CPU/s (sys ${(m.sysShare * 100).toFixed(0)}%), ${perPacket.toFixed(1)} µs/packet net of idle, ${m.batchUsPerPacket.toFixed(1)} µs/packet in the send calls; others on core 0 ${(m.others * 100).toFixed(0)}%`);
  }
  sending = false;
  clearInterval(timer);
  await sleep(500);
  const counts = (await ask('counts', { type: 'counts' })).peers as { received: number; bad: number; gaps: number; profile: number | null }[];
  const received = counts.reduce((s, c) => s + c.received, 0);
  const bad = counts.reduce((s, c) => s + c.bad, 0);
  const gaps = counts.reduce((s, c) => s + c.gaps, 0);
  const profiles = [...new Set(counts.map((c) => c.profile))].join(',');
  const median = percentile(rows, 50);
  console.log(
    JSON.stringify({
      impl: LABEL,
      subscribers: K,
      rate: RATE,
      windows: rows.map((r) => Number(r.toFixed(2))),
      medianUsPerPacket: Number(median.toFixed(2)),
      minUsPerPacket: Number(Math.min(...rows).toFixed(2)),
      sendCallsUsPerPacket: batchRows.map((r) => Number(r.toFixed(2))),
      medianSendCallsUsPerPacket: Number(percentile(batchRows, 50).toFixed(2)),
      idleMsPerS: Number((idleUsPerS / 1000).toFixed(2)),
      sent: out,
      received,
      badPayloads: bad,
      sequenceGaps: gaps,
      srtpProfiles: profiles,
    }),
  );
  for (const s of subs) s.pt.close();
  child.send({ type: 'quit' });
  await sleep(300);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
