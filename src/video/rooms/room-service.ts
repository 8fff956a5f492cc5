// The single model of rooms, participants and tracks. REST, signaling and the clinic workflow
// all change rooms through this service; each change is one transaction that also records its
// status callback, and changes that a live room must act on (complete, kick) are published on
// the event bus so they reach whichever process hosts the room.
import type { Transaction } from 'kysely';
import type { Db, DialectName } from '../../store/database.js';
import type { Database, ParticipantsTable, PublishedTracksTable, RoomsTable, SubscribedTracksTable } from '../../store/schema.js';
import type { AdHocRoomDefaults, RoomTypeName } from '../../config.js';
import type { EventBus } from '../../realtime/event-bus.js';
import { iso, type Clock } from '../../util/clock.js';
import { isSid, newSid } from '../../util/sid.js';
import { TwilioError, invalidParameter, notFound } from '../errors.js';
import type { StatusCallbacks } from '../callbacks/status-callbacks.js';
import { decodePageToken, encodePageToken, type Page, type PageRequest } from './paging.js';

export type Room = RoomsTable;
export type Participant = ParticipantsTable;
export type PublishedTrack = PublishedTracksTable;
export type SubscribedTrack = SubscribedTracksTable;
export type TrackKind = 'audio' | 'video' | 'data';

export const ROOM_TYPES: readonly RoomTypeName[] = ['group', 'group-small', 'peer-to-peer', 'go'];
export const MEDIA_REGIONS = ['gll', 'au1', 'br1', 'de1', 'ie1', 'in1', 'jp1', 'sg1', 'us1', 'us2'] as const;
const MAX_PARTICIPANTS_BY_TYPE: Record<RoomTypeName, number> = { group: 50, 'group-small': 4, 'peer-to-peer': 10, go: 2 };
export const MAX_NAME_LENGTH = 128;
export const MAX_IDENTITY_LENGTH = 128;

export interface CreateRoomParams {
  uniqueName?: string;
  type?: string;
  maxParticipants?: number;
  videoCodecs?: string[];
  statusCallback?: string;
  statusCallbackMethod?: string;
  emptyRoomTimeout?: number;
  unusedRoomTimeout?: number;
  maxParticipantDuration?: number;
  recordParticipantsOnConnect?: boolean;
  audioOnly?: boolean;
  mediaRegion?: string;
  enableTurn?: boolean;
}

export interface RoomFilter {
  status?: string;
  uniqueName?: string;
  createdAfter?: string;
  createdBefore?: string;
}

/** Why a participant left; the code is what signaling tells the client. */
export type DisconnectReason =
  | { kind: 'left' }
  | { kind: 'kicked' }
  | { kind: 'duplicate-identity'; code: 53205 }
  | { kind: 'room-completed'; code: 53118 }
  | { kind: 'max-duration' }
  | { kind: 'timeout' };

export interface SubscribeRule {
  type: 'include' | 'exclude';
  all?: boolean;
  kind?: TrackKind;
  publisher?: string;
  track?: string;
  priority?: string;
}

export const DEFAULT_SUBSCRIBE_RULES: SubscribeRule[] = [{ type: 'include', all: true }];

export function roomChannel(roomSid: string): string {
  return `room:${roomSid}`;
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function secondsBetween(fromIso: string, toMs: number): number {
  return Math.max(0, Math.round((toMs - Date.parse(fromIso)) / 1000));
}

export class RoomService {
  constructor(
    private readonly db: Db,
    private readonly dialect: DialectName,
    private readonly clock: Clock,
    private readonly callbacks: StatusCallbacks,
    private readonly bus: EventBus,
    private readonly adHocDefaults: AdHocRoomDefaults,
  ) {}

  // ---------------------------------------------------------------- rooms

  async createRoom(accountSid: string, params: CreateRoomParams): Promise<Room> {
    const room = this.buildRoom(accountSid, params);
    try {
      await this.db.transaction().execute(async (trx) => {
        await trx.insertInto('rooms').values(room).execute();
        await this.callbacks.record(trx, room, 'room-created', room.status);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new TwilioError(53113, `Room exists: an in-progress room is already named "${room.unique_name}"`, 400);
      throw err;
    }
    return room;
  }

  /** The in-progress room with this name, created with the account's ad-hoc defaults if missing. */
  async getOrCreateAdHocRoom(accountSid: string, name: string): Promise<{ room: Room; created: boolean }> {
    const existing = await this.findInProgressByName(accountSid, name);
    if (existing) return { room: existing, created: false };
    const d = this.adHocDefaults;
    try {
      const room = await this.createRoom(accountSid, {
        uniqueName: name,
        type: d.type,
        ...(d.maxParticipants !== null ? { maxParticipants: d.maxParticipants } : {}),
        videoCodecs: d.videoCodecs,
        ...(d.statusCallback ? { statusCallback: d.statusCallback, statusCallbackMethod: d.statusCallbackMethod } : {}),
        emptyRoomTimeout: d.emptyRoomTimeout,
        unusedRoomTimeout: d.unusedRoomTimeout,
      });
      return { room, created: true };
    } catch (err) {
      // Two clients raced to create the same ad-hoc room: join the one that won.
      if (err instanceof TwilioError && err.code === 53113) {
        const winner = await this.findInProgressByName(accountSid, name);
        if (winner) return { room: winner, created: false };
      }
      throw err;
    }
  }

  private buildRoom(accountSid: string, p: CreateRoomParams): Room {
    const sid = newSid('RM');
    const type = (p.type ?? 'group') as RoomTypeName;
    if (!ROOM_TYPES.includes(type)) throw new TwilioError(53108, `RoomType is not valid: "${p.type}"; use group, group-small, peer-to-peer or go`);
    const uniqueName = p.uniqueName ?? sid;
    if (uniqueName.length === 0) throw new TwilioError(53100, 'Room name is invalid: UniqueName is empty');
    if (uniqueName.length > MAX_NAME_LENGTH) throw new TwilioError(53101, `Room name is too long: at most ${MAX_NAME_LENGTH} characters`);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(uniqueName)) throw new TwilioError(53102, 'Room name contains invalid characters');
    const maxAllowed = MAX_PARTICIPANTS_BY_TYPE[type];
    const maxParticipants = p.maxParticipants ?? maxAllowed;
    if (!Number.isInteger(maxParticipants) || maxParticipants < 1 || maxParticipants > maxAllowed) {
      throw new TwilioError(53107, `MaxParticipants is out of range: ${type} rooms allow 1 to ${maxAllowed}`);
    }
    const codecs = [...new Set((p.videoCodecs ?? ['VP8']).map((c) => c.toUpperCase()))];
    if (codecs.length === 0 || codecs.some((c) => c !== 'VP8' && c !== 'H264')) {
      throw invalidParameter('VideoCodecs', 'each value must be VP8 or H264', 53114);
    }
    const method = (p.statusCallbackMethod ?? 'POST').toUpperCase();
    if (method !== 'POST' && method !== 'GET') throw new TwilioError(53110, 'StatusCallbackMethod is invalid: use POST or GET');
    if (p.statusCallback !== undefined && p.statusCallback !== '') {
      let url: URL | null = null;
      try {
        url = new URL(p.statusCallback);
      } catch {
        /* reported below */
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || p.statusCallback.length > 2048) {
        throw new TwilioError(53111, 'StatusCallback is invalid: it must be an absolute http(s) URL');
      }
    }
    const timeout = (name: string, v: number | undefined, fallback: number, min: number, max: number): number => {
      const value = v ?? fallback;
      if (!Number.isInteger(value) || value < min || value > max) throw new TwilioError(53109, `Timeout is out of range: ${name} must be ${min} to ${max}`);
      return value;
    };
    const emptyRoomTimeout = timeout('EmptyRoomTimeout (minutes)', p.emptyRoomTimeout, 5, 1, 1440);
    const unusedRoomTimeout = timeout('UnusedRoomTimeout (minutes)', p.unusedRoomTimeout, 5, 1, 1440);
    const maxParticipantDuration = timeout('MaxParticipantDuration (seconds)', p.maxParticipantDuration, 14_400, 600, 86_400);
    const mediaRegion = p.mediaRegion ?? 'gll';
    if (!(MEDIA_REGIONS as readonly string[]).includes(mediaRegion)) throw new TwilioError(53115, `MediaRegion is invalid: "${mediaRegion}"`);
    if (p.audioOnly && (type === 'go' || type === 'peer-to-peer')) throw new TwilioError(53124, 'The AudioOnly flag is not supported for the Room type');
    if (p.recordParticipantsOnConnect && (type === 'go' || type === 'peer-to-peer')) {
      throw new TwilioError(53114, 'Room creation parameter(s) incompatible with the Room type: RecordParticipantsOnConnect');
    }
    const now = iso(this.clock.now());
    return {
      sid,
      account_sid: accountSid,
      unique_name: uniqueName,
      status: 'in-progress',
      type,
      max_participants: maxParticipants,
      max_participant_duration: maxParticipantDuration,
      max_concurrent_published_tracks: 170,
      video_codecs: JSON.stringify(codecs),
      media_region: mediaRegion,
      audio_only: p.audioOnly ? 1 : 0,
      record_participants_on_connect: p.recordParticipantsOnConnect ? 1 : 0,
      enable_turn: p.enableTurn === false ? 0 : 1,
      status_callback: p.statusCallback || null,
      status_callback_method: method,
      empty_room_timeout: emptyRoomTimeout,
      unused_room_timeout: unusedRoomTimeout,
      empty_since: now,
      ever_joined: 0,
      callback_sequence: 0,
      date_created: now,
      date_updated: now,
      end_time: null,
      duration: null,
    };
  }

  async findInProgressByName(accountSid: string, name: string): Promise<Room | undefined> {
    return this.db
      .selectFrom('rooms')
      .selectAll()
      .where('account_sid', '=', accountSid)
      .where('unique_name', '=', name)
      .where('status', '=', 'in-progress')
      .executeTakeFirst();
  }

  /** By RM SID (any status) or by unique name (in-progress rooms only, as on Twilio). */
  async getRoom(accountSid: string, sidOrName: string): Promise<Room> {
    const room = isSid(sidOrName, 'RM')
      ? await this.db.selectFrom('rooms').selectAll().where('sid', '=', sidOrName).where('account_sid', '=', accountSid).executeTakeFirst()
      : await this.findInProgressByName(accountSid, sidOrName);
    if (!room) throw notFound(`/Rooms/${sidOrName}`);
    return room;
  }

  async listRooms(accountSid: string, filter: RoomFilter, page: PageRequest): Promise<Page<Room>> {
    let q = this.db.selectFrom('rooms').selectAll().where('account_sid', '=', accountSid);
    if (filter.status) q = q.where('status', '=', filter.status as Room['status']);
    if (filter.uniqueName) q = q.where('unique_name', '=', filter.uniqueName);
    if (filter.createdAfter) q = q.where('date_created', '>=', filter.createdAfter);
    if (filter.createdBefore) q = q.where('date_created', '<=', filter.createdBefore);
    // Newest first; the page token is the last row's (date_created, sid).
    const after = decodePageToken(page.pageToken);
    if (after) {
      q = q.where((eb) =>
        eb.or([eb('date_created', '<', after.at), eb.and([eb('date_created', '=', after.at), eb('sid', '<', after.sid)])]),
      );
    } else if (page.page > 0) {
      q = q.offset(page.page * page.pageSize);
    }
    const rows = await q.orderBy('date_created', 'desc').orderBy('sid', 'desc').limit(page.pageSize + 1).execute();
    return this.toPage(rows, page.pageSize, (r) => ({ at: r.date_created, sid: r.sid }));
  }

  /** Ends the room: everyone is disconnected (53118) and room-ended is sent. Idempotent. */
  async completeRoom(accountSid: string, sidOrName: string): Promise<Room> {
    const room = await this.getRoom(accountSid, sidOrName);
    if (room.status !== 'in-progress') return room;
    await this.completeRoomBySid(room.sid);
    return this.getRoom(accountSid, room.sid);
  }

  private async completeRoomBySid(roomSid: string): Promise<boolean> {
    const disconnected: string[] = [];
    const done = await this.db.transaction().execute(async (trx) => {
      const room = await trx.selectFrom('rooms').selectAll().where('sid', '=', roomSid).executeTakeFirst();
      if (!room || room.status !== 'in-progress') return false;
      const connected = await trx
        .selectFrom('participants')
        .selectAll()
        .where('room_sid', '=', roomSid)
        .where('status', '=', 'connected')
        .orderBy('date_created')
        .execute();
      for (const p of connected) {
        await this.disconnectInTrx(trx, room, p, 'completed');
        disconnected.push(p.sid);
      }
      const now = this.clock.now();
      const claimed = await trx
        .updateTable('rooms')
        .set({ status: 'completed', end_time: iso(now), duration: secondsBetween(room.date_created, now), date_updated: iso(now), empty_since: null })
        .where('sid', '=', roomSid)
        .where('status', '=', 'in-progress')
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) return false;
      await this.callbacks.record(trx, room, 'room-ended', 'completed', { RoomDuration: secondsBetween(room.date_created, now) });
      return true;
    });
    if (done) {
      for (const participantSid of disconnected) {
        await this.bus.publish(roomChannel(roomSid), { type: 'participant-removed', participantSid, code: 53118 });
      }
      await this.bus.publish(roomChannel(roomSid), { type: 'room-completed', roomSid });
    }
    return done;
  }

  // ---------------------------------------------------------------- participants

  /**
   * A participant joins (called by signaling). A connected participant with the same identity is
   * disconnected first (the caller tells its client 53205); a full room refuses with 53105.
   */
  async connectParticipant(roomSid: string, identity: string): Promise<{ participant: Participant; replaced: Participant | null }> {
    if (identity.length === 0) throw new TwilioError(53200, 'Participant identity is invalid');
    if (identity.length > MAX_IDENTITY_LENGTH) throw new TwilioError(53201, `Participant identity is too long: at most ${MAX_IDENTITY_LENGTH} characters`);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(identity)) throw new TwilioError(53202, 'Participant identity contains invalid characters');
    let replaced: Participant | null = null;
    const participant = await this.db.transaction().execute(async (trx) => {
      const room = await this.lockRoom(trx, roomSid);
      if (!room) throw new TwilioError(53106, 'Room not found', 404);
      if (room.status !== 'in-progress') throw new TwilioError(53118, 'Room completed', 400);
      const connected = await trx.selectFrom('participants').selectAll().where('room_sid', '=', roomSid).where('status', '=', 'connected').execute();
      const duplicate = connected.find((p) => p.identity === identity) ?? null;
      if (duplicate) {
        await this.disconnectInTrx(trx, room, duplicate, 'disconnected');
        replaced = duplicate;
      }
      const others = connected.length - (duplicate ? 1 : 0);
      if (others >= room.max_participants) throw new TwilioError(53105, `Room contains too many Participants (at most ${room.max_participants})`, 400);
      const now = iso(this.clock.now());
      const row: Participant = {
        sid: newSid('PA'),
        room_sid: roomSid,
        account_sid: room.account_sid,
        identity,
        status: 'connected',
        date_created: now,
        date_updated: now,
        start_time: now,
        end_time: null,
        duration: null,
      };
      await trx.insertInto('participants').values(row).execute();
      await trx.updateTable('rooms').set({ ever_joined: 1, empty_since: null, date_updated: now }).where('sid', '=', roomSid).execute();
      await this.callbacks.record(trx, room, 'participant-connected', 'in-progress', {
        ParticipantSid: row.sid,
        ParticipantIdentity: identity,
        ParticipantStatus: 'connected',
      });
      return row;
    });
    if (replaced) {
      await this.bus.publish(roomChannel(roomSid), { type: 'participant-removed', participantSid: (replaced as Participant).sid, code: 53205 });
    }
    return { participant, replaced };
  }

  /** A participant leaves, or is removed (kick, timeout). Idempotent. */
  async disconnectParticipant(participantSid: string, reason: DisconnectReason = { kind: 'left' }): Promise<Participant | undefined> {
    const changed = await this.db.transaction().execute(async (trx) => {
      const p = await trx.selectFrom('participants').selectAll().where('sid', '=', participantSid).executeTakeFirst();
      if (!p || p.status !== 'connected') return false;
      const room = await this.lockRoom(trx, p.room_sid);
      if (!room) return false;
      await this.disconnectInTrx(trx, room, p, room.status);
      return p.room_sid;
    });
    if (changed && reason.kind !== 'left') {
      await this.bus.publish(roomChannel(changed), { type: 'participant-removed', participantSid, code: 'code' in reason ? reason.code : null, reason: reason.kind });
    }
    return this.db.selectFrom('participants').selectAll().where('sid', '=', participantSid).executeTakeFirst();
  }

  /** Ends a participant inside a transaction: its tracks are removed first, as Twilio reports them. */
  private async disconnectInTrx(trx: Transaction<Database>, room: Room, p: Participant, roomStatus: string): Promise<void> {
    const tracks = await trx.selectFrom('published_tracks').selectAll().where('participant_sid', '=', p.sid).where('published', '=', 1).execute();
    for (const t of tracks) await this.unpublishInTrx(trx, room, p, t, roomStatus);
    await trx.deleteFrom('subscribed_tracks').where('participant_sid', '=', p.sid).execute();
    const now = this.clock.now();
    const duration = secondsBetween(p.start_time, now);
    await trx
      .updateTable('participants')
      .set({ status: 'disconnected', end_time: iso(now), duration, date_updated: iso(now) })
      .where('sid', '=', p.sid)
      .execute();
    await this.callbacks.record(trx, room, 'participant-disconnected', roomStatus === 'completed' ? 'in-progress' : roomStatus, {
      ParticipantSid: p.sid,
      ParticipantIdentity: p.identity,
      ParticipantStatus: 'disconnected',
      ParticipantDuration: duration,
    });
    const left = await trx
      .selectFrom('participants')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('room_sid', '=', room.sid)
      .where('status', '=', 'connected')
      .executeTakeFirstOrThrow();
    if (Number(left.n) === 0) await trx.updateTable('rooms').set({ empty_since: iso(now) }).where('sid', '=', room.sid).execute();
  }

  async getParticipant(accountSid: string, roomSidOrName: string, sidOrIdentity: string): Promise<Participant> {
    const room = await this.getRoom(accountSid, roomSidOrName);
    let q = this.db.selectFrom('participants').selectAll().where('room_sid', '=', room.sid);
    q = isSid(sidOrIdentity, 'PA')
      ? q.where('sid', '=', sidOrIdentity)
      : q.where('identity', '=', sidOrIdentity).orderBy('status').orderBy('date_created', 'desc');
    const p = await q.executeTakeFirst();
    if (!p) throw notFound(`/Rooms/${roomSidOrName}/Participants/${sidOrIdentity}`);
    return p;
  }

  async listParticipants(accountSid: string, roomSidOrName: string, filter: { status?: string; identity?: string }, page: PageRequest): Promise<Page<Participant>> {
    const room = await this.getRoom(accountSid, roomSidOrName);
    let q = this.db.selectFrom('participants').selectAll().where('room_sid', '=', room.sid);
    if (filter.status) q = q.where('status', '=', filter.status as Participant['status']);
    if (filter.identity) q = q.where('identity', '=', filter.identity);
    const after = decodePageToken(page.pageToken);
    if (after) {
      q = q.where((eb) => eb.or([eb('date_created', '>', after.at), eb.and([eb('date_created', '=', after.at), eb('sid', '>', after.sid)])]));
    } else if (page.page > 0) {
      q = q.offset(page.page * page.pageSize);
    }
    const rows = await q.orderBy('date_created').orderBy('sid').limit(page.pageSize + 1).execute();
    return this.toPage(rows, page.pageSize, (r) => ({ at: r.date_created, sid: r.sid }));
  }

  /** REST kick: Status=disconnected. */
  async kickParticipant(accountSid: string, roomSidOrName: string, sidOrIdentity: string): Promise<Participant> {
    const p = await this.getParticipant(accountSid, roomSidOrName, sidOrIdentity);
    if (p.status === 'connected') await this.disconnectParticipant(p.sid, { kind: 'kicked' });
    return this.getParticipant(accountSid, p.room_sid, p.sid);
  }

  // ---------------------------------------------------------------- tracks

  async publishTrack(participantSid: string, track: { name: string; kind: TrackKind; enabled?: boolean; sid?: string }): Promise<PublishedTrack> {
    return this.db.transaction().execute(async (trx) => {
      const { room, participant } = await this.connectedParticipant(trx, participantSid);
      const now = iso(this.clock.now());
      const row: PublishedTrack = {
        sid: track.sid ?? newSid('MT'),
        participant_sid: participantSid,
        room_sid: room.sid,
        name: track.name,
        kind: track.kind,
        enabled: track.enabled === false ? 0 : 1,
        published: 1,
        date_created: now,
        date_updated: now,
      };
      await trx.insertInto('published_tracks').values(row).execute();
      await this.callbacks.record(trx, room, 'track-added', 'in-progress', this.trackParams(participant, row));
      return row;
    });
  }

  async unpublishTrack(trackSid: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const t = await trx.selectFrom('published_tracks').selectAll().where('sid', '=', trackSid).executeTakeFirst();
      if (!t || !t.published) return;
      const { room, participant } = await this.connectedParticipant(trx, t.participant_sid);
      await this.unpublishInTrx(trx, room, participant, t, room.status);
    });
  }

  private async unpublishInTrx(trx: Transaction<Database>, room: Room, p: Participant, t: PublishedTrack, roomStatus: string): Promise<void> {
    const now = iso(this.clock.now());
    await trx.updateTable('published_tracks').set({ published: 0, date_updated: now }).where('sid', '=', t.sid).execute();
    await trx.deleteFrom('subscribed_tracks').where('sid', '=', t.sid).execute();
    await this.callbacks.record(trx, room, 'track-removed', roomStatus === 'completed' ? 'in-progress' : roomStatus, this.trackParams(p, t));
  }

  /** Mute/unmute (enable/disable) as the client reports it. */
  async setTrackEnabled(trackSid: string, enabled: boolean): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const t = await trx.selectFrom('published_tracks').selectAll().where('sid', '=', trackSid).executeTakeFirst();
      if (!t || !t.published || Boolean(t.enabled) === enabled) return;
      const { room, participant } = await this.connectedParticipant(trx, t.participant_sid);
      const now = iso(this.clock.now());
      await trx.updateTable('published_tracks').set({ enabled: enabled ? 1 : 0, date_updated: now }).where('sid', '=', trackSid).execute();
      await trx.updateTable('subscribed_tracks').set({ enabled: enabled ? 1 : 0, date_updated: now }).where('sid', '=', trackSid).execute();
      await this.callbacks.record(trx, room, enabled ? 'track-enabled' : 'track-disabled', 'in-progress', this.trackParams(participant, { ...t, enabled: enabled ? 1 : 0 }));
    });
  }

  async listPublishedTracks(accountSid: string, roomSidOrName: string, participantSid: string): Promise<PublishedTrack[]> {
    const p = await this.getParticipant(accountSid, roomSidOrName, participantSid);
    return this.db
      .selectFrom('published_tracks')
      .selectAll()
      .where('participant_sid', '=', p.sid)
      .where('published', '=', 1)
      .orderBy('date_created')
      .orderBy('sid')
      .execute();
  }

  async getPublishedTrack(accountSid: string, roomSidOrName: string, participantSid: string, trackSid: string): Promise<PublishedTrack> {
    const t = (await this.listPublishedTracks(accountSid, roomSidOrName, participantSid)).find((x) => x.sid === trackSid);
    if (!t) throw notFound(`/PublishedTracks/${trackSid}`);
    return t;
  }

  /** Records that a subscriber now receives a track (called by signaling/SFU). */
  async subscribeTrack(subscriberSid: string, trackSid: string): Promise<void> {
    const t = await this.db.selectFrom('published_tracks').selectAll().where('sid', '=', trackSid).where('published', '=', 1).executeTakeFirst();
    if (!t) throw notFound(`/PublishedTracks/${trackSid}`);
    const now = iso(this.clock.now());
    await this.db
      .insertInto('subscribed_tracks')
      .values({
        sid: t.sid,
        participant_sid: subscriberSid,
        publisher_sid: t.participant_sid,
        room_sid: t.room_sid,
        name: t.name,
        kind: t.kind,
        enabled: t.enabled,
        date_created: now,
        date_updated: now,
      })
      .onConflict((oc) => oc.columns(['participant_sid', 'sid']).doNothing())
      .execute();
  }

  async unsubscribeTrack(subscriberSid: string, trackSid: string): Promise<void> {
    await this.db.deleteFrom('subscribed_tracks').where('participant_sid', '=', subscriberSid).where('sid', '=', trackSid).execute();
  }

  async listSubscribedTracks(accountSid: string, roomSidOrName: string, participantSid: string): Promise<SubscribedTrack[]> {
    const p = await this.getParticipant(accountSid, roomSidOrName, participantSid);
    return this.db.selectFrom('subscribed_tracks').selectAll().where('participant_sid', '=', p.sid).orderBy('date_created').orderBy('sid').execute();
  }

  async getSubscribedTrack(accountSid: string, roomSidOrName: string, participantSid: string, trackSid: string): Promise<SubscribedTrack> {
    const t = (await this.listSubscribedTracks(accountSid, roomSidOrName, participantSid)).find((x) => x.sid === trackSid);
    if (!t) throw notFound(`/SubscribedTracks/${trackSid}`);
    return t;
  }

  // ---------------------------------------------------------------- rules

  async getSubscribeRules(accountSid: string, roomSidOrName: string, participantSid: string): Promise<{ participant: Participant; rules: SubscribeRule[]; dateCreated: string | null; dateUpdated: string | null }> {
    const participant = await this.getParticipant(accountSid, roomSidOrName, participantSid);
    const row = await this.db.selectFrom('subscribe_rules').selectAll().where('participant_sid', '=', participant.sid).executeTakeFirst();
    return {
      participant,
      rules: row ? (JSON.parse(row.rules) as SubscribeRule[]) : DEFAULT_SUBSCRIBE_RULES,
      dateCreated: row?.date_created ?? null,
      dateUpdated: row?.date_updated ?? null,
    };
  }

  async setSubscribeRules(accountSid: string, roomSidOrName: string, participantSid: string, rules: SubscribeRule[]) {
    const participant = await this.getParticipant(accountSid, roomSidOrName, participantSid);
    const room = await this.getRoom(accountSid, participant.room_sid);
    if (room.status !== 'in-progress' || participant.status !== 'connected') {
      throw new TwilioError(53204, 'Participant not found: subscribe rules can be set only for a connected participant', 404);
    }
    const now = iso(this.clock.now());
    const json = JSON.stringify(rules);
    await this.db
      .insertInto('subscribe_rules')
      .values({ participant_sid: participant.sid, room_sid: room.sid, rules: json, date_created: now, date_updated: now })
      .onConflict((oc) => oc.column('participant_sid').doUpdateSet({ rules: json, date_updated: now }))
      .execute();
    await this.bus.publish(roomChannel(room.sid), { type: 'subscribe-rules-changed', participantSid: participant.sid });
    return this.getSubscribeRules(accountSid, room.sid, participant.sid);
  }

  async getRecordingRules(accountSid: string, roomSidOrName: string) {
    const room = await this.getRoom(accountSid, roomSidOrName);
    const row = await this.db.selectFrom('recording_rules').selectAll().where('room_sid', '=', room.sid).executeTakeFirst();
    const fallback = [{ type: room.record_participants_on_connect ? 'include' : 'exclude', all: true }];
    return { room, rules: row ? (JSON.parse(row.rules) as unknown[]) : fallback, dateCreated: row?.date_created ?? null, dateUpdated: row?.date_updated ?? null };
  }

  async setRecordingRules(accountSid: string, roomSidOrName: string, rules: unknown[]) {
    const room = await this.getRoom(accountSid, roomSidOrName);
    if (room.status !== 'in-progress') throw new TwilioError(53112, 'Status is invalid: the room has ended', 400);
    const now = iso(this.clock.now());
    const json = JSON.stringify(rules);
    await this.db
      .insertInto('recording_rules')
      .values({ room_sid: room.sid, rules: json, date_created: now, date_updated: now })
      .onConflict((oc) => oc.column('room_sid').doUpdateSet({ rules: json, date_updated: now }))
      .execute();
    return this.getRecordingRules(accountSid, room.sid);
  }

  // ---------------------------------------------------------------- timeouts

  /**
   * Completes rooms left empty past EmptyRoomTimeout (or never joined past UnusedRoomTimeout)
   * and removes participants past MaxParticipantDuration. Safe to run on every node at once:
   * each change is a conditional update that only one node wins.
   */
  async sweep(): Promise<{ completed: number; removed: number }> {
    const now = this.clock.now();
    let completed = 0;
    let removed = 0;
    const empty = await this.db
      .selectFrom('rooms')
      .select(['sid', 'empty_since', 'ever_joined', 'empty_room_timeout', 'unused_room_timeout'])
      .where('status', '=', 'in-progress')
      .where('empty_since', 'is not', null)
      .execute();
    for (const r of empty) {
      const minutes = r.ever_joined ? r.empty_room_timeout : r.unused_room_timeout;
      if (Date.parse(r.empty_since!) + minutes * 60_000 <= now && (await this.completeRoomBySid(r.sid))) completed++;
    }
    const connected = await this.db
      .selectFrom('participants as p')
      .innerJoin('rooms as r', 'r.sid', 'p.room_sid')
      .select(['p.sid', 'p.start_time', 'r.max_participant_duration'])
      .where('p.status', '=', 'connected')
      .execute();
    for (const p of connected) {
      if (Date.parse(p.start_time) + p.max_participant_duration * 1000 <= now) {
        await this.disconnectParticipant(p.sid, { kind: 'max-duration' });
        removed++;
      }
    }
    return { completed, removed };
  }

  // ---------------------------------------------------------------- helpers

  /** Reads a room inside a transaction, locking its row on PostgreSQL so joins serialize per room. */
  private async lockRoom(trx: Transaction<Database>, roomSid: string): Promise<Room | undefined> {
    let q = trx.selectFrom('rooms').selectAll().where('sid', '=', roomSid);
    if (this.dialect === 'postgres') q = q.forUpdate();
    return q.executeTakeFirst();
  }

  private async connectedParticipant(trx: Transaction<Database>, participantSid: string): Promise<{ room: Room; participant: Participant }> {
    const participant = await trx.selectFrom('participants').selectAll().where('sid', '=', participantSid).executeTakeFirst();
    if (!participant || participant.status !== 'connected') throw new TwilioError(53204, 'Participant not found', 404);
    const room = await this.lockRoom(trx, participant.room_sid);
    if (!room || room.status !== 'in-progress') throw new TwilioError(53118, 'Room completed', 400);
    return { room, participant };
  }

  private trackParams(p: Participant, t: Pick<PublishedTrack, 'sid' | 'kind' | 'name' | 'enabled'>): Record<string, string> {
    return {
      ParticipantSid: p.sid,
      ParticipantIdentity: p.identity,
      ParticipantStatus: 'connected',
      TrackSid: t.sid,
      TrackKind: t.kind,
      TrackName: t.name,
    };
  }

  private toPage<T>(rows: T[], pageSize: number, key: (row: T) => { at: string; sid: string }): Page<T> {
    const hasMore = rows.length > pageSize;
    const items = hasMore ? rows.slice(0, pageSize) : rows;
    const last = items[items.length - 1];
    return { items, nextPageToken: hasMore && last ? encodePageToken(key(last)) : null };
  }
}
