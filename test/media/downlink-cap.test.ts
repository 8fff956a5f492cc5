// Issue 4, check 2 on a real impaired link: one subscriber's downlink is capped at 300 kbit/s; it
// gets a lower simulcast layer within a few seconds without long freezes, while another subscriber
// keeps the top layer; when the cap is lifted it climbs back.
//
// The capped subscriber's Chromium runs in a network namespace this test creates, joined to the
// host by a veth pair on a private 10.204.x.0/30. Its downlink (what arrives on its end of the
// veth) is redirected to an IFB device inside the namespace and shaped there with tbf (300 kbit/s,
// at most 300 ms of queue): all impairment lives in the namespace. This kernel has no netem (tbf
// is what it offers), so the 5 % loss / 200 ms RTT check of issue 4 is not made here.
// Needs root (ip netns) and iproute2; without them the test fails loudly (it never skips).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';
import { ADAPTIVE_3PLUS_MANUAL, type AppOrigin, CHROMIUM_ARGS, connectInPage, startAppOrigin } from '../helpers/browser.js';

const id = process.pid % 250;
const NS = `tv4cap${process.pid}`;
const HOST_IF = `tv4h${process.pid}`.slice(0, 15);
const NS_IF = `tv4n${process.pid}`.slice(0, 15);
const HOST_IP = `10.204.${id}.1`;
const NS_IP = `10.204.${id}.2`;

function sh(args: string[]): void {
  execFileSync(args[0]!, args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
}
const inNs = (...args: string[]) => sh(['ip', 'netns', 'exec', NS, ...args]);

function canUseNamespaces(): string | null {
  if (process.getuid?.() !== 0) return 'needs root for ip netns';
  try {
    sh(['ip', 'netns', 'list']);
    sh(['tc', '-V']);
  } catch {
    return 'ip / tc not available';
  }
  return null;
}
const skip = canUseNamespaces();

function setUpNamespace(): void {
  sh(['ip', 'netns', 'add', NS]);
  sh(['ip', 'link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF]);
  sh(['ip', 'link', 'set', NS_IF, 'netns', NS]);
  sh(['ip', 'addr', 'add', `${HOST_IP}/30`, 'dev', HOST_IF]);
  sh(['ip', 'link', 'set', HOST_IF, 'up']);
  inNs('ip', 'addr', 'add', `${NS_IP}/30`, 'dev', NS_IF);
  inNs('ip', 'link', 'set', NS_IF, 'up');
  inNs('ip', 'link', 'set', 'lo', 'up');
  // Everything arriving at the namespace goes through ifb0, where the cap is put and lifted.
  inNs('ip', 'link', 'add', 'ifb0', 'type', 'ifb');
  inNs('ip', 'link', 'set', 'ifb0', 'up');
  inNs('tc', 'qdisc', 'add', 'dev', NS_IF, 'handle', 'ffff:', 'ingress');
  inNs('tc', 'filter', 'add', 'dev', NS_IF, 'parent', 'ffff:', 'protocol', 'ip', 'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', 'ifb0');
}

function tearDownNamespace(): void {
  try {
    sh(['ip', 'netns', 'del', NS]);
  } catch {
    // not created
  }
  try {
    sh(['ip', 'link', 'del', HOST_IF]);
  } catch {
    // gone with the namespace
  }
}

const cap = () => inNs('tc', 'qdisc', 'add', 'dev', 'ifb0', 'root', 'tbf', 'rate', '300kbit', 'burst', '16kb', 'latency', '300ms');
const uncap = () => inNs('tc', 'qdisc', 'del', 'dev', 'ifb0', 'root');

let server: TestServer;
let app: AppOrigin;
let hostBrowser: Browser;
let nsBrowser: Browser;
let dir: string;

before(async () => {
  if (skip) return;
  tearDownNamespace();
  setUpNamespace();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-cap-'));
  const wrapper = path.join(dir, 'chromium-in-ns');
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${NS} /usr/bin/chromium "$@"\n`, { mode: 0o755 });
  server = await startServer('sqlite', { env: { HOST: HOST_IP, ICE_HOST_ADDRESSES: HOST_IP, ICE_ALLOWED_REMOTE_ADDRESSES: `${HOST_IP},${NS_IP},127.0.0.1` } });
  app = await startAppOrigin({ host: HOST_IP });
  // The app is not on a loopback origin: let it use the (fake) camera and microphone anyway.
  const args = [...CHROMIUM_ARGS, `--unsafely-treat-insecure-origin-as-secure=${app.url.replace(/\/$/, '')}`];
  hostBrowser = await chromium.launch({ executablePath: '/usr/bin/chromium', args });
  nsBrowser = await chromium.launch({ executablePath: wrapper, args });
});
after(async () => {
  if (skip) return;
  await hostBrowser?.close().catch(() => undefined);
  await nsBrowser?.close().catch(() => undefined);
  await app?.close();
  await server?.stop();
  tearDownNamespace();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const OPTIONS = { ...ADAPTIVE_3PLUS_MANUAL, name: 'capped-room' };

const join = (browser: Browser, identity: string, extra: Record<string, unknown> = {}): Promise<Page> => connectInPage(browser, server, app.url, identity, { ...OPTIONS, ...extra });

/** The subscriber's inbound video: frames received (assembled) and decoded, freezes (count, seconds), size. */
const inbound = (page: Page): Promise<{ received: number; frames: number; freezes: number; freezeSeconds: number; height: number; packets: number; plis: number; nacks: number; keyframes: number }> =>
  page.evaluate(async () => {
    const pc = (window as any).tv.room._signaling._peerConnectionManager._peerConnections.values().next().value._peerConnection as RTCPeerConnection;
    const out = { received: 0, frames: 0, freezes: 0, freezeSeconds: 0, height: 0, packets: 0, plis: 0, nacks: 0, keyframes: 0 };
    (await pc.getStats()).forEach((s: any) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.packets += s.packetsReceived ?? 0;
        out.plis += s.pliCount ?? 0;
        out.nacks += s.nackCount ?? 0;
        out.keyframes += s.keyFramesDecoded ?? 0;
        out.received += s.framesReceived ?? 0;
        out.frames += s.framesDecoded ?? 0;
        out.freezes += s.freezeCount ?? 0;
        out.freezeSeconds += s.totalFreezesDuration ?? 0;
        out.height = Math.max(out.height, s.frameHeight ?? 0);
      }
    });
    return out;
  });

test('a subscriber capped at 300 kbit/s drops to a lower layer within seconds, the others keep the top; it climbs back when the cap lifts', async () => {
  if (skip) throw new Error(`cannot run: ${skip}`);
  await join(hostBrowser, 'presenter');
  const free = await join(hostBrowser, 'free', { video: false });
  const capped = await join(nsBrowser, 'capped', { video: false });
  for (const page of [free, capped]) {
    await page.evaluate(() => {
      for (const p of (window as any).tv.room.participants.values()) for (const pub of p.videoTracks.values()) pub.track?.setContentPreferences({ renderDimensions: { width: 1280, height: 720 } });
    });
  }
  const sessions = (server.tv.signaling as unknown as { sessions: Map<string, { identity: string; participantSid: string }> }).sessions;
  const sid = (who: string) => [...sessions.values()].find((s) => s.identity === who)!.participantSid;
  const track = () => server.tv.signaling.mediaStats()[0]!.tracks.find((t) => t.kind === 'video' && t.publisher === sid('presenter'))!;
  const layerOf = (who: string) => track().forwarders.find((f) => f.subscriber === sid(who))?.layer;
  const top = () => track().layerOrder[track().layerOrder.length - 1];
  const estimate = (who: string) => server.tv.signaling.mediaStats()[0]!.subscribers.find((s) => s.subscriber === sid(who));
  const dump = () => JSON.stringify({ track: track(), capped: estimate('capped'), free: estimate('free') });

  await waitFor('both subscribers on the top layer of three', () => track()?.layerOrder.length === 3 && layerOf('free') === top() && layerOf('capped') === top(), 60_000).catch((err: Error) => {
    throw new Error(`${err.message}: ${dump()}`);
  });
  const first = await waitFor('the capped one decodes', async () => {
    const v = await inbound(capped);
    return v.frames > 0 ? v : undefined;
  }, 20_000).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(await inbound(capped))}; ${dump()}`);
  });
  await waitFor('the capped one decodes the top layer', async () => {
    const v = await inbound(capped);
    return v.frames > first.frames + 20 && v.height >= 360 ? true : undefined;
  }, 20_000).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(await inbound(capped))}; ${dump()}`);
  });
  const before = await inbound(capped);

  cap();
  const cappedAt = Date.now();
  // For 10 s under the cap, every 200 ms: the layers, and each freeze as it ends (its duration).
  let tookMs = -1;
  let freeOnTop = 0;
  let samples = 0;
  let longest = 0;
  let last = before;
  const trace: string[] = [];
  while (Date.now() - cappedAt < 10_000) {
    await new Promise((r) => setTimeout(r, 200));
    samples++;
    if (layerOf('free') === top()) freeOnTop++;
    if (tookMs < 0 && layerOf('capped') !== undefined && layerOf('capped') !== top()) tookMs = Date.now() - cappedAt;
    const now = await inbound(capped);
    if (now.freezes > last.freezes) longest = Math.max(longest, (now.freezeSeconds - last.freezeSeconds) / (now.freezes - last.freezes));
    last = now;
    const e = estimate('capped')!;
    const f = track().forwarders.find((x) => x.subscriber === sid('capped'))!;
    trace.push(`${Date.now() - cappedAt}ms layer ${f.layer} tl ${f.temporalLayer}/${f.temporalTarget} est ${Math.round(e.estimate / 1000)}k loss ${e.loss?.toFixed(2)} q ${e.queueDelayMs} sent ${Math.round(e.sentRate / 1000)}k nacks ${f.nacks} rtx ${f.retransmitted} plis ${f.plis} pkts ${now.packets} kf ${now.keyframes} pd ${f.playoutDelayMs} rx ${now.received} frames ${now.frames} freezes ${now.freezes}/${now.freezeSeconds.toFixed(2)} | free ${layerOf('free')} order ${track().layerOrder} kbps ${track().layerBitrates.map((b) => Math.round(b / 1000))} seen ${JSON.stringify(track().hintedOff)}`);
  }
  if (process.env.TEST_TRACE) console.log(trace.join('\n'));
  const during = last;
  const cappedEstimate = estimate('capped')!;
  assert.ok(tookMs >= 0 && tookMs <= 5000, `switched down ${tookMs} ms after the cap (issue 4: within a few seconds): ${trace.join('; ')}`);
  // The free subscriber's downlink saw no congestion and it stayed on the publisher's highest
  // layer (allowing for moments when the publisher's own top layer falters on a busy machine and
  // the 1 s upgrade hold after it comes back).
  assert.equal(estimate('free')!.decreases, 0, 'the free subscriber saw no congestion');
  assert.ok(freeOnTop >= 0.7 * samples, `the free subscriber kept the top layer (${freeOnTop}/${samples} samples)`);
  assert.ok(during.frames > before.frames + 50, `the capped subscriber keeps decoding (${during.frames - before.frames} frames in ~10 s)`);
  const frozen = during.freezeSeconds - before.freezeSeconds;
  assert.ok(longest <= 1, `no freeze over 1 s while capped: longest ${longest.toFixed(2)} s; ${during.freezes - before.freezes} freezes, ${frozen.toFixed(2)} s in total: ${trace.join('; ')}`);
  assert.ok(cappedEstimate.estimate < 450_000, `the estimate came down under the cap: ${cappedEstimate.estimate}`);

  uncap();
  const uncappedAt = Date.now();
  await waitFor('the capped subscriber back on the top layer', () => layerOf('capped') === top(), 90_000).catch((err: Error) => {
    throw new Error(`${err.message}: ${dump()}`);
  });
  const back = Date.now() - uncappedAt;
  assert.ok(back > 0);
  console.log(`down ${tookMs} ms after the cap; back on top ${back} ms after it lifted; freezes while capped: longest ${longest.toFixed(2)} s, ${frozen.toFixed(2)} s in total`);
});
