// A room as it lives in this process while people are connected: its signaling sessions and its
// SFU router. Durable state (who is in the room, which tracks exist) stays in RoomService; this
// holds only what must be in memory to move media and keep the clients' views in step.
import type { Room } from '../rooms/room-service.js';
import { SfuRoom } from '../../media/sfu-room.js';
import type { ParticipantSession } from './participant-session.js';
import type { SubscribeRule } from '../rooms/room-service.js';
import type { MediaSignalingRoom } from './media-signaling.js';
import type { NqResult } from '../../media/network-quality.js';

export class LiveRoom implements MediaSignalingRoom {
  readonly sessions = new Map<string, ParticipantSession>();
  readonly sfu: SfuRoom;

  constructor(readonly room: Room) {
    const codecs = JSON.parse(room.video_codecs) as string[];
    this.sfu = new SfuRoom(codecs[0] === 'H264' ? 'H264' : 'VP8');
    this.sfu.onDominantSpeaker = (participantSid) => {
      for (const s of this.sessions.values()) s.announceDominantSpeaker(participantSid);
    };
    this.sfu.onSwitchOff = (subscriberSid, off, on) => this.sessions.get(subscriberSid)?.switchedOff(off, on);
    this.sfu.onPublisherHints = (publisherSid, trackSid, encodings) => this.sessions.get(publisherSid)?.publisherHints(trackSid, encodings);
  }

  dominantSpeaker(): string | null {
    return this.sfu.dominantSpeaker;
  }

  remoteQualities(except: string): { sid: string; result: NqResult }[] {
    const out: { sid: string; result: NqResult }[] = [];
    for (const s of this.sessions.values()) if (s.participantSid !== except && s.isPresent && s.msp?.quality) out.push({ sid: s.participantSid, result: s.msp.quality });
    return out;
  }

  get videoCodecs(): ('VP8' | 'H264')[] {
    return (JSON.parse(this.room.video_codecs) as string[]).filter((c): c is 'VP8' | 'H264' => c === 'VP8' || c === 'H264');
  }

  others(session: ParticipantSession): ParticipantSession[] {
    return [...this.sessions.values()].filter((s) => s !== session && s.isPresent);
  }

  add(session: ParticipantSession): void {
    this.sessions.set(session.participantSid, session);
  }

  /** Tells everyone else that this participant's state (tracks, enabled) changed. */
  participantChanged(session: ParticipantSession): void {
    for (const other of this.others(session)) other.remoteParticipantChanged(session);
  }

  remove(session: ParticipantSession): void {
    if (this.sessions.get(session.participantSid) !== session) return;
    this.sessions.delete(session.participantSid);
    for (const other of this.sessions.values()) other.remoteParticipantLeft(session);
    this.sfu.removePeer(session.participantSid);
  }

  get isEmpty(): boolean {
    return this.sessions.size === 0;
  }

  close(): void {
    this.sfu.close();
  }
}

/** Twilio's subscribe rules: a track is subscribed if an include rule matches and no exclude rule does. */
export function rulesAllow(rules: SubscribeRule[], track: { sid: string; kind: string; name: string; priority: string }, publisher: { sid: string; identity: string }): boolean {
  const matches = (r: SubscribeRule) =>
    (r.all === true || r.kind !== undefined || r.publisher !== undefined || r.track !== undefined || r.priority !== undefined) &&
    (r.kind === undefined || r.kind === track.kind) &&
    (r.publisher === undefined || r.publisher === publisher.identity || r.publisher === publisher.sid) &&
    (r.track === undefined || r.track === track.name || r.track === track.sid) &&
    (r.priority === undefined || r.priority === track.priority);
  return rules.some((r) => r.type === 'include' && matches(r)) && !rules.some((r) => r.type === 'exclude' && matches(r));
}
