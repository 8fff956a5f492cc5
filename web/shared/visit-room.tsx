// The visit itself, for providers and patients: the unmodified twilio-video SDK connected to our
// /signaling with the seed's configurations (two-party: 720p24 VP8, no simulcast, no bandwidth
// profile; group: simulcast + collaboration profile + dominant speaker priority; phones capture
// 640x480). Speaker layout: the dominant (or only) remote person large, everyone else as
// thumbnails; mute, camera, device switching, flip camera, network bars, reconnecting banner.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useDialog } from './use-dialog.js';
import { initials } from './format.js';
import { Icon } from './icons.js';

declare const Twilio: { Video: any };

export interface JoinInfo {
  token: string;
  identity: string;
  roomSid: string;
  connectProfile: 'two-party' | 'group';
}

export interface VisitLabels {
  connecting: string;
  reconnecting: string;
  waitingForOthers: string;
  mute: string;
  unmute: string;
  cameraOff: string;
  cameraOn: string;
  flip: string;
  chat: string;
  devices: string;
  camera: string;
  microphone: string;
  you: string;
  network: string;
  leave: string;
  /** Names of guest roles (interpreter, family member…), shown on guests' tiles. */
  roles?: Record<string, string>;
}

export interface DevicePrefs {
  audioInputId?: string;
  videoInputId?: string;
}

interface Person {
  sid: string;
  identity: string;
  videoTrack: any | null;
  audioTrack: any | null;
  quality: number | null;
  audioMuted: boolean;
}

export function isPhone(): boolean {
  return /Android|iPhone|iPad|iPod|Mobile/i.test(navigator.userAgent) || Math.min(screen.width, screen.height) < 600;
}

/** The seed's connect() options for this visit, with our signaling server. */
export function connectOptions(info: JoinInfo, phone: boolean, devices: DevicePrefs): Record<string, unknown> {
  const video = { ...(phone ? { width: 640, height: 480 } : { width: 1280, height: 720 }), frameRate: 24, ...(devices.videoInputId ? { deviceId: { exact: devices.videoInputId } } : {}) };
  const base = {
    name: info.roomSid,
    audio: devices.audioInputId ? { deviceId: { exact: devices.audioInputId } } : true,
    video,
    dominantSpeaker: true,
    networkQuality: { local: 1, remote: 1 },
    wsServer: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/signaling`,
    insights: false,
  };
  if (info.connectProfile === 'two-party') return { ...base, preferredVideoCodecs: ['VP8'] };
  return {
    ...base,
    bandwidthProfile: { video: { mode: 'collaboration', dominantSpeakerPriority: 'high' } },
    preferredVideoCodecs: [{ codec: 'VP8', simulcast: true }],
  };
}

function Bars({ level, label }: { level: number | null; label: string }) {
  if (level === null) return null;
  const cls = level <= 1 ? 'bad' : level <= 2 ? 'low' : '';
  return (
    <span class={`bars ${cls}`} role="img" aria-label={`${label}: ${level} / 5`} title={`${label}: ${level}/5`} data-testid="network-bars" data-level={level}>
      {[1, 2, 3, 4, 5].map((i) => (
        <span key={i} class={i <= level ? 'on' : ''} style={{ height: `${4 + i * 2.4}px` }} />
      ))}
    </span>
  );
}

function VideoView({ track, mirror }: { track: any | null; mirror?: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!track || !box.current) return;
    const el: HTMLVideoElement = track.attach();
    el.playsInline = true;
    el.muted = true;
    if (mirror) el.style.transform = 'scaleX(-1)';
    box.current.appendChild(el);
    return () => {
      track.detach(el);
      el.remove();
    };
  }, [track]);
  return <div ref={box} style={{ width: '100%', height: '100%' }} />;
}

function AudioSink({ track }: { track: any | null }) {
  useEffect(() => {
    if (!track) return;
    const el: HTMLAudioElement = track.attach();
    document.body.appendChild(el);
    return () => {
      track.detach(el);
      el.remove();
    };
  }, [track]);
  return null;
}

export function VisitRoom(props: {
  join: () => Promise<JoinInfo>;
  directory: () => Promise<Record<string, { name: string; role: string }>>;
  devices: DevicePrefs;
  labels: VisitLabels;
  side?: ComponentChildren;
  sideOpen: boolean;
  onToggleSide: () => void;
  unread?: number;
  endButton: { label: string; danger: boolean; onClick: (room: any) => void };
  /** Shown over the video (e.g. a guest waiting to be let in). */
  notice?: ComponentChildren;
  /** More buttons in the control bar, before the end button. */
  extraControls?: ComponentChildren;
  onDisconnected: (error: { code?: number; message?: string } | null) => void;
}) {
  const L = props.labels;
  const [room, setRoom] = useState<any>(null);
  const [people, setPeople] = useState<Person[]>([]);
  const [names, setNames] = useState<Record<string, { name: string; role: string }>>({});
  const [dominant, setDominant] = useState<string | null>(null);
  const [reconnecting, setReconnecting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [micOn, setMicOn] = useState(true);
  const [camOn, setCamOn] = useState(true);
  const [localVideo, setLocalVideo] = useState<any>(null);
  const [localQuality, setLocalQuality] = useState<number | null>(null);
  const [showDevices, setShowDevices] = useState(false);
  const [deviceList, setDeviceList] = useState<MediaDeviceInfo[]>([]);
  const [facing, setFacing] = useState<'user' | 'environment'>('user');
  const roomRef = useRef<any>(null);

  useEffect(() => {
    let cancelled = false;
    // The SDK's connect() can be cancelled: a visit left (or remounted) while it is still
    // connecting stops connecting, rather than join later under the same identity and push the
    // live connection out (53205).
    let pending: { cancel?: () => void } | null = null;
    const refresh = (r: any) => {
      const list: Person[] = [];
      r.participants.forEach((p: any) => {
        let videoTrack = null;
        let audioTrack = null;
        let audioMuted = true;
        p.videoTracks.forEach((pub: any) => {
          if (pub.track && pub.isTrackEnabled !== false && !pub.track.isSwitchedOff) videoTrack = pub.track;
        });
        p.audioTracks.forEach((pub: any) => {
          if (pub.track) audioTrack = pub.track;
          if (pub.isTrackEnabled) audioMuted = false;
        });
        list.push({ sid: p.sid, identity: p.identity, videoTrack, audioTrack, quality: p.networkQualityLevel ?? null, audioMuted });
      });
      setPeople(list);
    };
    (async () => {
      try {
        const info = await props.join();
        if (cancelled) return;
        const connecting = Twilio.Video.connect(info.token, connectOptions(info, isPhone(), props.devices));
        pending = connecting;
        const r = await connecting;
        pending = null;
        if (cancelled) return r.disconnect();
        roomRef.current = r;
        (window as any).visitRoom = r; // for tests and support: the SDK's own Room object
        setRoom(r);
        r.localParticipant.videoTracks.forEach((pub: any) => setLocalVideo(pub.track));
        setLocalQuality(r.localParticipant.networkQualityLevel ?? null);
        r.localParticipant.on('networkQualityLevelChanged', (level: number) => setLocalQuality(level));
        const update = () => refresh(r);
        for (const ev of ['participantConnected', 'participantDisconnected', 'trackSubscribed', 'trackUnsubscribed', 'trackEnabled', 'trackDisabled', 'trackSwitchedOff', 'trackSwitchedOn', 'participantReconnected']) {
          r.on(ev, update);
        }
        r.on('participantConnected', () => props.directory().then(setNames).catch(() => undefined));
        r.on('dominantSpeakerChanged', (p: any) => setDominant(p ? p.sid : null));
        r.participants.forEach((p: any) => p.on('networkQualityLevelChanged', update));
        r.on('participantConnected', (p: any) => p.on('networkQualityLevelChanged', update));
        r.on('reconnecting', () => setReconnecting(true));
        r.on('reconnected', () => setReconnecting(false));
        r.on('disconnected', (_r: any, err: any) => {
          r.localParticipant.tracks.forEach((pub: any) => pub.track.stop?.());
          props.onDisconnected(err ? { code: err.code, message: err.message } : null);
        });
        update();
        props.directory().then(setNames).catch(() => undefined);
      } catch (err) {
        if (cancelled) return; // our own cancellation, or an error nobody is left to see
        const e = err as { code?: number; message?: string; name?: string };
        setError(e.name === 'NotAllowedError' ? 'camera-denied' : e.message ?? String(err));
      }
    })();
    const leave = () => roomRef.current?.disconnect();
    window.addEventListener('pagehide', leave);
    return () => {
      cancelled = true;
      pending?.cancel?.();
      window.removeEventListener('pagehide', leave);
      roomRef.current?.disconnect();
    };
  }, []);

  const nameOf = (identity: string) => names[identity]?.name ?? '…';
  const roleOf = (identity: string) => L.roles?.[names[identity]?.role ?? ''];
  // Someone without video: a phone icon for a phone leg (ph-…), else their initials.
  const avatar = (identity: string, size: number) =>
    identity.startsWith('ph-') ? <Icon name="phone" size={size} /> : initials(nameOf(identity));
  // Speaker layout: the dominant speaker large; else the first remote person; thumbnails for the rest and for you.
  const main = people.find((p) => p.sid === dominant) ?? people[0] ?? null;
  const others = people.filter((p) => p !== main);

  const toggleMic = () => {
    room?.localParticipant.audioTracks.forEach((pub: any) => (micOn ? pub.track.disable() : pub.track.enable()));
    setMicOn(!micOn);
  };
  const toggleCam = async () => {
    if (!room) return;
    if (camOn) {
      room.localParticipant.videoTracks.forEach((pub: any) => {
        pub.track.stop();
        room.localParticipant.unpublishTrack(pub.track);
      });
      setLocalVideo(null);
      setCamOn(false);
    } else {
      const track = await Twilio.Video.createLocalVideoTrack({ ...(isPhone() ? { width: 640, height: 480 } : { width: 1280, height: 720 }), frameRate: 24, ...(props.devices.videoInputId ? { deviceId: { exact: props.devices.videoInputId } } : { facingMode: facing }) });
      await room.localParticipant.publishTrack(track);
      setLocalVideo(track);
      setCamOn(true);
    }
  };
  const switchDevice = async (kind: 'audioinput' | 'videoinput', deviceId: string) => {
    if (!room) return;
    if (kind === 'videoinput') {
      room.localParticipant.videoTracks.forEach((pub: any) => pub.track.restart({ deviceId: { exact: deviceId } }));
      props.devices.videoInputId = deviceId;
    } else {
      room.localParticipant.audioTracks.forEach((pub: any) => pub.track.restart({ deviceId: { exact: deviceId } }));
      props.devices.audioInputId = deviceId;
    }
    try {
      localStorage.setItem('televisit.devices', JSON.stringify(props.devices));
    } catch {
      /* private mode */
    }
  };
  const flip = async () => {
    const next = facing === 'user' ? 'environment' : 'user';
    room?.localParticipant.videoTracks.forEach((pub: any) => pub.track.restart({ facingMode: next }));
    setFacing(next);
  };

  if (error) {
    return (
      <div class="visit">
        <div class="stage">
          <div class="card" style={{ color: 'var(--ink)', maxWidth: '460px' }} role="alert">
            <h2>{error === 'camera-denied' ? L.camera : L.connecting}</h2>
            <p>{error === 'camera-denied' ? 'Allow the camera and microphone for this site in your browser settings, then reload.' : error}</p>
            <button onClick={() => location.reload()}>Try again</button>
          </div>
        </div>
      </div>
    );
  }

  return (
    <div class="visit" data-testid="visit-room" data-state={room ? (reconnecting ? 'reconnecting' : 'connected') : 'connecting'}>
      {people.map((p) => (
        <AudioSink key={p.sid} track={p.audioTrack} />
      ))}
      <div class="visit-main">
        <main class="stage" aria-label="Video">
          {reconnecting && <div class="banner" role="status">{L.reconnecting}</div>}
          {props.notice}
          {!room && <p role="status">{L.connecting}</p>}
          {room && !main && (
            <div class="center" role="status">
              <p style={{ fontSize: '1.2rem' }}>{L.waitingForOthers}</p>
            </div>
          )}
          {main && (
            <div class="speaker" data-testid="main-video" data-identity={main.identity}>
              {main.videoTrack ? <VideoView track={main.videoTrack} /> : <div class="avatar" style={{ fontSize: '4rem' }}>{avatar(main.identity, 96)}</div>}
              <div class="tile-label">
                <span class="tile-name">{nameOf(main.identity)}</span>
                {roleOf(main.identity) && <span class="role-tag">{roleOf(main.identity)}</span>}
                {main.audioMuted && <span role="img" aria-label="muted"><Icon name="micOff" size={16} /></span>}
                <Bars level={main.quality} label={L.network} />
              </div>
            </div>
          )}
          <div class="thumbs">
            {others.map((p) => (
              <div key={p.sid} class={`thumb ${p.sid === dominant ? 'speaking' : ''}`} data-testid="thumb" data-identity={p.identity}>
                {p.videoTrack ? <VideoView track={p.videoTrack} /> : <div class="avatar" style={{ paddingBottom: '2.2em' }}>{avatar(p.identity, 40)}</div>}
                <div class="tile-label">
                  <span class="tile-name">{nameOf(p.identity)}</span>
                  {roleOf(p.identity) && <span class="role-tag">{roleOf(p.identity)}</span>}
                  <Bars level={p.quality} label={L.network} />
                </div>
              </div>
            ))}
            <div class="thumb self" data-testid="self-view">
              {localVideo ? <VideoView track={localVideo} mirror={facing === 'user'} /> : <div class="avatar"><Icon name="person" size={40} /></div>}
              <div class="tile-label">
                {L.you}
                <Bars level={localQuality} label={L.network} />
              </div>
            </div>
          </div>
        </main>
        {props.sideOpen && <aside class="visit-side">{props.side}</aside>}
      </div>
      {showDevices && (
        <DevicePicker
          labels={L}
          devices={deviceList}
          current={props.devices}
          onPick={(k, id) => void switchDevice(k, id)}
          onClose={() => setShowDevices(false)}
        />
      )}
      <nav class="controls" aria-label="Visit controls">
        <button onClick={toggleMic} aria-pressed={!micOn} disabled={!room}>
          <Icon name={micOn ? 'mic' : 'micOff'} /> {micOn ? L.mute : L.unmute}
        </button>
        <button onClick={() => void toggleCam()} aria-pressed={!camOn} disabled={!room}>
          <Icon name={camOn ? 'cam' : 'camOff'} /> {camOn ? L.cameraOff : L.cameraOn}
        </button>
        {isPhone() && (
          <button onClick={() => void flip()} disabled={!room || !camOn}>
            <Icon name="flip" /> {L.flip}
          </button>
        )}
        <button
          onClick={async () => {
            setDeviceList(await navigator.mediaDevices.enumerateDevices());
            setShowDevices(true);
          }}
          disabled={!room}
        >
          <Icon name="gear" /> {L.devices}
        </button>
        <button onClick={props.onToggleSide} aria-expanded={props.sideOpen}>
          <Icon name="chat" /> {L.chat}
          {props.unread ? <span class="chip bad">{props.unread}</span> : null}
        </button>
        {props.extraControls}
        <button class="end" onClick={() => props.endButton.onClick(room)}>
          <Icon name="phoneDown" /> {props.endButton.label}
        </button>
      </nav>
    </div>
  );
}

function DevicePicker(props: { labels: VisitLabels; devices: MediaDeviceInfo[]; current: DevicePrefs; onPick: (kind: 'audioinput' | 'videoinput', id: string) => void; onClose: () => void }) {
  const dialog = useDialog<HTMLDivElement>(props.onClose);
  const cams = props.devices.filter((d) => d.kind === 'videoinput');
  const mics = props.devices.filter((d) => d.kind === 'audioinput');
  return (
    <div class="overlay" ref={dialog} role="dialog" aria-modal="true" aria-labelledby="devices-title">
      <div class="dialog" style={{ color: 'var(--ink)' }}>
        <h2 id="devices-title">{props.labels.devices}</h2>
        <label for="pick-cam">{props.labels.camera}</label>
        <select id="pick-cam" value={props.current.videoInputId ?? ''} onChange={(e) => props.onPick('videoinput', (e.target as HTMLSelectElement).value)}>
          {cams.map((d, i) => (
            <option key={d.deviceId} value={d.deviceId}>{d.label || `${props.labels.camera} ${i + 1}`}</option>
          ))}
        </select>
        <label for="pick-mic">{props.labels.microphone}</label>
        <select id="pick-mic" value={props.current.audioInputId ?? ''} onChange={(e) => props.onPick('audioinput', (e.target as HTMLSelectElement).value)}>
          {mics.map((d, i) => (
            <option key={d.deviceId} value={d.deviceId}>{d.label || `${props.labels.microphone} ${i + 1}`}</option>
          ))}
        </select>
        <div class="actions">
          <button onClick={props.onClose}>OK</button>
        </div>
      </div>
    </div>
  );
}

export function savedDevices(): DevicePrefs {
  try {
    return JSON.parse(localStorage.getItem('televisit.devices') ?? '{}') as DevicePrefs;
  } catch {
    return {};
  }
}
