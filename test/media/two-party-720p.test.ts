// Issue 4, check 1: the seed's two-party configuration (group room, 1280x720 at 24 fps, VP8, no
// simulcast, no bandwidth profile) on a clean link: the subscriber who joins decodes the other's
// video at 1280x720 within 5 s, and the one already there decodes the joiner's at 1280x720 within
// 5 s too. Real twilio-video in Chromium with fake cameras. (Chromium starts a 720p camera at
// 640x360 unless the server's SDP sets a start bitrate, start-bitrate.ts, and the joiner's
// subscriptions are offered only once its video flows, participant-session.ts maybeOffer.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import twilio from 'twilio';
import type { Browser, Page } from 'playwright-core';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';
import { launchChromium, openAppPage, PAGE_HELPERS, startAppOrigin, type AppOrigin } from '../helpers/browser.js';

const SEED_TWO_PARTY = { audio: true, video: { height: 720, frameRate: 24, width: 1280 }, preferredVideoCodecs: ['VP8'] };
const LIMIT_MS = 5000;

let server: TestServer;
let app: AppOrigin;
let browser: Browser;

before(async () => {
  server = await startServer('sqlite');
  app = await startAppOrigin();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await app?.close();
  await server?.stop();
});

async function join(identity: string, room: string): Promise<Page> {
  const t = new twilio.jwt.AccessToken(server.accountSid, server.apiKey, server.apiSecret, { identity });
  t.addGrant(new twilio.jwt.AccessToken.VideoGrant({ room }));
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await openAppPage(ctx, app.url);
  await page.evaluate(PAGE_HELPERS);
  const wsServer = server.url.replace('http', 'ws') + '/signaling';
  await page.evaluate(([tok, o]) => (window as any).tv.connect(tok, o), [t.toJwt(), { ...SEED_TWO_PARTY, name: room, wsServer, insights: false }] as const);
  return page;
}

type Video = { width: number; height: number; frames: number } | null;
const videoOf = async (page: Page, identity: string): Promise<Video> => ((await page.evaluate(() => (window as any).tv.media())) as Record<string, { video: Video }>)[identity]?.video ?? null;

test('two-party seed options on a clean link: each decodes the other at 1280x720 within 5 s of the second joining', async () => {
  const room = await server.client().video.v1.rooms.create({ uniqueName: 'two-party-720p', type: 'group' });
  const a = await join('alice', room.uniqueName);
  const joinedAt = Date.now();
  const b = await join('bob', room.uniqueName);
  const outbound = (page: Page): Promise<unknown[]> => page.evaluate(async () => {
    const out: unknown[] = [];
    for (const pc of (window as any).tv.room._signaling._peerConnectionManager._peerConnections.values()) {
      (await (pc._peerConnection as RTCPeerConnection).getStats()).forEach((s: any) => {
        if (s.type === 'outbound-rtp' && s.kind === 'video') out.push({ w: s.frameWidth, reason: s.qualityLimitationReason, durations: s.qualityLimitationDurations, target: s.targetBitrate, res: s.qualityLimitationResolutionChanges });
        if (s.type === 'candidate-pair' && s.nominated) out.push({ avail: s.availableOutgoingBitrate });
      });
    }
    return out;
  });
  const timeTo720 = async (page: Page, other: string): Promise<number> => {
    await waitFor(`${other} decoded at 1280x720`, async () => {
      const v = await videoOf(page, other);
      return v && v.width === 1280 && v.height === 720 && v.frames > 0 ? true : undefined;
    }, 60_000).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(await videoOf(page, other))}; ${other} sends ${JSON.stringify(await outbound(other === 'alice' ? a : b))}`);
    });
    return Date.now() - joinedAt;
  };
  const [bobSeesAlice, aliceSeesBob] = await Promise.all([timeTo720(b, 'alice'), timeTo720(a, 'bob')]);
  console.log(`1280x720 decoded ${bobSeesAlice} ms (bob ← alice) and ${aliceSeesBob} ms (alice ← bob) after bob joined`);
  // What each encoder did (size, why it was limited, for how long), for the failure message.
  const senders = async () => `alice sends ${JSON.stringify(await outbound(a))}; bob sends ${JSON.stringify(await outbound(b))}`;
  assert.ok(bobSeesAlice <= LIMIT_MS, `bob decoded alice at 1280x720 ${bobSeesAlice} ms after joining (at most ${LIMIT_MS}); ${await senders()}`);
  assert.ok(aliceSeesBob <= LIMIT_MS, `alice decoded bob at 1280x720 ${aliceSeesBob} ms after he joined (at most ${LIMIT_MS}); ${await senders()}`);

  // Our sender reports reach Chromium for both kinds (remote-outbound-rtp), and their receiver
  // reports give the server a loopback round trip (the reports are stamped when sent).
  const remoteOutbound = (page: Page): Promise<{ kind: string; reportsSent: number }[]> => page.evaluate(async () => {
    const out: { kind: string; reportsSent: number }[] = [];
    for (const pc of (window as any).tv.room._signaling._peerConnectionManager._peerConnections.values()) {
      (await (pc._peerConnection as RTCPeerConnection).getStats()).forEach((s: any) => {
        if (s.type === 'remote-outbound-rtp') out.push({ kind: s.kind, reportsSent: s.reportsSent });
      });
    }
    return out;
  });
  for (const [page, who] of [[a, 'alice'], [b, 'bob']] as const) {
    const reports = await waitFor(`${who} has sender reports for audio and video`, async () => {
      const r = await remoteOutbound(page);
      return ['audio', 'video'].every((k) => r.some((x) => x.kind === k && x.reportsSent >= 2)) ? r : undefined;
    }, 10_000).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(await remoteOutbound(page))}`);
    });
    assert.ok(reports.length >= 2);
  }
  const sessions = (server.tv.signaling as unknown as { sessions: Map<string, { identity: string; transport: { roundTripMs: number | null } }> }).sessions;
  for (const who of ['alice', 'bob']) {
    const rtt = await waitFor(`the server's round trip to ${who}`, async () => [...sessions.values()].find((x) => x.identity === who)?.transport.roundTripMs ?? undefined, 10_000);
    assert.ok(rtt >= 0 && rtt < 100, `round trip to ${who} on loopback from our sender reports: ${rtt} ms`);
  }
  for (const p of [a, b]) await p.evaluate(() => (window as any).tv.disconnect()).catch(() => undefined);
});
