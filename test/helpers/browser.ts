// Real Chromium (Debian's) driven by playwright-core, with fake camera and microphone, loading
// the real twilio-video SDK from a static page on its own origin (as a clinic's app would be).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { TestServer } from './server.js';

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--autoplay-policy=no-user-gesture-required',
];

export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  if (!fs.existsSync('/usr/bin/chromium')) {
    throw new Error('Chromium is missing: install Debian\'s package (apt-get install chromium); .ci/run does this');
  }
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS, ...extraArgs] });
}

export interface AppOrigin {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves a blank app page and one twilio-video build, on an origin other than the server's:
 * `sdkDir` picks the build, `host` the address (the host end of a test's veth pair is reachable
 * from inside its network namespace, loopback is not).
 */
export async function startAppOrigin(opts: { sdkDir?: string; host?: string } = {}): Promise<AppOrigin> {
  const host = opts.host ?? '127.0.0.1';
  const sdk = fs.readFileSync(path.resolve(opts.sdkDir ?? 'node_modules/twilio-video', 'dist/twilio-video.min.js'));
  const server = http.createServer((req, res) => {
    if (req.url === '/twilio-video.min.js') {
      res.setHeader('content-type', 'application/javascript');
      res.end(sdk);
      return;
    }
    res.setHeader('content-type', 'text/html');
    res.end('<!doctype html><html><head><title>app</title></head><body><div id="media"></div></body></html>');
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}/`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections(); // keep-alive sockets from the page would hold close() open
        server.close(() => r());
      }),
  };
}

export async function openAppPage(context: BrowserContext, appUrl: string): Promise<Page> {
  const page = await context.newPage();
  if (process.env.TEST_BROWSER_LOG) {
    await page.addInitScript(() => {
      for (const m of ['setLocalDescription', 'setRemoteDescription', 'createAnswer', 'createOffer'] as const) {
        const orig = (RTCPeerConnection.prototype as any)[m];
        (RTCPeerConnection.prototype as any)[m] = function (...args: unknown[]) {
          return orig.apply(this, args).catch((e: Error) => {
            console.error('[rtc]', m, e.name, e.message, JSON.stringify(args[0] && (args[0] as any).type));
            throw e;
          });
        };
      }
    });
  }
  page.on('pageerror', (err) => process.env.TEST_BROWSER_LOG && console.error('[pageerror]', err.message));
  page.on('console', (msg) => process.env.TEST_BROWSER_LOG && console.error('[console]', msg.text()));
  await page.goto(appUrl);
  await page.addScriptTag({ url: appUrl + 'twilio-video.min.js' });
  return page;
}

/** Page-side helpers installed into each app page: connect with twilio-video and record events. */
export const PAGE_HELPERS = `
window.tv = {
  events: [],
  room: null,
  dataReceived: [],
  dataTrack: null,
  log(e) { window.tv.events.push(Object.assign({ at: Date.now() }, e)); },
  async connect(token, options) {
    const room = await Twilio.Video.connect(token, options);
    window.tv.room = room;
    const log = window.tv.log;
    const watchParticipant = (p) => {
      p.on('trackSubscribed', (track) => {
        log({ type: 'trackSubscribed', identity: p.identity, kind: track.kind, sid: track.sid });
        if (track.kind === 'data') track.on('message', (m) => window.tv.dataReceived.push({ from: p.identity, data: m }));
        else { const el = track.attach(); el.id = 'media-' + track.sid; el.muted = true; document.body.appendChild(el); }
        track.on('switchedOff', () => log({ type: 'switchedOff', identity: p.identity, kind: track.kind }));
        track.on('switchedOn', () => log({ type: 'switchedOn', identity: p.identity, kind: track.kind }));
      });
      p.on('trackUnsubscribed', (track) => { log({ type: 'trackUnsubscribed', identity: p.identity, kind: track.kind, sid: track.sid }); if (track.kind !== 'data') track.detach().forEach((el) => el.remove()); });
      p.on('trackDisabled', (pub) => log({ type: 'trackDisabled', identity: p.identity, kind: pub.kind }));
      p.on('trackEnabled', (pub) => log({ type: 'trackEnabled', identity: p.identity, kind: pub.kind }));
    };
    room.participants.forEach(watchParticipant);
    room.on('participantConnected', (p) => { log({ type: 'participantConnected', identity: p.identity }); watchParticipant(p); });
    room.on('participantDisconnected', (p) => log({ type: 'participantDisconnected', identity: p.identity }));
    room.on('reconnecting', (e) => log({ type: 'reconnecting', code: e && e.code }));
    room.on('reconnected', () => log({ type: 'reconnected' }));
    room.on('disconnected', (r, e) => log({ type: 'disconnected', code: e ? e.code : null }));
    room.on('dominantSpeakerChanged', (p) => log({ type: 'dominantSpeakerChanged', identity: p ? p.identity : null }));
    return { sid: room.sid, name: room.name, localSid: room.localParticipant.sid, identity: room.localParticipant.identity };
  },
  /** Connect, expecting failure: returns the error code. */
  async connectError(token, options) {
    try { const room = await Twilio.Video.connect(token, options); window.tv.room = room; return { connected: true }; }
    catch (e) { return { code: e.code, message: e.message }; }
  },
  /** Per remote track, by publisher identity: video frames painted and size; audio bytes; codec. */
  async media() {
    const out = {};
    const stats = (await window.tv.room.getStats())[0];
    for (const p of window.tv.room.participants.values()) {
      const entry = out[p.identity] = { video: null, audio: null };
      for (const pub of p.videoTracks.values()) {
        if (!pub.track) continue;
        const el = document.getElementById('media-' + pub.trackSid);
        const s = stats.remoteVideoTrackStats.find((x) => x.trackSid === pub.trackSid);
        entry.video = { sid: pub.trackSid, width: el ? el.videoWidth : 0, height: el ? el.videoHeight : 0, frames: el ? el.getVideoPlaybackQuality().totalVideoFrames : 0, codec: s ? s.codec : null, bytes: s ? s.bytesReceived : 0 };
      }
      for (const pub of p.audioTracks.values()) {
        if (!pub.track) continue;
        const s = stats.remoteAudioTrackStats.find((x) => x.trackSid === pub.trackSid);
        entry.audio = { sid: pub.trackSid, bytes: s ? s.bytesReceived : 0, packets: s ? s.packetsReceived : 0, codec: s ? s.codec : null };
      }
    }
    return out;
  },
  /** Sizes this participant's camera is sending (every simulcast layer). */
  async sentVideoSizes() {
    const stats = (await window.tv.room.getStats())[0];
    return stats.localVideoTrackStats.filter((s) => s.dimensions).map((s) => [s.dimensions.width, s.dimensions.height]);
  },
  quality() {
    const room = window.tv.room;
    const remotes = {};
    room.participants.forEach((p) => { remotes[p.identity] = p.networkQualityLevel; });
    return { local: room.localParticipant.networkQualityLevel, localStats: room.localParticipant.networkQualityStats ? true : false, remotes, dominant: room.dominantSpeaker ? room.dominantSpeaker.identity : null };
  },
  /** Shows a remote participant's video at this CSS size (0 hides it). */
  sizeVideo(identity, width, height) {
    for (const p of window.tv.room.participants.values()) {
      if (p.identity !== identity) continue;
      for (const pub of p.videoTracks.values()) {
        const el = pub.track && document.getElementById('media-' + pub.trackSid);
        if (!el) continue;
        el.style.display = width === 0 ? 'none' : 'block';
        el.style.width = width + 'px';
        el.style.height = height + 'px';
      }
    }
  },
  setVideoEnabled(on) { window.tv.room.localParticipant.videoTracks.forEach((pub) => on ? pub.track.enable() : pub.track.disable()); },
  unpublishVideo() { window.tv.room.localParticipant.videoTracks.forEach((pub) => { pub.track.stop(); window.tv.room.localParticipant.unpublishTrack(pub.track); }); },
  async publishVideo(constraints) { const t = await Twilio.Video.createLocalVideoTrack(constraints); await window.tv.room.localParticipant.publishTrack(t); return t.name; },
  async publishData() { window.tv.dataTrack = new Twilio.Video.LocalDataTrack(); await window.tv.room.localParticipant.publishTrack(window.tv.dataTrack); },
  sendData(m) { window.tv.dataTrack.send(m); },
  disconnect() { window.tv.room.disconnect(); },
};
`;

/** One server, one app origin and one Chromium for a browser test file, with a join() helper. */
export interface BrowserFixture {
  server: import('./server.js').TestServer;
  wsServer: string;
  /** A twilio AccessToken with a VideoGrant (optionally limited to a room). */
  token(identity: string, room?: string): string;
  /** Opens a page on the app origin and connects it with these options (wsServer, insights added). */
  join(identity: string, options: Record<string, unknown>): Promise<Page>;
  close(): Promise<void>;
}

export async function startBrowserFixture(serverOptions: import('./server.js').TestServerOptions = {}, contextOptions: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserFixture> {
  const { startServer } = await import('./server.js');
  const twilio = (await import('twilio')).default;
  const server = await startServer('sqlite', serverOptions);
  const app = await startAppOrigin();
  const browser = await launchChromium();
  const context = await browser.newContext(contextOptions);
  const wsServer = server.url.replace('http', 'ws') + '/signaling';
  const token = (identity: string, room?: string): string => {
    const t = new twilio.jwt.AccessToken(server.accountSid, server.apiKey, server.apiSecret, { identity });
    t.addGrant(new twilio.jwt.AccessToken.VideoGrant(room ? { room } : {}));
    return t.toJwt();
  };
  return {
    server,
    wsServer,
    token,
    async join(identity, options) {
      const page = await openAppPage(context, app.url);
      await page.evaluate(PAGE_HELPERS);
      await page.evaluate(([tok, o]) => (window as any).tv.connect(tok, o), [token(identity), { ...options, wsServer, insights: false }] as const);
      return page;
    },
    async close() {
      await context.close();
      await browser.close();
      await app.close();
      await server.stop();
    },
  };
}

/**
 * The seed's 3+ options with adaptive simulcast (real 320x180 / 640x360 / 1280x720 layers, see
 * layer-selection.test.ts) and manual render hints, so a test decides what each viewer asks for.
 */
export const ADAPTIVE_3PLUS_MANUAL = {
  audio: true,
  video: { width: 1280, height: 720, frameRate: 24 },
  preferredVideoCodecs: 'auto',
  bandwidthProfile: { video: { mode: 'collaboration', dominantSpeakerPriority: 'high', contentPreferencesMode: 'manual', clientTrackSwitchOffControl: 'manual' } },
  dominantSpeaker: true,
  networkQuality: { local: 1, remote: 1 },
};

/** A new page of the app origin in its own context, connected as `identity` with `options` (a room-wide token). */
export async function connectInPage(browser: Browser, server: TestServer, appUrl: string, identity: string, options: Record<string, unknown>): Promise<Page> {
  const t = new twilio.jwt.AccessToken(server.accountSid, server.apiKey, server.apiSecret, { identity });
  t.addGrant(new twilio.jwt.AccessToken.VideoGrant({}));
  const page = await openAppPage(await browser.newContext(), appUrl);
  await page.evaluate(PAGE_HELPERS);
  const wsServer = server.url.replace('http', 'ws') + '/signaling';
  await page.evaluate(([tok, o]) => (window as any).tv.connect(tok, o), [t.toJwt(), { wsServer, insights: false, ...options }] as const);
  return page;
}
