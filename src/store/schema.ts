// Row types of every table, as Kysely sees them. Timestamps are ISO-8601 strings (UTC, ms),
// booleans are 0/1 integers, JSON is text: the same representation on SQLite and PostgreSQL.
import type { Generated } from 'kysely';

export interface AccountsTable {
  sid: string;
  friendly_name: string;
  auth_token_enc: string;
  status: string;
  date_created: string;
  date_updated: string;
}

export interface ApiKeysTable {
  sid: string;
  account_sid: string;
  friendly_name: string;
  secret_enc: string;
  status: 'active' | 'revoked';
  date_created: string;
  date_updated: string;
}

export interface RoomsTable {
  sid: string;
  account_sid: string;
  unique_name: string;
  status: 'in-progress' | 'completed' | 'failed';
  type: string;
  max_participants: number;
  max_participant_duration: number;
  max_concurrent_published_tracks: number;
  video_codecs: string; // JSON array
  media_region: string;
  audio_only: number;
  record_participants_on_connect: number;
  enable_turn: number;
  status_callback: string | null;
  status_callback_method: string;
  empty_room_timeout: number;
  unused_room_timeout: number;
  /** When the room last became empty (or was created); null while someone is connected. */
  empty_since: string | null;
  ever_joined: number;
  callback_sequence: number;
  date_created: string;
  date_updated: string;
  end_time: string | null;
  duration: number | null;
}

export interface ParticipantsTable {
  sid: string;
  room_sid: string;
  account_sid: string;
  identity: string;
  status: 'connected' | 'disconnected';
  date_created: string;
  date_updated: string;
  start_time: string;
  end_time: string | null;
  duration: number | null;
}

export interface PublishedTracksTable {
  sid: string;
  participant_sid: string;
  room_sid: string;
  name: string;
  kind: 'audio' | 'video' | 'data';
  enabled: number;
  /** 1 while published; unpublished tracks are kept for the record but not listed. */
  published: number;
  date_created: string;
  date_updated: string;
}

export interface SubscribedTracksTable {
  sid: string; // the published track's sid
  participant_sid: string; // the subscriber
  publisher_sid: string;
  room_sid: string;
  name: string;
  kind: 'audio' | 'video' | 'data';
  enabled: number;
  date_created: string;
  date_updated: string;
}

export interface SubscribeRulesTable {
  participant_sid: string;
  room_sid: string;
  rules: string; // JSON array
  date_created: string;
  date_updated: string;
}

export interface RecordingRulesTable {
  room_sid: string;
  rules: string; // JSON array
  date_created: string;
  date_updated: string;
}

export interface JobsTable {
  id: Generated<number>;
  queue: string;
  /** Jobs with the same group run one at a time, in id order. */
  group_key: string;
  payload: string; // JSON
  status: 'pending' | 'running' | 'done' | 'failed';
  attempts: number;
  run_at: string;
  locked_until: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

export interface Database {
  accounts: AccountsTable;
  api_keys: ApiKeysTable;
  rooms: RoomsTable;
  participants: ParticipantsTable;
  published_tracks: PublishedTracksTable;
  subscribed_tracks: SubscribedTracksTable;
  subscribe_rules: SubscribeRulesTable;
  recording_rules: RecordingRulesTable;
  jobs: JobsTable;
}
