// Issue 4, check 3 on a real impaired link: "5 % loss and 200 ms RTT on one participant: video
// keeps decoding (freeze time under 5 % of the test), audio keeps flowing, network quality for
// that participant drops to 1–3 and recovers after." Run it alone, as root (TEST_TRACE=1 prints a
// per-second trace: what each viewer decodes, the server's view, the publisher's encoder);
// docs/benchmarks.md ("5 % loss and 200 ms RTT") has every run and where the time frozen goes.
//
// Three participants with the 3+ options (adaptive simulcast, collaboration mode,
// dominantSpeakerPriority 'high', dominant speaker, networkQuality {local: 1, remote: 1}) and the
// real twilio-video in Chromium. One of them ('lossy', publishing audio and video, subscribed to
// the others) runs its own Chromium in a network namespace behind test/helpers/lossy-link.ts: a
// user-space bridge that drops 5 % of the frames in each direction at random and delays every
// frame by 100 ms each way (this kernel has no netem). The link is measured with ICMP echo before
// the test (RTT ≈ 200 ms, round-trip loss ≈ 1 − 0.95² ≈ 10 %) and the bridge's own counters
// are checked after the impaired period. Needs root, iproute2 and python3; without them the test
// fails (it never skips).
//
// Freezes and stalls are judged over the seconds in which the machine kept up (see the impaired
// loop): on a 2-core machine running other browser suites the server's event loop and Chromium
// stall for hundreds of ms at a time, and those seconds measure the machine, not the link. The
// impairment lasts until 90 such seconds were collected (at most 240 s; fewer fail the test).
// 90 s, not less: the onset of the impairment (the publisher's estimate collapsing, the playout
// delay rising) costs up to about a second of frozen picture once, and a visit lasts minutes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';
import { ADAPTIVE_3PLUS_MANUAL, type AppOrigin, CHROMIUM_ARGS, connectInPage, startAppOrigin } from '../helpers/browser.js';
import { check as checkLossyLink, LossyLink, type LinkStats } from '../helpers/lossy-link.js';
import { writeVoiceWav } from '../helpers/wav.js';
import { MediaSignaling } from '../../src/video/signaling/media-signaling.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const LOSS = 0.05;
const ONE_WAY_MS = 100;
/** Impaired for at least this long, until MEASURED_S seconds were measured, but at most MAX_IMPAIRED_MS. */
const IMPAIRED_MS = 90_000;
const MEASURED_S = 90;
const MAX_IMPAIRED_MS = 240_000;
const cannot = checkLossyLink();
const link = cannot ? null : new LossyLink('tv4los');

let server: TestServer;
let app: AppOrigin;
let hostBrowser: Browser;
let nsBrowser: Browser;
let dir: string;
const linkChecks: string[] = [];
// What the lossy participant's SDK reports on the network_quality channel, and what we answered.
const nqLog: { at: number; sid: string; inputs: unknown; level: number }[] = [];

before(async () => {
  if (!link) return;
  await link.up();
  // The link must be what the test says it is: measured, not assumed.
  const clean = await link.ping(100, 10);
  assert.ok(clean.loss <= 0.01 && clean.rtt && clean.rtt.median < 20, `clean link: ${JSON.stringify(clean)}`);
  await link.impair(LOSS, ONE_WAY_MS);
  const before = await link.stats();
  const impaired = await link.ping(400, 15);
  const after = await link.stats();
  await link.clear();
  const roundTripLoss = 1 - (1 - LOSS) ** 2;
  assert.ok(impaired.rtt, `impaired link answers: ${JSON.stringify(impaired)}`);
  assert.ok(impaired.rtt.min >= 2 * ONE_WAY_MS - 1 && impaired.rtt.median <= 2 * ONE_WAY_MS + 40, `RTT ≈ ${2 * ONE_WAY_MS} ms: ${JSON.stringify(impaired.rtt)}`);
  // 400 echoes: the round-trip loss has a standard deviation of ~1.5 %.
  assert.ok(impaired.loss >= roundTripLoss - 0.055 && impaired.loss <= roundTripLoss + 0.065, `round-trip loss ≈ ${(roundTripLoss * 100).toFixed(1)} % (${LOSS * 100} % each way): ${JSON.stringify(impaired)}`);
  linkChecks.push(`ping clean: median ${clean.rtt!.median} ms, loss ${clean.loss}`);
  linkChecks.push(`ping impaired: ${impaired.received}/${impaired.sent} answered (loss ${(impaired.loss * 100).toFixed(1)} %), RTT min ${impaired.rtt.min} / median ${impaired.rtt.median} / p90 ${impaired.rtt.p90} ms; bridge dropped ${after.ab.dropped - before.ab.dropped}/${after.ab.seen - before.ab.seen} down, ${after.ba.dropped - before.ba.dropped}/${after.ba.seen - before.ba.seen} up`);

  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-lossy-'));
  const wrapper = path.join(dir, 'chromium-in-ns');
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ${link.wrap(['/usr/bin/chromium']).join(' ')} "$@"\n`, { mode: 0o755 });
  server = await startServer('sqlite', { env: { HOST: link.hostIp, ICE_HOST_ADDRESSES: link.hostIp, ICE_ALLOWED_REMOTE_ADDRESSES: `${link.hostIp},${link.nsIp},127.0.0.1` } });
  app = await startAppOrigin({ host: link.hostIp });
  // A steady tone as everyone's microphone (real sound to encode, not Chromium's default beeps).
  writeVoiceWav(path.join(dir, 'voice.wav'), 10, true);
  const args = [...CHROMIUM_ARGS, `--unsafely-treat-insecure-origin-as-secure=${app.url.replace(/\/$/, '')}`, `--use-file-for-fake-audio-capture=${path.join(dir, 'voice.wav')}`];
  hostBrowser = await chromium.launch({ executablePath: '/usr/bin/chromium', args });
  nsBrowser = await chromium.launch({ executablePath: wrapper, args });

  // Record the network-quality inputs the server gets (a wrapper; the scoring is unchanged).
  const proto = MediaSignaling.prototype as unknown as { networkQuality(inputs: unknown): void };
  const original = proto.networkQuality;
  proto.networkQuality = function (this: { quality: { level: number } | null; participantSid: string }, inputs: unknown) {
    original.call(this, inputs);
    nqLog.push({ at: Date.now(), sid: this.participantSid, inputs, level: this.quality?.level ?? -1 });
    if (nqLog.length > 5000) nqLog.splice(0, 1000);
  };
});

after(async () => {
  await hostBrowser?.close().catch(() => undefined);
  await nsBrowser?.close().catch(() => undefined);
  await app?.close();
  await server?.stop();
  link?.down();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const OPTIONS = { ...ADAPTIVE_3PLUS_MANUAL, name: 'lossy-room' };

const join = (browser: Browser, identity: string, extra: Record<string, unknown> = {}): Promise<Page> => connectInPage(browser, server, app.url, identity, { ...OPTIONS, ...extra });

/** Every remote participant's video and audio as this page receives them (WebRTC receiver stats). */
type Inbound = {
  video: { frames: number; freezes: number; freezeSeconds: number; height: number; keyframes: number; received: number; dropped: number; jitterBufferS: number; jitterBufferFrames: number } | null;
  audio: { packets: number; lost: number; concealed: number; samples: number } | null;
};
const inbound = (page: Page): Promise<Record<string, Inbound>> =>
  page.evaluate(async () => {
    const room = (window as any).tv.room;
    const out: Record<string, any> = {};
    for (const p of room.participants.values()) {
      const entry: any = (out[p.identity] = { video: null, audio: null });
      for (const pub of [...p.videoTracks.values(), ...p.audioTracks.values()]) {
        const mst: MediaStreamTrack | undefined = pub.track?.mediaStreamTrack;
        if (!mst) continue;
        for (const pcv2 of room._signaling._peerConnectionManager._peerConnections.values()) {
          const pc = pcv2._peerConnection as RTCPeerConnection;
          const receiver = pc.getReceivers().find((r) => r.track?.id === mst.id);
          if (!receiver) continue;
          (await receiver.getStats()).forEach((s: any) => {
            if (s.type !== 'inbound-rtp') return;
            if (s.kind === 'video') entry.video = { frames: s.framesDecoded ?? 0, freezes: s.freezeCount ?? 0, freezeSeconds: s.totalFreezesDuration ?? 0, height: s.frameHeight ?? 0, keyframes: s.keyFramesDecoded ?? 0, received: s.framesReceived ?? 0, dropped: s.framesDropped ?? 0, jitterBufferS: s.jitterBufferDelay ?? 0, jitterBufferFrames: s.jitterBufferEmittedCount ?? 0 };
            else entry.audio = { packets: s.packetsReceived ?? 0, lost: s.packetsLost ?? 0, concealed: s.concealedSamples ?? 0, samples: s.totalSamplesReceived ?? 0 };
          });
        }
      }
    }
    return out;
  });

/** The trace's view of a publisher's encoder: per simulcast layer, frames encoded and sent, keyframes, and what limits it. */
const outbound = (page: Page): Promise<string> =>
  page.evaluate(async () => {
    const room = (window as any).tv.room;
    const out: string[] = [];
    for (const pcv2 of room._signaling._peerConnectionManager._peerConnections.values()) {
      (await (pcv2._peerConnection as RTCPeerConnection).getStats()).forEach((s: any) => {
        if (s.type === 'outbound-rtp' && s.kind === 'video') out.push(`${s.frameHeight ?? 0}p ${s.framesEncoded ?? 0}e/${s.framesSent ?? 0}s/${s.keyFramesEncoded ?? 0}k${s.qualityLimitationReason && s.qualityLimitationReason !== 'none' ? ` ${s.qualityLimitationReason}` : ''}`);
      });
    }
    return out.join(', ');
  });

type Quality = { local: number | null; remotes: Record<string, number | null> };
const quality = (page: Page): Promise<Quality> => page.evaluate(() => (window as any).tv.quality());

/** Asks for every remote video at 1280x720 (manual content preferences), as a large tile would. */
const preferLarge = (page: Page, nudge = 0) =>
  page.evaluate((n) => {
    for (const p of (window as any).tv.room.participants.values()) for (const pub of p.videoTracks.values()) pub.track?.setContentPreferences({ renderDimensions: { width: 1280, height: 720 - n } });
  }, nudge);

test('5 % loss and 200 ms RTT on one participant: video keeps decoding, audio flows, its network quality drops to 1–3 and recovers', async () => {
  if (!link) throw new Error(`cannot run: ${cannot}`);
  console.log(linkChecks.join('\n'));
  const lossy = await join(nsBrowser, 'lossy');
  const host1 = await join(hostBrowser, 'host1');
  // The third participant publishes audio only: two 720p simulcast encoders and the decoders
  // are already a lot for the 2-core CI machine that runs other browser suites at the same time.
  const host2 = await join(hostBrowser, 'host2', { video: false });
  const pages = { lossy, host1, host2 } as const;
  const sessions = (server.tv.signaling as unknown as { sessions: Map<string, { identity: string; participantSid: string }> }).sessions;
  const lossySid = [...sessions.values()].find((s) => s.identity === 'lossy')!.participantSid;

  // The paths under test: video lossy ← host1, host1 ← lossy, host2 ← lossy; audio both ways.
  const videoPaths = [['lossy', 'host1'], ['host1', 'lossy'], ['host2', 'lossy']] as const;
  const audioPaths = [['lossy', 'host1'], ['lossy', 'host2'], ['host1', 'lossy'], ['host2', 'lossy']] as const;
  const snapshot = async () => {
    const [l, h1, h2] = await Promise.all([inbound(lossy), inbound(host1), inbound(host2)]);
    return { lossy: l, host1: h1, host2: h2 } as Record<keyof typeof pages, Record<string, Inbound>>;
  };
  const levels = async () => {
    const [l, h1, h2] = await Promise.all([quality(lossy), quality(host1), quality(host2)]);
    return { self: l.local, byHost1: h1.remotes.lossy ?? null, byHost2: h2.remotes.lossy ?? null, host1: h1.local, host2: h2.local };
  };
  const sid = (who: string) => [...sessions.values()].find((s) => s.identity === who)!.participantSid;
  const serverView = async () => {
    const room = server.tv.signaling.mediaStats()[0]!;
    const sub = room.subscribers.find((s) => s.subscriber === lossySid);
    const video = room.tracks.find((t) => t.kind === 'video' && t.publisher === lossySid);
    const f = video?.forwarders.find((x) => x.subscriber === sid('host1'));
    const toLossy = room.tracks.find((t) => t.kind === 'video' && t.publisher === sid('host1'))?.forwarders.find((x) => x.subscriber === lossySid);
    const transport = (sessions.get([...sessions.keys()].find((k) => sessions.get(k)!.participantSid === lossySid)!) as unknown as { transport: { pc: { getStats(): Promise<{ values(): Iterable<Record<string, unknown>> } | Map<string, Record<string, unknown>>> } } }).transport;
    let inbound = '';
    try {
      const st = await transport.pc.getStats();
      for (const v of (st as Map<string, Record<string, unknown>>).values()) if (v.type === 'inbound-rtp') inbound += ` ${v.kind}:${v.packetsReceived}/${v.packetsLost}`;
    } catch (e) {
      inbound = String(e);
    }
    const scorer = (sessions.get([...sessions.keys()].find((k) => sessions.get(k)!.participantSid === lossySid)!) as unknown as { msp: { scorer: Record<string, unknown> } }).msp.scorer;
    const nq = `nq up ${(scorer.uplinkLoss as number | null)?.toFixed(3)} down ${(scorer.downlinkLoss as number | null)?.toFixed(3)} rtt ${(scorer.rtt as number | null)?.toFixed(3)} video ${scorer.sendsVideo}`;
    return `${nq} | sub est ${Math.round((sub?.estimate ?? 0) / 1000)}k loss ${sub?.loss?.toFixed(3)} | lossy video order ${video?.layerOrder} kbps ${video?.layerBitrates.map((b) => Math.round(b / 1000))} off ${JSON.stringify(video?.hintedOff)} abandoned ${video?.abandonedPackets} →host1 ${JSON.stringify(f && { layer: f.layer, sw: f.switches, target: f.targetLayer, swMs: f.lastSwitchMs, plis: f.plis, nacks: f.nacks, rtx: f.retransmitted, pd: f.playoutDelayMs })} | →lossy ${JSON.stringify(toLossy && { layer: toLossy.layer, sw: toLossy.switches, plis: toLossy.plis, nacks: toLossy.nacks, rtx: toLossy.retransmitted, pd: toLossy.playoutDelayMs })} | werift${inbound}`;
  };
  const lastInputs = () => JSON.stringify(nqLog.filter((e) => e.sid === lossySid).at(-1));

  // Clean link first: everything decoding, and the lossy participant's level good everywhere.
  let nudges = 0;
  await waitFor('all videos decoding and the lossy participant at level ≥ 4 everywhere', async () => {
    if (nudges++ % 8 === 0) for (const p of Object.values(pages)) await preferLarge(p, nudges % 2);
    const s = await snapshot();
    const q = await levels();
    const decoding = videoPaths.every(([at, from]) => (s[at][from]?.video?.frames ?? 0) > 48);
    return decoding && q.self !== null && q.self >= 4 && (q.byHost1 ?? 0) >= 4 && (q.byHost2 ?? 0) >= 4 ? true : undefined;
  }, 90_000).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(await snapshot())}; ${JSON.stringify(await levels())}; last inputs ${lastInputs()}`);
  });
  console.log(`clean: ${JSON.stringify(await levels())}`);

  // Impaired. Sampled every second. A second counts as "measured" only if the machine kept up in
  // it: the bridge forwarded every frame within 30 ms of its time, the server's event loop never
  // stalled for more than 150 ms, and the clean participants' own round-trip time (as their SDK
  // reports it) stayed under 150 ms. On an overloaded machine (other suites running, a load of
  // 10+ on 2 cores) the link is not what the issue describes — RTTs of a second, not 200 ms — so
  // those seconds are left out of the freeze and stall checks, and the impairment lasts until
  // MEASURED_S seconds were measured (at most MAX_IMPAIRED_MS; fewer measured seconds fail).
  const trace: string[] = [];
  const start = await snapshot();
  const linkBefore: LinkStats = await link.impair(LOSS, ONE_WAY_MS).then(() => link.stats());
  const impairedAt = Date.now();
  type Sample = { t: number; q: Awaited<ReturnType<typeof levels>>; s: Awaited<ReturnType<typeof snapshot>>; measured: boolean; busy: boolean; why: string };
  const samples: Sample[] = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const hostRtt = (who: string, since: number) => {
    const rtts = nqLog.filter((e) => e.sid === sid(who) && e.at >= since).map((e) => Number((e.inputs as { ice?: { rtt?: number } }).ice?.rtt ?? 0));
    return rtts.length ? Math.max(...rtts) : 0;
  };
  let measuredS = 0;
  while ((measuredS < MEASURED_S || Date.now() - impairedAt < IMPAIRED_MS) && Date.now() - impairedAt < MAX_IMPAIRED_MS) {
    const from = Date.now();
    loopDelay.reset();
    await new Promise((r) => setTimeout(r, 1000));
    const [s, q, l] = await Promise.all([snapshot(), levels(), link.stats()]);
    const t = Date.now() - impairedAt;
    const late = Math.max(l.ab.windowLateMs, l.ba.windowLateMs);
    const stall = loopDelay.max / 1e6;
    const rtt = Math.max(hostRtt('host1', from - 1000), hostRtt('host2', from - 1000)) * 1000;
    const why = [late > 30 ? `bridge ${late} ms late` : '', stall > 150 ? `server stalled ${Math.round(stall)} ms` : '', rtt > 150 ? `clean RTT ${Math.round(rtt)} ms` : ''].filter(Boolean).join(', ');
    // The first seconds belong to the change itself (the link's new delay, the publisher's
    // encoder adapting); they are measured like any other.
    // A second right after a busy one still carries its after-effects (late packets, keyframe
    // requests): it counts only if the one before it was clean too.
    // (Only the machine's own busy seconds count here, or one busy second would leave out all
    // that follow.)
    const previousClean = samples.length === 0 || !samples.at(-1)!.busy;
    samples.push({ t, q, s, measured: !why && previousClean, busy: why !== '', why: why || (previousClean ? '' : 'after a busy second') });
    if (!why && previousClean) measuredS += (t - (samples.at(-2)?.t ?? 0)) / 1000;
    trace.push(`${(t / 1000).toFixed(1)}s ${why || 'measured'} q ${JSON.stringify(q)} video ${videoPaths.map(([at, from]) => `${at}←${from} ${s[at][from]?.video?.frames}f/${s[at][from]?.video?.freezeSeconds?.toFixed(2)}s/${s[at][from]?.video?.height}p/${s[at][from]?.video?.keyframes}k`).join(' ')} | lossy ice ${JSON.stringify((nqLog.filter((e) => e.sid === lossySid).at(-1)?.inputs as Record<string, unknown> | undefined)?.ice ?? null)} | server ${process.env.TEST_TRACE ? await serverView() : "-"}${process.env.TEST_TRACE ? ` | lossy out ${await outbound(lossy)} | host1←lossy rx ${s.host1.lossy?.video?.received}/drop ${s.host1.lossy?.video?.dropped}/jb ${s.host1.lossy?.video?.jitterBufferS.toFixed(3)}s/${s.host1.lossy?.video?.jitterBufferFrames}` : ''}`);
  }
  loopDelay.disable();
  const end = samples.at(-1)!.s;
  const impairedS = samples.at(-1)!.t / 1000;
  const linkAfter = await link.stats();
  await link.clear();
  const clearedAt = Date.now();
  if (process.env.TEST_TRACE) console.log(trace.join('\n'));

  // Every check is made and reported; the test fails at the end with all that failed.
  const failures: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) failures.push(what);
  };
  const report: string[] = [];
  const unmeasured = samples.filter((x) => !x.measured);
  report.push(`impaired ${impairedS.toFixed(0)} s, of which ${measuredS.toFixed(0)} s measured (${unmeasured.length} s left out: ${[...new Set(unmeasured.map((x) => x.why.replace(/[0-9]+ ms/g, '…')))].join('; ') || 'none'})`);
  check(measuredS >= MEASURED_S, `the machine was too busy to measure: ${measuredS.toFixed(0)} of ${MEASURED_S} s measured in ${impairedS.toFixed(0)} s (${unmeasured.map((x) => x.why).join('; ')})`);

  // The link really was impaired as stated, both ways, for the whole period.
  for (const d of ['ab', 'ba'] as const) {
    const seen = linkAfter[d].seen - linkBefore[d].seen;
    const dropped = linkAfter[d].dropped - linkBefore[d].dropped;
    check(seen > 2000, `traffic through the link (${d}): ${seen} frames`);
    check(Math.abs(dropped / seen - LOSS) < 0.015, `${d}: ${dropped}/${seen} frames dropped (${LOSS * 100} % asked)`);
    check(linkAfter[d].kernelDrops + linkAfter[d].oversize + linkAfter[d].sendErrors === 0, `no other loss in the bridge (${d}): ${JSON.stringify(linkAfter[d])}`);
  }
  report.push(`link: down ${linkAfter.ab.dropped - linkBefore.ab.dropped}/${linkAfter.ab.seen - linkBefore.ab.seen} frames dropped, up ${linkAfter.ba.dropped - linkBefore.ba.dropped}/${linkAfter.ba.seen - linkBefore.ba.seen}`);

  /** Sum over measured seconds of what `f` adds up in each (from the previous sample). */
  const overMeasured = (f: (a: Sample['s'], b: Sample['s']) => number) => samples.reduce((sum, x, i) => (x.measured ? sum + f(i ? samples[i - 1]!.s : start, x.s) : sum), 0);
  /**
   * Freeze time within measured seconds. WebRTC counts a freeze when it ends, with its whole
   * duration, so what ended in a sample's interval is spread back over the intervals it covered.
   */
  const frozenMeasured = (freezeSeconds: (x: Sample['s']) => number) => {
    let total = 0;
    for (let i = 0; i < samples.length; i++) {
      let left = freezeSeconds(samples[i]!.s) - freezeSeconds(i ? samples[i - 1]!.s : start);
      for (let j = i; j >= 0 && left > 1e-9; j--) {
        const length = (samples[j]!.t - (j ? samples[j - 1]!.t : 0)) / 1000;
        const part = Math.min(left, length);
        if (samples[j]!.measured) total += part;
        left -= part;
      }
    }
    return total;
  };
  // Video keeps decoding: freezes under 5 % of the measured time, frames all along.
  for (const [at, from] of videoPaths) {
    const v = (x: Sample['s']) => x[at][from]?.video ?? { frames: 0, freezes: 0, freezeSeconds: 0, height: 0, keyframes: 0, received: 0, dropped: 0, jitterBufferS: 0, jitterBufferFrames: 0 };
    const frozen = frozenMeasured((x) => v(x).freezeSeconds);
    const frozenAll = v(end).freezeSeconds - v(start).freezeSeconds;
    const fps = overMeasured((a, b) => v(b).frames - v(a).frames) / Math.max(1, measuredS);
    report.push(`video ${at}←${from}: ${fps.toFixed(1)} fps, ${frozen.toFixed(2)} s frozen in ${measuredS.toFixed(0)} measured s (${((100 * frozen) / Math.max(1, measuredS)).toFixed(1)} %; ${frozenAll.toFixed(2)} s in all ${impairedS.toFixed(0)} s), ${v(end).height}p at the end`);
    if (measuredS < 1) continue; // already a failure above: nothing to judge
    check(frozen < 0.05 * measuredS, `${at} decoding ${from}'s video: ${frozen.toFixed(2)} s frozen in ${measuredS.toFixed(0)} measured s (issue 4: under 5 %)`);
    check(fps >= 10, `${at} decodes ${from}'s video at ${fps.toFixed(1)} fps`);
  }
  // No 5 measured seconds in a row without new video frames or audio (packets, and at least 1 s of
  // decoded samples), both ways.
  for (let i = 5; i < samples.length; i++) {
    const window = samples.slice(i - 5, i + 1);
    if (!window.slice(1).every((x) => x.measured)) continue;
    const [a, b] = [window[0]!, window[5]!];
    for (const [at, from] of videoPaths) check((b.s[at][from]?.video?.frames ?? 0) > (a.s[at][from]?.video?.frames ?? 0), `${at} decoded no frame of ${from}'s video between ${a.t} and ${b.t} ms`);
    for (const [at, from] of audioPaths) {
      const x0 = a.s[at][from]?.audio;
      const x1 = b.s[at][from]?.audio;
      // Decoded (not concealed) samples: real audio played, not loss concealment. (Headless
      // Chromium plays nothing out, so totalAudioEnergy stays 0 and is not used.)
      check(!!x0 && !!x1 && x1.packets > x0.packets && x1.samples - x1.concealed > x0.samples - x0.concealed + 48_000, `${at}: ${from}'s audio stalled between ${a.t} and ${b.t} ms: ${JSON.stringify([x0, x1])}`);
    }
  }
  for (const [at, from] of audioPaths) {
    const a = start[at][from]!.audio!;
    const b = end[at][from]!.audio!;
    const pps = (b.packets - a.packets) / impairedS;
    report.push(`audio ${at}←${from}: ${pps.toFixed(1)} packets/s, ${(((b.lost - a.lost) / Math.max(1, b.packets - a.packets + b.lost - a.lost)) * 100).toFixed(1)} % lost after retransmission, ${(((b.concealed - a.concealed) / Math.max(1, b.samples - a.samples)) * 100).toFixed(1)} % of samples concealed`);
    check(pps > 30, `${at} receives ${from}'s audio: ${pps.toFixed(1)} packets/s`);
  }

  // Network quality of the impaired participant, as it sees itself and as the others see it
  // (remote verbosity): down to 1–3 within 15 s, and there for (nearly) the rest of the period.
  for (const who of ['self', 'byHost1', 'byHost2'] as const) {
    const series = samples.map((x) => ({ t: x.t, level: x.q[who] }));
    const levels = series.map((x) => x.level ?? '-').join('');
    const first = series.find((x) => x.level !== null && x.level >= 1 && x.level <= 3);
    check(!!first && first.t <= 15_000, `${who}: level 1–3 within 15 s of the impairment: ${levels}`);
    if (first) {
      const later = series.filter((x) => x.t >= first.t);
      const inRange = later.filter((x) => x.level !== null && x.level >= 1 && x.level <= 3).length;
      check(inRange >= 0.9 * later.length, `${who}: level 1–3 for the rest of the impaired period (${inRange}/${later.length}): ${levels}`);
    }
    report.push(`level ${who.padEnd(7)} while impaired, one a second: ${levels}${first ? ` (1–3 from ${(first.t / 1000).toFixed(1)} s)` : ''}`);
  }
  report.push(`host1 / host2 own levels while impaired: ${samples.map((x) => x.q.host1 ?? '-').join('')} / ${samples.map((x) => x.q.host2 ?? '-').join('')}`);

  // Recovery: ≥ 4 everywhere after the impairment is lifted, and decoding goes on.
  const recovered = await waitFor('the lossy participant back at level ≥ 4 (self and as seen by the others)', async () => {
    const q = await levels();
    return (q.self ?? 0) >= 4 && (q.byHost1 ?? 0) >= 4 && (q.byHost2 ?? 0) >= 4 ? q : undefined;
  }, 60_000).catch(async (err: Error) => {
    failures.push(`${err.message}: ${JSON.stringify(await levels())}; last inputs ${lastInputs()}`);
    return null;
  });
  if (recovered) report.push(`recovered: ${JSON.stringify(recovered)} ${((Date.now() - clearedAt) / 1000).toFixed(1)} s after the impairment was lifted`);
  const afterClear = await snapshot();
  await new Promise((r) => setTimeout(r, 3000));
  const later = await snapshot();
  for (const [at, from] of videoPaths) check(later[at][from]!.video!.frames > afterClear[at][from]!.video!.frames + 24, `${at} still decodes ${from}'s video after the impairment`);
  console.log(report.join('\n'));
  assert.deepEqual(failures, [], `${failures.length} check(s) failed; the last seconds:\n${trace.slice(-10).join('\n')}`);
});
