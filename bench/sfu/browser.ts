// The Chromium side of the SFU benchmark: a static app origin serving the real twilio-video
// build, and page-side code to publish (camera + microphone from Chromium's fake devices) and
// to time joins (connect() → first decoded remote video frame).
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, startAppOrigin as startTestAppOrigin } from '../../test/helpers/browser.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Chromium with the test suite's flags; `cameraFile` (Y4M) replaces the built-in fake camera. */
export async function launchBrowser(cameraFile?: string): Promise<Browser> {
  const args = [...CHROMIUM_ARGS, ...(cameraFile ? [`--use-file-for-fake-video-capture=${cameraFile}`] : [])];
  return chromium.launch({ executablePath: CHROMIUM_PATH, args, timeout: 30_000 });
}

/** The app origin of the browser tests, serving this checkout's twilio-video build. */
export function startAppOrigin(root: string): Promise<{ url: string; close(): Promise<void> }> {
  return startTestAppOrigin({ sdkDir: path.join(root, 'node_modules/twilio-video') });
}

/**
 * Keeps every RTCPeerConnection the page creates, to read raw WebRTC stats (outbound-rtp), and
 * notes when its ICE and DTLS came up (for the join-time breakdown).
 */
const INIT_SCRIPT = `
(() => {
  const Orig = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Orig(...args);
    pc.__t = { created: performance.now(), ice: null, dtls: null };
    pc.addEventListener('iceconnectionstatechange', () => {
      if (pc.__t.ice === null && (pc.iceConnectionState === 'connected' || pc.iceConnectionState === 'completed')) pc.__t.ice = performance.now();
    });
    pc.addEventListener('connectionstatechange', () => { if (pc.__t.dtls === null && pc.connectionState === 'connected') pc.__t.dtls = performance.now(); });
    window.__pcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Orig.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Orig);
})();
`;

const PAGE_CODE = `
window.bench = {
  room: null,
  async publish(token, options) {
    const room = await Twilio.Video.connect(token, options);
    window.bench.room = room;
    return { sid: room.sid, participantSid: room.localParticipant.sid };
  },
  /** What the publisher's Chromium is actually sending (raw outbound-rtp stats). */
  async sendStats() {
    const out = { video: null, audio: null, srtpCipher: null };
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'closed') continue;
      const report = await pc.getStats();
      report.forEach((s) => {
        if (s.type !== 'outbound-rtp') return;
        if (s.kind === 'video') out.video = { width: s.frameWidth || 0, height: s.frameHeight || 0, fps: s.framesPerSecond || 0,
          packetsSent: s.packetsSent, bytesSent: s.bytesSent, targetBitrate: s.targetBitrate || 0,
          qualityLimitationReason: s.qualityLimitationReason || 'none', encoder: s.encoderImplementation || '' };
        if (s.kind === 'audio') out.audio = { packetsSent: s.packetsSent, bytesSent: s.bytesSent };
      });
      report.forEach((s) => { if (s.type === 'transport' && s.srtpCipher) out.srtpCipher = s.srtpCipher; });
    }
    return out;
  },
  /**
   * Joins and resolves at the first decoded frame of a remote video track. Times in ms from just
   * before connect(): connect() resolved, trackSubscribed, ICE and DTLS connected, first video
   * RTP packet (receiver stats polled every 5 ms), first decoded frame.
   */
  join(token, options, timeoutMs) {
    return new Promise((resolve, reject) => {
      const pcsBefore = window.__pcs.length;
      const t0 = performance.now();
      let done = false;
      const timer = setTimeout(() => { done = true; reject(new Error('no decoded remote video frame within ' + timeoutMs + ' ms')); }, timeoutMs);
      Twilio.Video.connect(token, options).then((room) => {
        const tConnected = performance.now();
        window.bench.room = room;
        let tSubscribed = null;
        const onTrack = (track) => {
          if (track.kind !== 'video' || tSubscribed !== null) return;
          tSubscribed = performance.now();
          const el = track.attach();
          el.muted = true;
          el.className = 'bench-media';
          document.body.appendChild(el);
          let poll = null;
          let tFirstRtp = null;
          const pcs = window.__pcs.slice(pcsBefore);
          const receiver = pcs.flatMap((pc) => pc.getReceivers()).find((r) => r.track && r.track.id === track.mediaStreamTrack.id);
          const rtpPoll = setInterval(async () => {
            if (!receiver || tFirstRtp !== null) return;
            const t = performance.now();
            (await receiver.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.packetsReceived > 0 && tFirstRtp === null) tFirstRtp = t; });
          }, 5);
          const finish = (t) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            clearInterval(poll);
            clearInterval(rtpPoll);
            const pc = pcs[0];
            const rel = (x) => (x === null || x === undefined ? null : x - t0);
            resolve({ connectMs: tConnected - t0, subscribedMs: tSubscribed - t0, iceConnectedMs: pc ? rel(pc.__t.ice) : null,
              dtlsConnectedMs: pc ? rel(pc.__t.dtls) : null, firstRtpMs: rel(tFirstRtp), firstFrameMs: t - t0, width: el.videoWidth, height: el.videoHeight });
          };
          if (el.requestVideoFrameCallback) el.requestVideoFrameCallback((now) => finish(Math.min(now, performance.now())));
          poll = setInterval(() => { if (el.getVideoPlaybackQuality().totalVideoFrames > 0) finish(performance.now()); }, 2);
        };
        const watch = (p) => {
          p.tracks.forEach((pub) => { if (pub.track) onTrack(pub.track); });
          p.on('trackSubscribed', onTrack);
        };
        room.participants.forEach(watch);
        room.on('participantConnected', watch);
        room.on('disconnected', (r, e) => { if (!done) { done = true; clearTimeout(timer); reject(new Error('disconnected: ' + (e ? e.code + ' ' + e.message : 'no error'))); } });
      }, (e) => { if (!done) { done = true; clearTimeout(timer); reject(new Error('connect failed: ' + e.code + ' ' + e.message)); } });
    });
  },
  leave() {
    if (window.bench.room) window.bench.room.disconnect();
    window.bench.room = null;
    for (const el of document.querySelectorAll('.bench-media')) { el.srcObject = null; el.remove(); }
  },
};
`;

export async function openBenchPage(context: BrowserContext, appUrl: string): Promise<Page> {
  const page = await context.newPage();
  await page.addInitScript(INIT_SCRIPT);
  if (process.env.SFU_BENCH_BROWSER_LOG) {
    page.on('console', (m) => console.error('[page]', m.text()));
    page.on('pageerror', (e) => console.error('[pageerror]', e.message));
  }
  await page.goto(appUrl);
  await page.addScriptTag({ url: appUrl + 'twilio-video.min.js' });
  await page.evaluate(PAGE_CODE);
  return page;
}

export interface PublisherSendStats {
  video: { width: number; height: number; fps: number; packetsSent: number; bytesSent: number; targetBitrate: number; qualityLimitationReason: string; encoder: string } | null;
  audio: { packetsSent: number; bytesSent: number } | null;
  /** The publisher's negotiated SRTP cipher (RTCTransportStats.srtpCipher). */
  srtpCipher: string | null;
}

export interface JoinTiming {
  connectMs: number;
  subscribedMs: number;
  iceConnectedMs: number | null;
  dtlsConnectedMs: number | null;
  /** First video RTP packet seen by the receiver (its stats polled every 5 ms). */
  firstRtpMs: number | null;
  firstFrameMs: number;
  width: number;
  height: number;
}
