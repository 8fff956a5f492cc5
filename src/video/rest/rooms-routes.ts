// Video v1 REST API: /v1/Rooms and everything under a room, as the `twilio` client calls it.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RoomService, SubscribeRule } from '../rooms/room-service.js';
import { invalidParameter, TwilioError } from '../errors.js';
import { principalOf } from './twilio-http.js';
import {
  listMeta,
  participantJson,
  publishedTrackJson,
  roomJson,
  subscribedTrackJson,
  subscribeRulesJson,
  twilioDate,
} from './serializers.js';
import type { PageRequest } from '../rooms/paging.js';

const pagingProps = {
  PageSize: { type: 'integer', minimum: 1, maximum: 1000 },
  Page: { type: 'integer', minimum: 0, maximum: 1_000_000 },
  PageToken: { type: 'string', maxLength: 512 },
} as const;

const dateFilterProps = {
  DateCreatedAfter: { type: 'string', maxLength: 64 },
  DateCreatedBefore: { type: 'string', maxLength: 64 },
} as const;

const createRoomSchema = {
  type: 'object',
  properties: {
    UniqueName: { type: 'string', maxLength: 4096 },
    Type: { type: 'string', enum: ['group', 'group-small', 'peer-to-peer', 'go'] },
    MaxParticipants: { type: 'integer' },
    VideoCodecs: { type: 'array', maxItems: 8, items: { type: 'string', enum: ['VP8', 'H264'] } },
    StatusCallback: { type: 'string', maxLength: 4096 },
    StatusCallbackMethod: { type: 'string', enum: ['POST', 'GET'] },
    EmptyRoomTimeout: { type: 'integer' },
    UnusedRoomTimeout: { type: 'integer' },
    MaxParticipantDuration: { type: 'integer' },
    RecordParticipantsOnConnect: { type: 'boolean' },
    AudioOnly: { type: 'boolean' },
    MediaRegion: { type: 'string', maxLength: 64 },
    EnableTurn: { type: 'boolean' },
    LargeRoom: { type: 'boolean' },
  },
} as const;

interface CreateRoomBody {
  UniqueName?: string;
  Type?: string;
  MaxParticipants?: number;
  VideoCodecs?: string[];
  StatusCallback?: string;
  StatusCallbackMethod?: string;
  EmptyRoomTimeout?: number;
  UnusedRoomTimeout?: number;
  MaxParticipantDuration?: number;
  RecordParticipantsOnConnect?: boolean;
  AudioOnly?: boolean;
  MediaRegion?: string;
  EnableTurn?: boolean;
  LargeRoom?: boolean;
}

type ListQuery = { PageSize?: number; Page?: number; PageToken?: string; DateCreatedAfter?: string; DateCreatedBefore?: string };

function pageRequest(q: ListQuery): PageRequest {
  return { pageSize: q.PageSize ?? 50, page: q.Page ?? 0, ...(q.PageToken ? { pageToken: q.PageToken } : {}) };
}

function dateFilter(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw invalidParameter(name, 'must be an ISO 8601 date-time');
  return new Date(ms).toISOString();
}

function stringQuery(q: object): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(q)
      .filter(([k]) => k !== 'Page' && k !== 'PageSize' && k !== 'PageToken')
      .map(([k, v]) => [k, v === undefined ? undefined : String(v)]),
  );
}

const RULE_KEYS = new Set(['type', 'all', 'kind', 'publisher', 'track', 'priority']);

/** Parses the `Rules` form value (JSON) of subscribe and recording rules. */
function parseRules(raw: string | undefined): SubscribeRule[] {
  if (raw === undefined) throw invalidParameter('Rules', 'is required');
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw invalidParameter('Rules', 'must be JSON');
  }
  const list = Array.isArray(value) ? value : (value as { rules?: unknown })?.rules;
  if (!Array.isArray(list) || list.length > 50) throw invalidParameter('Rules', 'must be a JSON array of at most 50 rules');
  return list.map((rule, i) => {
    if (!rule || typeof rule !== 'object' || Array.isArray(rule)) throw invalidParameter('Rules', `rule ${i} must be an object`);
    const r = rule as Record<string, unknown>;
    for (const k of Object.keys(r)) if (!RULE_KEYS.has(k)) throw invalidParameter('Rules', `rule ${i} has unknown filter "${k}"`);
    if (r.type !== 'include' && r.type !== 'exclude') throw invalidParameter('Rules', `rule ${i}: type must be include or exclude`);
    if (r.all !== undefined && typeof r.all !== 'boolean') throw invalidParameter('Rules', `rule ${i}: all must be true or false`);
    if (r.kind !== undefined && !['audio', 'video', 'data'].includes(r.kind as string)) throw invalidParameter('Rules', `rule ${i}: kind must be audio, video or data`);
    for (const k of ['publisher', 'track', 'priority'] as const) {
      if (r[k] !== undefined && (typeof r[k] !== 'string' || (r[k] as string).length > 256)) throw invalidParameter('Rules', `rule ${i}: ${k} must be a string`);
    }
    if (r.all === undefined && r.kind === undefined && r.publisher === undefined && r.track === undefined && r.priority === undefined) {
      throw invalidParameter('Rules', `rule ${i} has no filter`);
    }
    return r as unknown as SubscribeRule;
  });
}

export function roomsRoutes(app: FastifyInstance, rooms: RoomService, publicUrl: () => string): void {
  // The twilio client sends an empty form for POSTs without parameters.
  app.addHook('preValidation', async (req: FastifyRequest) => {
    if (req.method === 'POST' && (req.body === undefined || req.body === null)) req.body = {};
  });

  app.post<{ Body: CreateRoomBody }>('/v1/Rooms', { schema: { body: createRoomSchema } }, async (req, reply) => {
    const b = req.body;
    const room = await rooms.createRoom(principalOf(req).accountSid, {
      ...(b.UniqueName !== undefined ? { uniqueName: b.UniqueName } : {}),
      ...(b.Type !== undefined ? { type: b.Type } : {}),
      ...(b.MaxParticipants !== undefined ? { maxParticipants: b.MaxParticipants } : {}),
      ...(b.VideoCodecs !== undefined ? { videoCodecs: b.VideoCodecs } : {}),
      ...(b.StatusCallback !== undefined ? { statusCallback: b.StatusCallback } : {}),
      ...(b.StatusCallbackMethod !== undefined ? { statusCallbackMethod: b.StatusCallbackMethod } : {}),
      ...(b.EmptyRoomTimeout !== undefined ? { emptyRoomTimeout: b.EmptyRoomTimeout } : {}),
      ...(b.UnusedRoomTimeout !== undefined ? { unusedRoomTimeout: b.UnusedRoomTimeout } : {}),
      ...(b.MaxParticipantDuration !== undefined ? { maxParticipantDuration: b.MaxParticipantDuration } : {}),
      ...(b.RecordParticipantsOnConnect !== undefined ? { recordParticipantsOnConnect: b.RecordParticipantsOnConnect } : {}),
      ...(b.AudioOnly !== undefined ? { audioOnly: b.AudioOnly } : {}),
      ...(b.MediaRegion !== undefined ? { mediaRegion: b.MediaRegion } : {}),
      ...(b.EnableTurn !== undefined ? { enableTurn: b.EnableTurn } : {}),
    });
    return reply.status(201).send(roomJson(publicUrl(), room));
  });

  app.get<{ Querystring: ListQuery & { Status?: string; UniqueName?: string } }>(
    '/v1/Rooms',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            Status: { type: 'string', enum: ['in-progress', 'completed', 'failed'] },
            UniqueName: { type: 'string', maxLength: 4096 },
            ...dateFilterProps,
            ...pagingProps,
          },
        },
      },
    },
    async (req) => {
      const q = req.query;
      const page = pageRequest(q);
      const after = dateFilter('DateCreatedAfter', q.DateCreatedAfter);
      const before = dateFilter('DateCreatedBefore', q.DateCreatedBefore);
      const result = await rooms.listRooms(
        principalOf(req).accountSid,
        {
          ...(q.Status ? { status: q.Status } : {}),
          ...(q.UniqueName ? { uniqueName: q.UniqueName } : {}),
          ...(after ? { createdAfter: after } : {}),
          ...(before ? { createdBefore: before } : {}),
        },
        page,
      );
      return {
        rooms: result.items.map((r) => roomJson(publicUrl(), r)),
        meta: listMeta(publicUrl(), '/v1/Rooms', 'rooms', stringQuery(q), { ...page, nextPageToken: result.nextPageToken }),
      };
    },
  );

  app.get<{ Params: { room: string } }>('/v1/Rooms/:room', async (req) =>
    roomJson(publicUrl(), await rooms.getRoom(principalOf(req).accountSid, req.params.room)),
  );

  app.post<{ Params: { room: string }; Body: { Status: string } }>(
    '/v1/Rooms/:room',
    { schema: { body: { type: 'object', required: ['Status'], properties: { Status: { type: 'string', enum: ['completed'] } } } } },
    async (req) => roomJson(publicUrl(), await rooms.completeRoom(principalOf(req).accountSid, req.params.room)),
  );

  // ---------------------------------------------------------------- participants

  app.get<{ Params: { room: string }; Querystring: ListQuery & { Status?: string; Identity?: string } }>(
    '/v1/Rooms/:room/Participants',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            Status: { type: 'string', enum: ['connected', 'disconnected'] },
            Identity: { type: 'string', maxLength: 256 },
            ...dateFilterProps,
            ...pagingProps,
          },
        },
      },
    },
    async (req) => {
      const q = req.query;
      const page = pageRequest(q);
      const result = await rooms.listParticipants(
        principalOf(req).accountSid,
        req.params.room,
        { ...(q.Status ? { status: q.Status } : {}), ...(q.Identity ? { identity: q.Identity } : {}) },
        page,
      );
      const path = `/v1/Rooms/${encodeURIComponent(req.params.room)}/Participants`;
      return {
        participants: result.items.map((p) => participantJson(publicUrl(), p)),
        meta: listMeta(publicUrl(), path, 'participants', stringQuery(q), { ...page, nextPageToken: result.nextPageToken }),
      };
    },
  );

  app.get<{ Params: { room: string; participant: string } }>('/v1/Rooms/:room/Participants/:participant', async (req) =>
    participantJson(publicUrl(), await rooms.getParticipant(principalOf(req).accountSid, req.params.room, req.params.participant)),
  );

  app.post<{ Params: { room: string; participant: string }; Body: { Status: string } }>(
    '/v1/Rooms/:room/Participants/:participant',
    { schema: { body: { type: 'object', required: ['Status'], properties: { Status: { type: 'string', enum: ['disconnected'] } } } } },
    async (req) => participantJson(publicUrl(), await rooms.kickParticipant(principalOf(req).accountSid, req.params.room, req.params.participant)),
  );

  // ---------------------------------------------------------------- tracks

  type TrackParams = { room: string; participant: string };
  const singlePage = (path: string, key: string) =>
    listMeta(publicUrl(), path, key, {}, { page: 0, pageSize: 1000, nextPageToken: null });

  app.get<{ Params: TrackParams }>('/v1/Rooms/:room/Participants/:participant/PublishedTracks', async (req) => {
    const tracks = await rooms.listPublishedTracks(principalOf(req).accountSid, req.params.room, req.params.participant);
    return {
      published_tracks: tracks.map((t) => publishedTrackJson(publicUrl(), t)),
      meta: singlePage(`/v1/Rooms/${req.params.room}/Participants/${req.params.participant}/PublishedTracks`, 'published_tracks'),
    };
  });

  app.get<{ Params: TrackParams & { track: string } }>('/v1/Rooms/:room/Participants/:participant/PublishedTracks/:track', async (req) =>
    publishedTrackJson(publicUrl(), await rooms.getPublishedTrack(principalOf(req).accountSid, req.params.room, req.params.participant, req.params.track)),
  );

  app.get<{ Params: TrackParams }>('/v1/Rooms/:room/Participants/:participant/SubscribedTracks', async (req) => {
    const tracks = await rooms.listSubscribedTracks(principalOf(req).accountSid, req.params.room, req.params.participant);
    return {
      subscribed_tracks: tracks.map((t) => subscribedTrackJson(publicUrl(), t)),
      meta: singlePage(`/v1/Rooms/${req.params.room}/Participants/${req.params.participant}/SubscribedTracks`, 'subscribed_tracks'),
    };
  });

  app.get<{ Params: TrackParams & { track: string } }>('/v1/Rooms/:room/Participants/:participant/SubscribedTracks/:track', async (req) =>
    subscribedTrackJson(publicUrl(), await rooms.getSubscribedTrack(principalOf(req).accountSid, req.params.room, req.params.participant, req.params.track)),
  );

  // ---------------------------------------------------------------- rules

  const rulesBody = { type: 'object', properties: { Rules: { type: 'string', maxLength: 16_384 } } } as const;

  app.get<{ Params: TrackParams }>('/v1/Rooms/:room/Participants/:participant/SubscribeRules', async (req) =>
    subscribeRulesJson(await rooms.getSubscribeRules(principalOf(req).accountSid, req.params.room, req.params.participant)),
  );

  app.post<{ Params: TrackParams; Body: { Rules?: string } }>(
    '/v1/Rooms/:room/Participants/:participant/SubscribeRules',
    { schema: { body: rulesBody } },
    async (req, reply) => {
      const rules = parseRules(req.body.Rules);
      const result = await rooms.setSubscribeRules(principalOf(req).accountSid, req.params.room, req.params.participant, rules);
      return reply.status(202).send(subscribeRulesJson(result));
    },
  );

  app.get<{ Params: { room: string } }>('/v1/Rooms/:room/RecordingRules', async (req) => {
    const r = await rooms.getRecordingRules(principalOf(req).accountSid, req.params.room);
    return { room_sid: r.room.sid, rules: r.rules, date_created: twilioDate(r.dateCreated), date_updated: twilioDate(r.dateUpdated) };
  });

  app.post<{ Params: { room: string }; Body: { Rules?: string } }>('/v1/Rooms/:room/RecordingRules', { schema: { body: rulesBody } }, async (req, reply) => {
    const rules = parseRules(req.body.Rules);
    if (rules.some((r) => r.priority !== undefined)) throw new TwilioError(20001, 'Invalid parameter Rules: recording rules take no priority filter');
    const r = await rooms.setRecordingRules(principalOf(req).accountSid, req.params.room, rules);
    return reply.status(202).send({ room_sid: r.room.sid, rules: r.rules, date_created: twilioDate(r.dateCreated), date_updated: twilioDate(r.dateUpdated) });
  });
}
