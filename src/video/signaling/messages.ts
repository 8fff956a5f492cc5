// Shapes of the room-signaling (RSP v2) bodies twilio-video sends and expects, and defensive
// readers for what arrives: anything malformed becomes a SignalingInputError, never a crash.
// See docs/twilio-signaling-protocol.md for the protocol itself.

import { TwilioError } from '../errors.js';

export class SignalingInputError extends Error {}

/**
 * The Twilio error a signaling failure is reported to the client with. `unexpected` marks a bug
 * of ours (worth an error log) rather than bad input or a refusal.
 */
export function signalingError(err: unknown, fallback: TwilioError): { error: TwilioError; unexpected: boolean } {
  if (err instanceof TwilioError) return { error: err, unexpected: false };
  if (err instanceof SignalingInputError) return { error: new TwilioError(53004, `Client sent an invalid signaling message: ${err.message}`), unexpected: false };
  return { error: fallback, unexpected: true };
}

export interface ClientTrack {
  id: string;
  kind: 'audio' | 'video' | 'data';
  name: string;
  enabled: boolean;
  priority: string;
}

export interface ClientParticipantState {
  revision: number;
  tracks: ClientTrack[];
}

export interface ClientDescription {
  type: 'offer' | 'answer' | 'pranswer' | 'rollback' | 'close' | 'create-offer';
  revision: number;
  sdp?: string;
}

export interface ClientIce {
  candidates: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null; usernameFragment?: string }[];
  ufrag: string;
  revision: number;
  complete?: boolean;
}

export interface ClientPeerConnection {
  id: string;
  description?: ClientDescription;
  ice?: ClientIce;
}

export interface ServerTrackState {
  sid: string;
  kind: 'audio' | 'video' | 'data';
  name: string;
  enabled: boolean;
  priority: string;
}

export interface ServerParticipantState {
  sid: string;
  identity: string;
  revision: number;
  state: 'connected' | 'disconnected' | 'reconnecting';
  tracks: ServerTrackState[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const MAX_TRACKS = 32;
const MAX_NAME = 128;

export function readParticipant(value: unknown): ClientParticipantState | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw new SignalingInputError('participant must be an object');
  const revision = value.revision;
  if (typeof revision !== 'number' || !Number.isFinite(revision)) throw new SignalingInputError('participant.revision must be a number');
  const tracks = value.tracks ?? [];
  if (!Array.isArray(tracks) || tracks.length > MAX_TRACKS) throw new SignalingInputError('participant.tracks must be a list of at most 32 tracks');
  return {
    revision,
    tracks: tracks.map((t, i) => {
      if (!isObject(t)) throw new SignalingInputError(`track ${i} must be an object`);
      if (typeof t.id !== 'string' || t.id.length === 0 || t.id.length > 256) throw new SignalingInputError(`track ${i} needs an id`);
      if (t.kind !== 'audio' && t.kind !== 'video' && t.kind !== 'data') throw new SignalingInputError(`track ${i} has an unknown kind`);
      const name = typeof t.name === 'string' ? t.name : t.id;
      if (name.length > MAX_NAME) throw new SignalingInputError(`track ${i} name is too long`);
      return {
        id: t.id,
        kind: t.kind,
        name,
        enabled: t.enabled !== false,
        priority: typeof t.priority === 'string' ? t.priority : 'standard',
      };
    }),
  };
}

export function readPeerConnections(value: unknown): ClientPeerConnection[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > 4) throw new SignalingInputError('peer_connections must be a short list');
  return value.map((pc, i) => {
    if (!isObject(pc) || typeof pc.id !== 'string' || pc.id.length === 0 || pc.id.length > 128) {
      throw new SignalingInputError(`peer_connections[${i}] needs an id`);
    }
    const out: ClientPeerConnection = { id: pc.id };
    if (pc.description !== undefined && pc.description !== null) {
      const d = pc.description;
      if (!isObject(d) || typeof d.type !== 'string' || typeof d.revision !== 'number') {
        throw new SignalingInputError(`peer_connections[${i}].description needs a type and a revision`);
      }
      if (!['offer', 'answer', 'pranswer', 'rollback', 'close', 'create-offer'].includes(d.type)) {
        throw new SignalingInputError(`peer_connections[${i}].description has an unknown type`);
      }
      if ((d.type === 'offer' || d.type === 'answer') && typeof d.sdp !== 'string') {
        throw new SignalingInputError(`peer_connections[${i}].description needs an sdp`);
      }
      out.description = { type: d.type as ClientDescription['type'], revision: d.revision, ...(typeof d.sdp === 'string' ? { sdp: d.sdp } : {}) };
    }
    if (pc.ice !== undefined && pc.ice !== null) {
      const ice = pc.ice;
      if (!isObject(ice) || !Array.isArray(ice.candidates) || ice.candidates.length > 200 || typeof ice.revision !== 'number') {
        throw new SignalingInputError(`peer_connections[${i}].ice is malformed`);
      }
      out.ice = {
        ufrag: typeof ice.ufrag === 'string' ? ice.ufrag : '',
        revision: ice.revision,
        complete: ice.complete === true,
        candidates: ice.candidates.filter(isObject).filter((c) => typeof c.candidate === 'string' && (c.candidate as string).length < 1024) as ClientIce['candidates'],
      };
    }
    return out;
  });
}

export function readString(value: unknown, what: string, max = 256): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > max) throw new SignalingInputError(`${what} must be a string of at most ${max} characters`);
  return value;
}
