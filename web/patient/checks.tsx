// Pre-call checks: browser and platform, camera preview, microphone level, speaker test sound,
// device choice (remembered into the visit), and the connection to our server. Results go to
// the clinic so the provider sees them next to the patient's name.
import { useEffect, useRef, useState } from 'preact/hooks';
import { post } from '../shared/api.js';
import type { Strings } from './i18n.js';
import { Icon } from '../shared/icons.js';

type Level = 'pass' | 'warn' | 'fail';
type Net = 'good' | 'fair' | 'poor' | 'fail';

declare const Twilio: { Video: any };

export interface NetworkResult {
  connected: boolean;
  transport: string | null;
  rttMs: number | null;
  jitterMs: number | null;
  lossPct: number | null;
  sendKbps: number | null;
  httpRttMs: number | null;
  /** Relaying through the clinic's TURN server: null when the clinic has none. */
  turn: 'pass' | 'fail' | null;
}

export function platform(): 'ios' | 'android' | 'desktop' {
  const ua = navigator.userAgent;
  if (/iPhone|iPad|iPod/.test(ua) || (navigator.platform === 'MacIntel' && navigator.maxTouchPoints > 1)) return 'ios';
  if (/Android/.test(ua)) return 'android';
  return 'desktop';
}

export function browserSupported(): boolean {
  return typeof RTCPeerConnection !== 'undefined' && !!navigator.mediaDevices?.getUserMedia && typeof WebSocket !== 'undefined' && (typeof Twilio === 'undefined' || Twilio.Video.isSupported);
}

export function recommendedBrowser(): string {
  const p = platform();
  return p === 'ios' ? 'Safari' : p === 'android' ? 'Chrome' : 'Chrome, Edge, Firefox or Safari';
}

/** Round trips to our server over HTTP: median time and spread (a fallback when media stats lack RTT). */
async function httpRoundTrip(): Promise<number | null> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    try {
      await fetch('/healthz', { cache: 'no-store' });
      samples.push(performance.now() - t0);
    } catch {
      /* counted as missing */
    }
  }
  if (samples.length === 0) return null;
  samples.sort((a, b) => a - b);
  return Math.round(samples[Math.floor(samples.length / 2)]!);
}

/**
 * A real media test against our own server: the unmodified twilio-video SDK connects to a
 * throwaway room with the preview's camera and microphone, sends for a few seconds, and we read
 * its own statistics (round trip, jitter, loss, send bitrate, the ICE transport it found).
 */
export async function mediaTest(stream: MediaStream | null, seconds = 5, apiBase = '/api/patient'): Promise<NetworkResult> {
  const httpRttMs = await httpRoundTrip();
  const result: NetworkResult = { connected: false, transport: null, rttMs: null, jitterMs: null, lossPct: null, sendKbps: null, httpRttMs, turn: null };
  if (typeof Twilio === 'undefined' || httpRttMs === null) return result;
  let room: any = null;
  let turnAvailable = false;
  const tracks = (stream?.getTracks() ?? []).map((t) => (t.kind === 'video' ? new Twilio.Video.LocalVideoTrack(t.clone()) : new Twilio.Video.LocalAudioTrack(t.clone())));
  try {
    const { token, roomName, turn } = await post<{ token: string; roomName: string; turn?: boolean }>(`${apiBase}/preflight`);
    turnAvailable = turn === true;
    room = await Promise.race([
      Twilio.Video.connect(token, { name: roomName, tracks, preferredVideoCodecs: ['VP8'], insights: false, wsServer: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/signaling` }),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 15_000)),
    ]);
    result.connected = true;
    let first: { bytes: number; at: number } | null = null;
    for (let i = 0; i <= seconds; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const [report] = await room.getStats();
      const video = report?.localVideoTrackStats?.[0];
      const audio = report?.localAudioTrackStats?.[0];
      const bytes = (video?.bytesSent ?? 0) + (audio?.bytesSent ?? 0);
      if (!first) first = { bytes, at: performance.now() };
      else result.sendKbps = Math.round(((bytes - first.bytes) * 8) / (performance.now() - first.at));
      const rtt = video?.roundTripTime ?? audio?.roundTripTime;
      if (typeof rtt === 'number') result.rttMs = Math.round(rtt);
      const jitter = audio?.jitter ?? video?.jitter;
      if (typeof jitter === 'number') result.jitterMs = Math.round(jitter);
      const sent = (video?.packetsSent ?? 0) + (audio?.packetsSent ?? 0);
      const lost = (video?.packetsLost ?? 0) + (audio?.packetsLost ?? 0);
      if (sent > 0) result.lossPct = Math.round((Math.max(0, lost) / sent) * 1000) / 10;
      const pair = report?.activeIceCandidatePair;
      if (pair?.localCandidate) result.transport = pair.localCandidate.candidateType === 'relay' ? `relay/${pair.localCandidate.relayProtocol ?? 'udp'}` : String(pair.localCandidate.protocol ?? 'udp');
    }
  } catch {
    result.connected = false;
  } finally {
    room?.disconnect();
    tracks.forEach((t) => t.stop());
  }
  if (turnAvailable) result.turn = (await relayTest(apiBase)) ? 'pass' : 'fail';
  return result;
}

/** Can media get through the clinic's TURN relay? (Networks that block direct UDP need it.) */
async function relayTest(apiBase: string): Promise<boolean> {
  let room: any = null;
  try {
    const { token, roomName } = await post<{ token: string; roomName: string }>(`${apiBase}/preflight`);
    room = await Promise.race([
      Twilio.Video.connect(token, { name: roomName, audio: true, video: false, iceTransportPolicy: 'relay', insights: false, wsServer: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/signaling` }),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 10_000)),
    ]);
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const [report] = await room.getStats();
      if ((report?.localAudioTrackStats?.[0]?.bytesSent ?? 0) > 2000) return true;
    }
    return false;
  } catch {
    return false;
  } finally {
    room?.localParticipant?.tracks.forEach((pub: any) => pub.track.stop?.());
    room?.disconnect();
  }
}

export function rateNetwork(n: NetworkResult): 'good' | 'fair' | 'poor' | 'fail' {
  if (!n.connected) return 'fail';
  const rtt = n.rttMs ?? n.httpRttMs ?? 0;
  const loss = n.lossPct ?? 0;
  if (rtt > 600 || loss > 10 || (n.sendKbps !== null && n.sendKbps < 150)) return 'poor';
  if (rtt > 250 || loss > 3 || (n.jitterMs ?? 0) > 60 || (n.sendKbps !== null && n.sendKbps < 400)) return 'fair';
  return 'good';
}

/** `apiBase`: whose checks these are (the patient's, or an invited guest's at /api/guest). */
export function Checks({ t, onDone, apiBase = '/api/patient' }: { t: Strings; onDone: () => void; apiBase?: string }) {
  const [started, setStarted] = useState(false);
  const [camera, setCamera] = useState<Level | null>(null);
  const [mic, setMic] = useState<Level | null>(null);
  const [net, setNet] = useState<Net | null>(null);
  const [netDetail, setNetDetail] = useState<NetworkResult | null>(null);
  const [problem, setProblem] = useState<'denied' | 'busy' | null>(null);
  const [level, setLevel] = useState(0);
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const [prefs, setPrefs] = useState<{ audioInputId?: string; videoInputId?: string }>(() => {
    try {
      return JSON.parse(localStorage.getItem('televisit.devices') ?? '{}');
    } catch {
      return {};
    }
  });
  const [inUse, setInUse] = useState<{ audioInputId?: string; videoInputId?: string }>({});
  const video = useRef<HTMLVideoElement>(null);
  const stream = useRef<MediaStream | null>(null);
  const raf = useRef(0);
  const heardLevel = useRef(0);
  const browser: Level = browserSupported() ? 'pass' : 'fail';

  const stopMedia = () => {
    cancelAnimationFrame(raf.current);
    stream.current?.getTracks().forEach((tr) => tr.stop());
    stream.current = null;
  };
  useEffect(() => stopMedia, []);

  const start = async (p = prefs) => {
    setStarted(true);
    setProblem(null);
    stopMedia();
    try {
      const s = await navigator.mediaDevices.getUserMedia({
        video: p.videoInputId ? { deviceId: { exact: p.videoInputId } } : { facingMode: 'user' },
        audio: p.audioInputId ? { deviceId: { exact: p.audioInputId } } : true,
      });
      stream.current = s;
      if (video.current) {
        video.current.srcObject = s;
        await video.current.play().catch(() => undefined);
      }
      setCamera(s.getVideoTracks().length ? 'pass' : 'fail');
      setInUse({ videoInputId: s.getVideoTracks()[0]?.getSettings().deviceId, audioInputId: s.getAudioTracks()[0]?.getSettings().deviceId });
      setDevices(await navigator.mediaDevices.enumerateDevices());
      // Microphone level meter: passes once sound is heard.
      const ctx = new AudioContext();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 512;
      ctx.createMediaStreamSource(s).connect(analyser);
      const buf = new Uint8Array(analyser.fftSize);
      const started = performance.now();
      const tick = () => {
        analyser.getByteTimeDomainData(buf);
        let peak = 0;
        for (const v of buf) peak = Math.max(peak, Math.abs(v - 128));
        const l = Math.min(1, peak / 64);
        setLevel(l);
        heardLevel.current = Math.max(heardLevel.current, l);
        if (heardLevel.current > 0.05) setMic('pass');
        else if (performance.now() - started > 8000) setMic((m) => m ?? 'warn');
        raf.current = requestAnimationFrame(tick);
      };
      tick();
    } catch (err) {
      const name = (err as Error).name;
      setProblem(name === 'NotAllowedError' || name === 'SecurityError' ? 'denied' : 'busy');
      setCamera('fail');
      setMic('fail');
    }
    setNet(null);
    const n = await mediaTest(stream.current, 5, apiBase);
    setNetDetail(n);
    setNet(rateNetwork(n));
  };

  const playTone = () => {
    const ctx = new AudioContext();
    const o = ctx.createOscillator();
    const g = ctx.createGain();
    o.frequency.value = 523;
    g.gain.value = 0.2;
    o.connect(g).connect(ctx.destination);
    o.start();
    o.stop(ctx.currentTime + 0.8);
  };

  const choose = (kind: 'audioInputId' | 'videoInputId', id: string) => {
    const next = { ...prefs, [kind]: id };
    setPrefs(next);
    try {
      localStorage.setItem('televisit.devices', JSON.stringify(next));
    } catch {
      /* private mode */
    }
    void start(next);
  };

  const finished = camera !== null && mic !== null && net !== null;
  const label = (v: Level | Net | null) =>
    v === null ? <span class="chip">{t.checking}</span> : v === 'pass' || v === 'good' ? <span class="chip ok">✓ {t.good}</span> : v === 'warn' || v === 'fair' ? <span class="chip warn">{t.fair}</span> : v === 'poor' ? <span class="chip warn">{t.poor}</span> : <span class="chip bad">✕ {t.failed}</span>;
  const help = platform() === 'ios' ? t.permissionHelpIos : platform() === 'android' ? t.permissionHelpAndroid : t.permissionHelpDesktop;

  return (
    <div class="card">
      <h1>{t.checksTitle}</h1>
      {!started && (
        <>
          <p>{t.checksIntro}</p>
          <button class="big" onClick={() => void start()}>
            {t.startChecks}
          </button>
        </>
      )}
      {started && (
        <>
          <div class="preview" role="group" aria-label={t.camera}>
            <video ref={video} playsInline muted autoPlay />
          </div>
          {problem && (
            <div class="error" role="alert">
              <p>{problem === 'denied' ? t.permissionDenied : t.deviceBusy}</p>
              {problem === 'denied' && <p style={{ fontWeight: 400 }}>{help}</p>}
              <button onClick={() => void start()}>{t.tryAgain}</button>
            </div>
          )}
          <ul class="check-list" aria-live="polite">
            <li>
              {t.browser} {label(browser)}
            </li>
            <li>
              {t.camera} {label(camera)}
            </li>
            <li style={{ flexWrap: 'wrap' }}>
              {t.microphone} {label(mic)}
              <div style={{ flexBasis: '100%' }}>
                <div class="meter" role="meter" aria-label={t.microphone} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(level * 100)}>
                  <div style={{ width: `${Math.round(level * 100)}%` }} />
                </div>
                <p class="hint" style={{ margin: '0.3em 0 0' }}>{t.speakNow}</p>
              </div>
            </li>
            <li style={{ flexWrap: 'wrap' }}>
              {t.speaker}
              <button class="secondary small" style={{ marginLeft: 'auto' }} onClick={playTone}>
                <Icon name="speaker" size={18} /> {t.playSound}
              </button>
              <p class="hint" style={{ flexBasis: '100%', margin: '0.3em 0 0' }}>{t.heardIt}</p>
            </li>
            <li>
              {t.network} {label(net)}
            </li>
          </ul>
          {netDetail?.connected && (
            <p class="hint" data-testid="network-detail">
              {[netDetail.rttMs ?? netDetail.httpRttMs, netDetail.sendKbps].every((v) => v !== null) && `${netDetail.rttMs ?? netDetail.httpRttMs} ms · ${netDetail.sendKbps} kbps`}
              {netDetail.lossPct !== null && ` · ${netDetail.lossPct}%`}
              {netDetail.transport && ` · ${netDetail.transport.toUpperCase()}`}
              {netDetail.turn && ` · TURN ${netDetail.turn === 'pass' ? '✓' : '✕'}`}
            </p>
          )}
          {net === 'poor' && <div class="notice">{t.networkPoorAdvice}</div>}
          {net === 'fail' && <div class="error">{t.networkFailAdvice}</div>}
          {devices.length > 0 && (
            <div class="row">
              <div>
                <label for="cam-choice">{t.chooseCamera}</label>
                <select id="cam-choice" value={prefs.videoInputId ?? inUse.videoInputId ?? ''} onChange={(e) => choose('videoInputId', (e.target as HTMLSelectElement).value)}>
                  {devices.filter((d) => d.kind === 'videoinput').map((d, i) => (
                    <option key={d.deviceId} value={d.deviceId}>{d.label || `${t.camera} ${i + 1}`}</option>
                  ))}
                </select>
              </div>
              <div>
                <label for="mic-choice">{t.chooseMic}</label>
                <select id="mic-choice" value={prefs.audioInputId ?? inUse.audioInputId ?? ''} onChange={(e) => choose('audioInputId', (e.target as HTMLSelectElement).value)}>
                  {devices.filter((d) => d.kind === 'audioinput').map((d, i) => (
                    <option key={d.deviceId} value={d.deviceId}>{d.label || `${t.microphone} ${i + 1}`}</option>
                  ))}
                </select>
              </div>
            </div>
          )}
          <div class="actions">
            <button
              class="big"
              disabled={!finished}
              onClick={async () => {
                stopMedia();
                await post(`${apiBase}/precall`, {
                  browser,
                  camera: camera ?? 'fail',
                  microphone: mic ?? 'fail',
                  network: net ?? 'fail',
                  details: { ...(netDetail ?? {}), platform: platform(), browser: navigator.userAgent.slice(0, 200) },
                }).catch(() => undefined);
                onDone();
              }}
            >
              {t.enterWaitingRoom}
            </button>
          </div>
        </>
      )}
    </div>
  );
}
