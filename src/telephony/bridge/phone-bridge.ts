// The phone leg as a participant of the visit room (issue 7): what the phone says (G.711 from
// the SIP call's RTP) is decoded, resampled to 48 kHz and encoded to Opus into the room as one
// audio track; what the room says (every other participant's audio, each through its own
// jitter buffer and Opus decoder, mixed) is resampled to 8 kHz, encoded to G.711 and sent to
// the phone. The SFU never forwards our own track back to us, so the phone does not hear itself.
//
// Both directions run on ONE clock: every 20 ms of absolute time (performance.now(), the next
// deadline = the first + n·20 ms, never "now + 20"), one frame is pulled from every jitter
// buffer and one frame goes each way. A late timer catches up with the frames it owes, so over a
// long call exactly 50 frames per second leave in each direction: no drift. The jitter buffers
// absorb the difference between the senders' clocks and ours (they drop a frame when they run
// long and conceal one when they run dry).
//
// The caller owns the call and the room: leave (close()) when the call ends; hang up on
// `roomEnded` (the room was completed) or `disconnected` (we were put out of it).
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { codecForPayloadType, g711Decode, g711Encode, type G711Codec } from './g711.js';
import { Decimator, Interpolator } from './resampler.js';
import { Concealer, JitterBuffer, type JitterStats } from './jitter-buffer.js';
import { dbfs, LevelMeter, mixFrames, rms } from './mixer.js';
import { OPUS_FRAME, OpusDecoder, OpusEncoder } from './opus.js';
import { RoomClient, type RemoteAudioPacket } from './room-client.js';

export const FRAME_MS = 20;
/** G.711 samples (= bytes) per 20 ms. */
export const PHONE_FRAME = 160;
/** If the clock falls further behind than this (a suspended process), skip instead of bursting. */
const MAX_CATCH_UP_MS = 1000;
/** At most this many owed frames per timer wake-up (then the event loop gets a turn). */
const MAX_FRAMES_PER_WAKE = 10;
/** A remote stream with nothing for this long is forgotten (decoder freed). */
const SOURCE_EXPIRY_MS = 10_000;

/** What the bridge needs from the call: SipCall fits as is. */
export interface PhoneLeg {
  /** Set by the bridge: every audio payload from the far end (RTP details when the call gives them). */
  onAudio: ((payload: Buffer, payloadType: number, rtp?: { sequence: number; timestamp: number; ssrc: number }) => void) | null;
  /** One 20 ms frame in the negotiated codec; false when it cannot be sent now. */
  sendAudio(frame: Buffer): boolean;
  /** SipCall's RTP session: the negotiated codec is read from it when `codec` is not given. */
  readonly rtp?: { readonly remoteMedia: { codec: { name: string } } | null } | null;
}

export interface PhoneBridgeOptions {
  call: PhoneLeg;
  /** The negotiated G.711 codec (default: from call.rtp, re-read every frame, else PCMU). */
  codec?: G711Codec;
  /** ws(s)://host/signaling of the video service. */
  wsServer: string;
  /** Access token for the phone participant (its identity is in the token). */
  token: string;
  /** The room (RM sid, or unique name). */
  roomSid: string;
  log: Logger;
  /** Name of the published audio track (default "phone-audio"). */
  trackName?: string;
  /** Playout delay of every jitter buffer (default 60 ms). */
  jitterDelayMs?: number;
  /** Opus bitrate into the room (default 32 kb/s). */
  opusBitrate?: number;
  connectTimeoutMs?: number;
}

export interface DirectionStats {
  /** Frames (20 ms) or packets that came in on this direction. */
  framesIn: number;
  /** Frames sent out on this direction. */
  framesOut: number;
  /** Frames that could not be sent (call not sendable, media not connected yet). */
  unsent: number;
  /** Frames played from a buffer that had run dry. */
  underruns: number;
  /** Frames made up by concealment (losses and underruns). */
  concealed: number;
  lost: number;
  late: number;
  /** Dropped by the jitter buffers to keep the delay bounded. */
  dropped: number;
  /** Smoothed RMS level of what this direction sends (0..1) and in dBFS. */
  level: number;
  levelDbfs: number;
}

export interface PhoneBridgeStats {
  running: boolean;
  /** 20 ms clock ticks so far. */
  ticks: number;
  /** Frames skipped because the process was stalled for over a second. */
  clockSkips: number;
  /** Time spent in the per-frame work (decode, mix, resample, encode), in ms. */
  busyMs: number;
  phoneToRoom: DirectionStats;
  roomToPhone: DirectionStats & { sources: number };
}

export interface PhoneBridgeEvents {
  /** The room was completed: the caller should hang up. */
  roomEnded: [];
  /** We left the room for another reason (server error, removed, signaling lost). */
  disconnected: [{ reason: string; code: number | null }];
}

interface Source {
  ssrc: number;
  participantSid: string | null;
  jb: JitterBuffer;
  decoder: OpusDecoder;
  concealer: Concealer;
  lastPacketAt: number;
}

function emptyDirection(): DirectionStats {
  return { framesIn: 0, framesOut: 0, unsent: 0, underruns: 0, concealed: 0, lost: 0, late: 0, dropped: 0, level: 0, levelDbfs: -127 };
}

function addJitter(d: DirectionStats, j: Pick<JitterStats, 'underruns' | 'lost' | 'late' | 'dropped'>): void {
  d.underruns += j.underruns;
  d.lost += j.lost;
  d.late += j.late;
  d.dropped += j.dropped;
}

export class PhoneBridge extends EventEmitter<PhoneBridgeEvents> {
  private readonly log: Logger;
  private readonly delayMs: number;
  // phone → room
  private readonly phoneJb: JitterBuffer;
  private readonly phoneConcealer = new Concealer(PHONE_FRAME);
  private readonly up = new Interpolator();
  private readonly encoder: OpusEncoder;
  private readonly phoneLevel = new LevelMeter();
  private phonePending: Buffer = Buffer.alloc(0);
  private phoneSeq = 0;
  private phoneIn = 0;
  private toRoomOut = 0;
  private toRoomUnsent = 0;
  // room → phone
  private readonly sources = new Map<number, Source>();
  private readonly down = new Decimator();
  private readonly roomLevel = new LevelMeter();
  private roomIn = 0;
  private toPhoneOut = 0;
  private toPhoneUnsent = 0;
  /** Counters of sources already forgotten. */
  private readonly gone = { ...emptyDirection() };
  // the clock
  private timer: NodeJS.Timeout | null = null;
  private nextAt = 0;
  private ticks = 0;
  private clockSkips = 0;
  private busyMs = 0;
  private running = false;
  private closed = false;
  private readonly audioHandler: NonNullable<PhoneLeg['onAudio']>;

  private constructor(
    private readonly opts: PhoneBridgeOptions,
    readonly room: RoomClient,
  ) {
    super();
    this.log = opts.log;
    this.delayMs = opts.jitterDelayMs ?? 60;
    this.phoneJb = new JitterBuffer({ delayMs: this.delayMs });
    this.encoder = new OpusEncoder(1, opts.opusBitrate ?? 32000);
    this.audioHandler = (payload, pt, rtp) => this.fromPhone(payload, pt, rtp);
    room.on('audio', (p) => this.fromRoom(p));
    room.on('participant', (p) => {
      if (p.state !== 'disconnected') return;
      for (const s of [...this.sources.values()]) if (s.participantSid === p.sid) this.dropSource(s);
    });
    room.on('roomEnded', () => {
      this.log.info('room ended: the phone leg should hang up');
      this.stop();
      this.emit('roomEnded');
    });
    room.on('disconnected', (why) => {
      this.log.warn(why, 'phone leg left the room');
      this.stop();
      this.emit('disconnected', why);
    });
  }

  /** Joins the room as the phone participant and starts bridging audio both ways. */
  static async join(opts: PhoneBridgeOptions): Promise<PhoneBridge> {
    const room = new RoomClient({
      wsServer: opts.wsServer,
      token: opts.token,
      room: opts.roomSid,
      label: 'phone-bridge',
      publishAudio: { name: opts.trackName ?? 'phone-audio' },
      receiveVideo: false,
      subscribe: [{ type: 'include', kind: 'audio' }],
      log: opts.log,
    });
    const bridge = new PhoneBridge(opts, room);
    try {
      await room.connect(opts.connectTimeoutMs ?? 15_000);
    } catch (err) {
      bridge.close();
      throw err;
    }
    bridge.start();
    opts.log.info({ room: room.roomSid, participant: room.localParticipantSid }, 'phone leg joined the room');
    return bridge;
  }

  /** The phone participant's sid in the room. */
  get participantSid(): string | null {
    return this.room.localParticipantSid;
  }

  private codec(): G711Codec {
    if (this.opts.codec) return this.opts.codec;
    const name = this.opts.call.rtp?.remoteMedia?.codec.name;
    return name === 'PCMA' ? 'PCMA' : 'PCMU';
  }

  // ------------------------------------------------------------------ phone → room

  private fromPhone(payload: Buffer, pt: number, rtp?: { sequence: number; timestamp: number; ssrc: number }): void {
    if (!this.running) return;
    const now = performance.now();
    const codec = codecForPayloadType(pt) ?? this.codec();
    // The frame carries its codec: a re-INVITE may switch between PCMU and PCMA mid-call.
    const tag = codec === 'PCMA' ? 1 : 0;
    if (rtp && payload.length === PHONE_FRAME) {
      this.phoneIn++;
      this.phoneJb.push({ sequence: rtp.sequence, timestamp: rtp.timestamp, ssrc: rtp.ssrc, payload: Buffer.concat([Buffer.from([tag]), payload]) }, now);
      return;
    }
    // Without RTP details (SipCall gives payloads only): in arrival order, cut into 20 ms frames
    // whatever the far end's ptime.
    this.phonePending = this.phonePending.length ? Buffer.concat([this.phonePending, payload]) : Buffer.from(payload);
    while (this.phonePending.length >= PHONE_FRAME) {
      const frame = this.phonePending.subarray(0, PHONE_FRAME);
      this.phonePending = this.phonePending.subarray(PHONE_FRAME);
      this.phoneIn++;
      const seq = this.phoneSeq++;
      this.phoneJb.push({ sequence: seq & 0xffff, timestamp: (seq * PHONE_FRAME) >>> 0, ssrc: 0, payload: Buffer.concat([Buffer.from([tag]), frame]) }, now);
    }
  }

  private phoneFrame(now: number): void {
    const out = this.phoneJb.pop(now);
    let pcm: Int16Array;
    if (out.kind === 'frame') {
      const codec: G711Codec = out.payload[0] === 1 ? 'PCMA' : 'PCMU';
      pcm = this.phoneConcealer.good(g711Decode(codec, out.payload.subarray(1)));
    } else if (out.kind === 'idle') {
      pcm = new Int16Array(PHONE_FRAME);
    } else {
      pcm = this.phoneConcealer.conceal();
    }
    this.phoneLevel.add(pcm);
    const wide = this.up.process(pcm);
    const packet = this.encoder.encode(wide);
    const level = rms(pcm);
    // RFC 6464: -dBov, 127 = silence.
    const audioLevel = level <= 0 ? 127 : Math.min(127, Math.round(-dbfs(level)));
    if (this.room.sendAudio(packet, { samples: OPUS_FRAME, audioLevel })) this.toRoomOut++;
    else this.toRoomUnsent++;
  }

  // ------------------------------------------------------------------ room → phone

  private fromRoom(p: RemoteAudioPacket): void {
    if (!this.running) return;
    const now = performance.now();
    this.roomIn++;
    let source = this.sources.get(p.ssrc);
    if (!source) {
      source = {
        ssrc: p.ssrc,
        participantSid: p.participantSid,
        jb: new JitterBuffer({ delayMs: this.delayMs }),
        decoder: new OpusDecoder(),
        concealer: new Concealer(OPUS_FRAME),
        lastPacketAt: now,
      };
      this.sources.set(p.ssrc, source);
      this.log.debug({ ssrc: p.ssrc, participant: p.participantSid }, 'new audio stream from the room');
    }
    source.participantSid ??= p.participantSid;
    source.lastPacketAt = now;
    source.jb.push({ sequence: p.sequence, timestamp: p.timestamp, ssrc: p.ssrc, payload: p.payload }, now);
  }

  private dropSource(s: Source): void {
    this.sources.delete(s.ssrc);
    addJitter(this.gone, s.jb.stats);
    this.gone.concealed += s.concealer.concealed;
    s.decoder.close();
  }

  private roomFrame(now: number): void {
    const frames: Int16Array[] = [];
    for (const s of [...this.sources.values()]) {
      const out = s.jb.pop(now);
      if (out.kind === 'frame') {
        let pcm: Int16Array;
        try {
          pcm = s.concealer.good(s.decoder.decode(out.payload));
        } catch {
          pcm = s.concealer.conceal();
        }
        frames.push(pcm);
      } else if (out.kind === 'lost' || out.kind === 'underrun') {
        frames.push(s.concealer.conceal());
      } else if (now - s.lastPacketAt > SOURCE_EXPIRY_MS) {
        this.dropSource(s);
      }
    }
    const mixed = mixFrames(frames, OPUS_FRAME);
    const narrow = this.down.process(mixed);
    this.roomLevel.add(narrow);
    if (this.opts.call.sendAudio(g711Encode(this.codec(), narrow))) this.toPhoneOut++;
    else this.toPhoneUnsent++;
  }

  // ------------------------------------------------------------------ the clock

  private start(): void {
    if (this.closed) return;
    this.running = true;
    this.opts.call.onAudio = this.audioHandler;
    this.nextAt = performance.now() + FRAME_MS;
    this.schedule();
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, this.nextAt - performance.now()));
  }

  private onTimer(): void {
    this.timer = null;
    if (!this.running) return;
    let now = performance.now();
    if (now - this.nextAt > MAX_CATCH_UP_MS) {
      // Stalled for a long time: bursting a second of frames would not help anyone.
      const skipped = Math.floor((now - this.nextAt) / FRAME_MS);
      this.clockSkips += skipped;
      this.nextAt += skipped * FRAME_MS;
      this.room.skipAudio(skipped * OPUS_FRAME);
      this.log.warn({ skipped }, 'bridge clock stalled: frames skipped');
    }
    for (let n = 0; this.running && this.nextAt <= now && n < MAX_FRAMES_PER_WAKE; n++) {
      const started = performance.now();
      try {
        this.phoneFrame(this.nextAt);
        this.roomFrame(this.nextAt);
      } catch (err) {
        this.log.error({ err }, 'bridge frame failed');
      }
      this.ticks++;
      this.nextAt += FRAME_MS;
      now = performance.now();
      this.busyMs += now - started;
    }
    this.schedule();
  }

  private stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.opts.call.onAudio === this.audioHandler) this.opts.call.onAudio = null;
  }

  // ------------------------------------------------------------------ the outside

  stats(): PhoneBridgeStats {
    const phoneToRoom: DirectionStats = {
      ...emptyDirection(),
      framesIn: this.phoneIn,
      framesOut: this.toRoomOut,
      unsent: this.toRoomUnsent,
      concealed: this.phoneConcealer.concealed,
      level: this.phoneLevel.level,
      levelDbfs: this.phoneLevel.dbfs,
    };
    addJitter(phoneToRoom, this.phoneJb.stats);
    const roomToPhone = {
      ...emptyDirection(),
      framesIn: this.roomIn,
      framesOut: this.toPhoneOut,
      unsent: this.toPhoneUnsent,
      concealed: this.gone.concealed,
      level: this.roomLevel.level,
      levelDbfs: this.roomLevel.dbfs,
      sources: this.sources.size,
    };
    addJitter(roomToPhone, this.gone);
    for (const s of this.sources.values()) {
      addJitter(roomToPhone, s.jb.stats);
      roomToPhone.concealed += s.concealer.concealed;
    }
    return { running: this.running, ticks: this.ticks, clockSkips: this.clockSkips, busyMs: this.busyMs, phoneToRoom, roomToPhone };
  }

  /** Stops bridging and leaves the room (the call is left alone). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stop();
    void this.room.close();
    for (const s of [...this.sources.values()]) this.dropSource(s);
    this.encoder.close();
  }
}
