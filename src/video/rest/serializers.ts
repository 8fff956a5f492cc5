// Twilio's JSON shapes (snake_case, absolute URLs) for our rows.
import type { Participant, PublishedTrack, Room, SubscribedTrack, SubscribeRule } from '../rooms/room-service.js';

/** Twilio's Video API writes dates without milliseconds. */
export const twilioDate = (value: string | null): string | null => (value ? value.replace(/\.\d{3}Z$/, 'Z') : null);

/** The 2010-04-01 API writes RFC 2822 dates. */
export const rfc2822 = (value: string): string => new Date(value).toUTCString().replace('GMT', '+0000');

export function roomJson(base: string, r: Room) {
  const url = `${base}/v1/Rooms/${r.sid}`;
  return {
    sid: r.sid,
    status: r.status,
    date_created: twilioDate(r.date_created),
    date_updated: twilioDate(r.date_updated),
    account_sid: r.account_sid,
    enable_turn: Boolean(r.enable_turn),
    unique_name: r.unique_name,
    status_callback: r.status_callback,
    status_callback_method: r.status_callback_method,
    end_time: twilioDate(r.end_time),
    duration: r.duration,
    type: r.type,
    max_participants: r.max_participants,
    max_participant_duration: r.max_participant_duration,
    max_concurrent_published_tracks: r.max_concurrent_published_tracks,
    record_participants_on_connect: Boolean(r.record_participants_on_connect),
    video_codecs: JSON.parse(r.video_codecs) as string[],
    media_region: r.media_region,
    audio_only: Boolean(r.audio_only),
    empty_room_timeout: r.empty_room_timeout,
    unused_room_timeout: r.unused_room_timeout,
    large_room: false,
    url,
    links: {
      participants: `${url}/Participants`,
      recordings: `${url}/Recordings`,
      recording_rules: `${url}/RecordingRules`,
      transcriptions: `${url}/Transcriptions`,
    },
  };
}

export function participantJson(base: string, p: Participant) {
  const url = `${base}/v1/Rooms/${p.room_sid}/Participants/${p.sid}`;
  return {
    sid: p.sid,
    room_sid: p.room_sid,
    account_sid: p.account_sid,
    status: p.status,
    identity: p.identity,
    date_created: twilioDate(p.date_created),
    date_updated: twilioDate(p.date_updated),
    start_time: twilioDate(p.start_time),
    end_time: twilioDate(p.end_time),
    duration: p.duration,
    url,
    links: {
      published_tracks: `${url}/PublishedTracks`,
      subscribed_tracks: `${url}/SubscribedTracks`,
      subscribe_rules: `${url}/SubscribeRules`,
      anonymize: `${url}/Anonymize`,
    },
  };
}

export function publishedTrackJson(base: string, t: PublishedTrack) {
  return {
    sid: t.sid,
    participant_sid: t.participant_sid,
    room_sid: t.room_sid,
    name: t.name,
    date_created: twilioDate(t.date_created),
    date_updated: twilioDate(t.date_updated),
    enabled: Boolean(t.enabled),
    kind: t.kind,
    url: `${base}/v1/Rooms/${t.room_sid}/Participants/${t.participant_sid}/PublishedTracks/${t.sid}`,
  };
}

export function subscribedTrackJson(base: string, t: SubscribedTrack) {
  return {
    sid: t.sid,
    participant_sid: t.participant_sid,
    publisher_sid: t.publisher_sid,
    room_sid: t.room_sid,
    name: t.name,
    date_created: twilioDate(t.date_created),
    date_updated: twilioDate(t.date_updated),
    enabled: Boolean(t.enabled),
    kind: t.kind,
    url: `${base}/v1/Rooms/${t.room_sid}/Participants/${t.participant_sid}/SubscribedTracks/${t.sid}`,
  };
}

export function subscribeRulesJson(p: { participant: Participant; rules: SubscribeRule[]; dateCreated: string | null; dateUpdated: string | null }) {
  return {
    participant_sid: p.participant.sid,
    room_sid: p.participant.room_sid,
    rules: p.rules,
    date_created: twilioDate(p.dateCreated),
    date_updated: twilioDate(p.dateUpdated),
  };
}

/** The `meta` block of a Video v1 list, with absolute URLs built from PUBLIC_URL. */
export function listMeta(
  base: string,
  path: string,
  key: string,
  query: Record<string, string | undefined>,
  page: { page: number; pageSize: number; nextPageToken: string | null; pageToken?: string },
) {
  const url = (extra: Record<string, string | undefined>) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...query, ...extra })) if (v !== undefined && v !== '') params.set(k, v);
    return `${base}${path}?${params.toString()}`;
  };
  return {
    page: page.page,
    page_size: page.pageSize,
    first_page_url: url({ PageSize: String(page.pageSize), Page: '0' }),
    previous_page_url: null,
    url: url({ PageSize: String(page.pageSize), Page: String(page.page), PageToken: page.pageToken }),
    next_page_url: page.nextPageToken ? url({ PageSize: String(page.pageSize), Page: String(page.page + 1), PageToken: page.nextPageToken }) : null,
    key,
  };
}
