// The phone leg in the visit room, end to end: a real SIP call (we are the UAC; SIPp answers
// with media pointing at a UDP socket this test owns: the "phone"), the PhoneBridge joining a
// Televisit room as a participant, and a Chromium participant (twilio-video) whose microphone
// is a steady 1 kHz tone. The phone plays 440 Hz. Checked: the phone hears 1 kHz at 50 packets
// a second without drift; Chromium hears 440 Hz from the phone participant; with Chromium
// muted the phone hears (near) silence, not itself; the room ending is reported.
import '../helpers/unhandled.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';
import { launchChromium, openAppPage, PAGE_HELPERS, startAppOrigin } from '../helpers/browser.js';
import { mintAccessToken } from '../../src/video/tokens/mint-token.js';
import { createLogger } from '../../src/log.js';
import { buildRtp, parseRtp } from '../../src/telephony/rtp.js';
import type { AnsweredInfo, EndedInfo } from '../../src/telephony/sip/call.js';
import type { SipUserAgent } from '../../src/telephony/sip/user-agent.js';
import { PhoneBridge } from '../../src/telephony/bridge/phone-bridge.js';
import { g711Decode, g711Encode, PAYLOAD_TYPE, type G711Codec } from '../../src/telephony/bridge/g711.js';
import { assertSippSucceeded, killAllSipp, startSipp, type Sipp } from './sipp.js';
import { startUa, waitEvent } from './helpers.js';
import { dominant, peakFrequency, rmsOf, sine, toneAmplitude, writeToneWav } from './fixtures/audio.js';

const CODEC: G711Codec = 'PCMU';
const BROWSER_TONE = 1000;
const PHONE_TONE = 440;
const ROOM = 'bridge-visit';
const RATE_WINDOW_MS = 20_000;

/**
 * Collects the page's RTCPeerConnections so getStats can be read straight from Chrome (by
 * patching methods: twilio-video does not cope with a subclassed RTCPeerConnection).
 */
const TRACK_PCS = `
window.__pcs = new Set();
for (const m of ['setRemoteDescription', 'setLocalDescription', 'createOffer', 'createAnswer']) {
  const orig = RTCPeerConnection.prototype[m];
  RTCPeerConnection.prototype[m] = function (...args) { window.__pcs.add(this); return orig.apply(this, args); };
}
`;

const PAGE_AUDIO = `
window.phoneAudio = {
  track(identity) {
    for (const p of window.tv.room.participants.values()) {
      if (p.identity !== identity) continue;
      for (const pub of p.audioTracks.values()) if (pub.track) return pub.track;
    }
    return null;
  },
  /** Chrome's inbound-rtp stats for the phone participant's audio. */
  async stats(identity) {
    const track = window.phoneAudio.track(identity);
    if (!track) return null;
    const id = track.mediaStreamTrack.id;
    for (const pc of [...window.__pcs]) {
      if (pc.connectionState === 'closed') continue;
      for (const s of (await pc.getStats()).values()) {
        if (s.type === 'inbound-rtp' && s.kind === 'audio' && s.trackIdentifier === id) {
          return { audioLevel: s.audioLevel ?? 0, totalAudioEnergy: s.totalAudioEnergy ?? 0, packetsReceived: s.packetsReceived, concealedSamples: s.concealedSamples ?? 0, totalSamplesReceived: s.totalSamplesReceived ?? 0 };
        }
      }
    }
    return null;
  },
  /**
   * Plays the phone participant's track (Chrome applies the element's volume before it measures
   * audioLevel: a muted element reads 0) and puts a WebAudio analyser on it.
   */
  async analyse(identity) {
    const track = window.phoneAudio.track(identity);
    if (!track) return false;
    const el = document.getElementById('media-' + track.sid);
    if (el) { el.muted = false; el.volume = 1; }
    const ctx = new AudioContext();
    await ctx.resume();
    const source = ctx.createMediaStreamSource(new MediaStream([track.mediaStreamTrack]));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0.5;
    source.connect(analyser);
    window.phoneAudio.analyser = { ctx, analyser };
    return ctx.state;
  },
  peak() {
    const { ctx, analyser } = window.phoneAudio.analyser;
    const bins = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(bins);
    let best = 1;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    return { freq: (best * ctx.sampleRate) / analyser.fftSize, db: bins[best], state: ctx.state };
  },
  mute() { window.tv.room.localParticipant.audioTracks.forEach((pub) => pub.track.disable()); },
};
`;

interface Received {
  at: number;
  seq: number;
  pt: number;
  payload: Buffer;
}

/** The phone: plays a tone to our RTP port on an absolute 20 ms schedule; records what comes back. */
class Phone {
  readonly received: Received[] = [];
  private timer: NodeJS.Timeout | null = null;
  private sent = 0;
  private target: { port: number; host: string } | null = null;
  private readonly ssrc = randomBytes(4).readUInt32BE(0);
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (msg) => {
      const p = parseRtp(msg);
      if (p) this.received.push({ at: performance.now(), seq: p.sequence, pt: p.payloadType, payload: Buffer.from(p.payload) });
    });
  }

  static async open(): Promise<Phone> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    return new Phone(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  play(to: { host: string; port: number }, codec: G711Codec, freq: number, amp: number): void {
    this.target = to;
    const t0 = performance.now();
    const tick = () => {
      const due = Math.floor((performance.now() - t0) / 20) + 1;
      while (this.sent < due) {
        const pcm = sine(160, freq, 8000, amp, this.sent * 160);
        const packet = buildRtp({ marker: this.sent === 0, payloadType: PAYLOAD_TYPE[codec], sequence: this.sent & 0xffff, timestamp: this.sent * 160, ssrc: this.ssrc, payload: g711Encode(codec, pcm) });
        this.socket.send(packet, this.target!.port, this.target!.host);
        this.sent++;
      }
      this.timer = setTimeout(tick, t0 + due * 20 - performance.now());
    };
    tick();
  }

  /** Decoded audio received between two performance-clock times. */
  audio(codec: G711Codec, from: number, to: number): Int16Array {
    const packets = this.received.filter((r) => r.at >= from && r.at < to).sort((a, b) => a.at - b.at);
    return g711Decode(codec, Buffer.concat(packets.map((p) => p.payload)));
  }

  countBetween(from: number, to: number): number {
    return this.received.filter((r) => r.at >= from && r.at < to).length;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.socket.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A call object implementing the bridge's seam directly: no SIP, no RTP socket. */
class FakeCall {
  onAudio: ((payload: Buffer, payloadType: number) => void) | null = null;
  readonly sent: Array<{ at: number; frame: Buffer }> = [];
  private timer: NodeJS.Timeout | null = null;
  sendAudio(frame: Buffer): boolean {
    this.sent.push({ at: performance.now(), frame: Buffer.from(frame) });
    return true;
  }
  /** Says a tone into the bridge every 20 ms (absolute schedule). */
  talk(codec: G711Codec, freq: number): void {
    const t0 = performance.now();
    let n = 0;
    const tick = () => {
      const due = Math.floor((performance.now() - t0) / 20) + 1;
      for (; n < due; n++) this.onAudio?.(g711Encode(codec, sine(160, freq, 8000, 9000, n * 160)), PAYLOAD_TYPE[codec]);
      this.timer = setTimeout(tick, t0 + due * 20 - performance.now());
    };
    tick();
  }
  heard(codec: G711Codec, from: number, to: number): Int16Array {
    return g711Decode(codec, Buffer.concat(this.sent.filter((s) => s.at >= from && s.at < to).map((s) => s.frame)));
  }
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}

describe('phone bridge: the phone leg as a room participant', () => {
  let dir: string;
  let server: TestServer;
  let app: { url: string; close(): Promise<void> };
  let browser: Browser;
  let ua: SipUserAgent | null = null;
  let sipp: Sipp | null = null;
  let phone: Phone | null = null;
  let bridge: PhoneBridge | null = null;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-bridge-'));
    writeToneWav(path.join(dir, 'tone.wav'), { seconds: 10, freq: BROWSER_TONE, amp: 12000 });
    server = await startServer('sqlite');
    app = await startAppOrigin();
    browser = await launchChromium([`--use-file-for-fake-audio-capture=${path.join(dir, 'tone.wav')}`]);
  });

  after(async () => {
    bridge?.close();
    phone?.close();
    killAllSipp();
    await ua?.stop();
    await browser?.close();
    await app?.close();
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('phone ⇄ room audio: tone each way, 50 packets/s without drift, no echo of the phone', { timeout: 180_000 }, async () => {
    const room = await server.client().video.v1.rooms.create({ uniqueName: ROOM });
    const token = (identity: string) => mintAccessToken({ accountSid: server.accountSid, keySid: server.apiKey, keySecret: server.apiSecret, identity, room: room.sid });
    const wsServer = server.url.replace('http', 'ws') + '/signaling';

    // The clinician in Chromium, sending a 1 kHz tone (no voice processing, which would treat a
    // steady tone as noise).
    const context = await browser.newContext();
    await context.addInitScript(TRACK_PCS);
    const page: Page = await openAppPage(context, app.url);
    await page.evaluate(PAGE_HELPERS);
    await page.evaluate(PAGE_AUDIO);
    await page.evaluate(([tok, o]) => (window as any).tv.connect(tok, o), [
      await token('clinician'),
      { name: ROOM, wsServer, insights: false, video: false, audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } },
    ] as const);

    // The interpreter's phone: SIPp answers, media goes to our socket.
    phone = await Phone.open();
    sipp = await startSipp('../fixtures/bridge-answer.xml', { keys: { phone_port: phone.port, codec_pt: PAYLOAD_TYPE[CODEC], codec_name: CODEC }, timeoutSeconds: 170 });
    ua = (await startUa(sipp.port)).ua;
    const call = ua.call({ to: '+15550001111', fromUser: 'televisit', ringTimeoutSeconds: 10 });
    const answered = await waitEvent<AnsweredInfo>(call, 'answered');
    assert.equal(answered.codec, CODEC);
    assert.equal(answered.port, phone.port);

    const identity = 'phone-' + randomBytes(6).toString('hex');
    const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    bridge = await PhoneBridge.join({ call, wsServer, token: await token(identity), roomSid: room.sid, log });
    assert.ok(bridge.participantSid?.startsWith('PA'));
    phone.play({ host: '127.0.0.1', port: call.rtp!.port }, CODEC, PHONE_TONE, 10000);

    // Chromium subscribes to the phone participant's audio.
    await waitFor('Chromium to subscribe to the phone participant', async () => page.evaluate((id) => (window as any).phoneAudio.track(id) !== null, identity), 20_000);
    const state = await page.evaluate((id) => (window as any).phoneAudio.analyse(id), identity);
    assert.equal(state, 'running');

    // (1) the phone hears the clinician's 1 kHz tone.
    await waitFor('the tone at the phone', () => {
      const now = performance.now();
      const a = phone!.audio(CODEC, now - 500, now);
      return a.length > 0 && rmsOf(a) > 2000;
    }, 20_000);
    const t0 = performance.now();
    const start = { ...bridge.stats() };

    // (2) Chromium hears the phone's 440 Hz: audio level, growing energy, the analyser's peak.
    const s1 = await waitFor('audio level from the phone in Chromium', async () => {
      const s = (await page.evaluate((id) => (window as any).phoneAudio.stats(id), identity)) as { audioLevel: number; totalAudioEnergy: number } | null;
      return s && s.audioLevel > 0.01 ? s : undefined;
    }, 20_000);
    await sleep(1000);
    const s2 = (await page.evaluate((id) => (window as any).phoneAudio.stats(id), identity)) as { audioLevel: number; totalAudioEnergy: number };
    assert.ok(s2.audioLevel > 0.01, `audioLevel ${s2.audioLevel}`);
    assert.ok(s2.totalAudioEnergy > s1.totalAudioEnergy, `totalAudioEnergy ${s1.totalAudioEnergy} → ${s2.totalAudioEnergy}`);
    const peak = await waitFor('the analyser to show 440 Hz', async () => {
      const p = (await page.evaluate(() => (window as any).phoneAudio.peak())) as { freq: number; db: number };
      return Math.abs(p.freq - PHONE_TONE) < 15 ? p : undefined;
    }, 10_000).catch(async () => page.evaluate(() => (window as any).phoneAudio.peak()) as Promise<{ freq: number; db: number }>);
    assert.ok(Math.abs(peak.freq - PHONE_TONE) < 15, `Chromium's analyser peaks at ${peak.freq.toFixed(1)} Hz (${peak.db.toFixed(1)} dB)`);

    // (3) 20 s of call: 50 packets a second to the phone, counted, and still the 1 kHz tone.
    const windowStart = Math.max(t0, performance.now());
    await sleep(RATE_WINDOW_MS);
    const windowEnd = performance.now();
    const count = phone.countBetween(windowStart, windowEnd);
    const expected = (windowEnd - windowStart) / 20;
    assert.ok(Math.abs(count - expected) / expected < 0.02, `${count} packets in ${(windowEnd - windowStart).toFixed(0)} ms, expected ${expected.toFixed(0)} ± 2 %`);
    const heard = phone.audio(CODEC, windowEnd - 2000, windowEnd);
    const freq = peakFrequency(heard, 8000, BROWSER_TONE - 50, BROWSER_TONE + 50);
    assert.ok(Math.abs(freq - BROWSER_TONE) < 10, `the phone hears ${freq.toFixed(1)} Hz`);
    assert.equal(dominant(heard, 8000, [300, PHONE_TONE, 700, BROWSER_TONE, 1500, 2000, 3000]), BROWSER_TONE);
    assert.ok(rmsOf(heard) > 3000, `the phone hears the tone at RMS ${rmsOf(heard).toFixed(0)}`);
    const seqs = phone.received.filter((r) => r.at >= windowStart && r.at < windowEnd).map((r) => r.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], (seqs[i - 1]! + 1) & 0xffff, 'no frame skipped');
    const mid = bridge.stats();
    assert.equal(mid.clockSkips, 0);
    assert.equal(mid.roomToPhone.sources, 1);
    assert.ok(mid.phoneToRoom.framesIn - start.phoneToRoom.framesIn >= expected * 0.95, 'phone frames arrived');
    assert.ok(mid.roomToPhone.framesOut - start.roomToPhone.framesOut >= expected * 0.98);
    assert.ok(mid.phoneToRoom.framesOut - start.phoneToRoom.framesOut >= expected * 0.98);
    assert.ok(mid.phoneToRoom.levelDbfs > -20 && mid.roomToPhone.levelDbfs > -20, JSON.stringify(mid));

    // (4) Chromium muted: the phone keeps talking and must not hear itself.
    await page.evaluate(() => (window as any).phoneAudio.mute());
    await sleep(1500);
    const quietFrom = performance.now();
    await sleep(2000);
    const quiet = phone.audio(CODEC, quietFrom, performance.now());
    assert.ok(quiet.length >= 160 * 90, `the phone still gets packets while muted (${quiet.length / 160})`);
    assert.ok(rmsOf(quiet) < 100, `near silence at the phone (RMS ${rmsOf(quiet).toFixed(1)})`);
    assert.ok(toneAmplitude(quiet, PHONE_TONE, 8000) < 30, `no 440 Hz echo (${toneAmplitude(quiet, PHONE_TONE, 8000).toFixed(1)})`);

    // The room ends: the bridge says so; hanging up is the caller's move.
    const ended = waitEvent(bridge, 'roomEnded', 10_000);
    await server.client().video.v1.rooms(room.sid).update({ status: 'completed' });
    await ended;
    assert.equal(bridge.stats().running, false);
    const hungUp: EndedInfo = await call.hangup();
    assert.equal(hungUp.status, 'completed');
    await assertSippSucceeded(sipp);
    bridge.close();
    const final = bridge.stats();
    // What was measured, and the busy time per 20 ms frame (decode, mix, resample, encode, both ways).
    console.log(JSON.stringify({
      packetsToPhone: count,
      expected: Math.round(expected),
      phoneHearsHz: +freq.toFixed(1),
      phoneHearsRms: Math.round(rmsOf(heard)),
      chromiumPeakHz: +peak.freq.toFixed(1),
      chromiumAudioLevel: s2.audioLevel,
      mutedRms: +rmsOf(quiet).toFixed(1),
      muted440: +toneAmplitude(quiet, PHONE_TONE, 8000).toFixed(1),
      msPerFrame: +(final.busyMs / final.ticks).toFixed(3),
      stats: final,
    }));
    await context.close();
  });

  it('two phone legs (A-law, fake calls) in one room hear each other and not themselves', { timeout: 60_000 }, async () => {
    const room = await server.client().video.v1.rooms.create({ uniqueName: 'two-phones' });
    const token = (identity: string) => mintAccessToken({ accountSid: server.accountSid, keySid: server.apiKey, keySecret: server.apiSecret, identity, room: room.sid });
    const wsServer = server.url.replace('http', 'ws') + '/signaling';
    const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    const a = new FakeCall();
    const b = new FakeCall();
    const bridges: PhoneBridge[] = [];
    try {
      bridges.push(await PhoneBridge.join({ call: a, codec: 'PCMA', wsServer, token: await token('phone-a'), roomSid: room.sid, log }));
      bridges.push(await PhoneBridge.join({ call: b, codec: 'PCMA', wsServer, token: await token('phone-b'), roomSid: room.sid, log }));
      a.talk('PCMA', 440);
      b.talk('PCMA', 1200);
      await waitFor('both phones to hear the other', () => {
        const now = performance.now();
        return rmsOf(a.heard('PCMA', now - 400, now)) > 2000 && rmsOf(b.heard('PCMA', now - 400, now)) > 2000;
      }, 20_000);
      await sleep(1000);
      const now = performance.now();
      const heardByA = a.heard('PCMA', now - 1000, now);
      const heardByB = b.heard('PCMA', now - 1000, now);
      assert.equal(dominant(heardByA, 8000, [440, 1200]), 1200);
      assert.equal(dominant(heardByB, 8000, [440, 1200]), 440);
      assert.ok(toneAmplitude(heardByA, 440, 8000) < 0.01 * toneAmplitude(heardByA, 1200, 8000), 'A does not hear itself');
      assert.ok(toneAmplitude(heardByB, 1200, 8000) < 0.01 * toneAmplitude(heardByB, 440, 8000), 'B does not hear itself');
      // The pitch is kept (no resampling error): a gap from a busy machine may not bend it.
      const pitch = peakFrequency(heardByB, 8000, 400, 480);
      assert.ok(Math.abs(pitch - 440) <= 3, `B hears A's tone at ${pitch} Hz`);
      // One leaves: the other's mix drops to silence and its stream is forgotten in time.
      bridges[1]!.close();
      b.stop();
      await sleep(1500);
      const after = performance.now();
      assert.ok(rmsOf(a.heard('PCMA', after - 500, after)) < 50, 'silence once B left');
    } finally {
      a.stop();
      b.stop();
      for (const x of bridges) x.close();
    }
  });
});
