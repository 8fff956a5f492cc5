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

/** One text message (src/notify). clinic_id/appointment_id are plain ids, no foreign keys. */
export interface SmsMessagesTable {
  id: string; // SM + 32 hex
  clinic_id: string;
  appointment_id: string | null;
  kind: string;
  to_number: string; // E.164
  from_number: string;
  body: string;
  /** queued (ours) → sending/sent (provider) → delivered | undelivered | failed; or suppressed (opted out). */
  status: 'queued' | 'sending' | 'sent' | 'delivered' | 'undelivered' | 'failed' | 'suppressed';
  provider: string;
  provider_message_id: string | null;
  error: string | null;
  /** Caller's idempotency key, unique per clinic. */
  dedupe_key: string | null;
  attempts: number;
  created_at: string;
  updated_at: string;
  /** When the provider accepted the message. */
  sent_at: string | null;
}

export interface SmsOptOutsTable {
  phone: string; // E.164
  created_at: string;
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
  clinics: ClinicsTable;
  staff: StaffTable;
  staff_sessions: StaffSessionsTable;
  appointments: AppointmentsTable;
  patient_links: PatientLinksTable;
  patient_sessions: PatientSessionsTable;
  chat_messages: ChatMessagesTable;
  audit_log: AuditLogTable;
  sms_messages: SmsMessagesTable;
  sms_opt_outs: SmsOptOutsTable;
  guest_invitations: GuestInvitationsTable;
  guest_sessions: GuestSessionsTable;
  phone_calls: PhoneCallsTable;
  interpreter_requests: InterpreterRequestsTable;
}

// ---- Clinic workflow (0002) ----

export type StaffRole = 'admin' | 'provider' | 'front_desk';

export interface ClinicsTable {
  id: string;
  name: string;
  time_zone: string;
  settings: string;
  created_at: string;
  updated_at: string;
}

export interface StaffTable {
  id: string;
  clinic_id: string;
  email: string;
  display_name: string;
  role: StaffRole;
  sees_all_schedules: number;
  password_hash: string;
  totp_secret_enc: string | null;
  totp_enabled: number;
  totp_last_step: number | null;
  active: number;
  failed_logins: number;
  locked_until: string | null;
  created_at: string;
  updated_at: string;
}

export interface StaffSessionsTable {
  id_hash: string;
  staff_id: string;
  stage: 'totp' | 'enroll' | 'active';
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ended_at: string | null;
}

export interface AppointmentsTable {
  id: string;
  clinic_id: string;
  provider_id: string;
  patient_name: string;
  patient_phone: string;
  patient_dob: string;
  language: 'en' | 'es';
  interpreter_needed: number;
  reason: string;
  starts_at: string;
  duration_minutes: number;
  copay_cents: number;
  expected_participants: number;
  status: 'scheduled' | 'cancelled' | 'completed';
  visit_state: 'none' | 'waiting' | 'admitted' | 'ended';
  room_name: string;
  room_sid: string | null;
  schedule_version: number;
  provider_status: string | null;
  checked_in_at: string | null;
  admitted_at: string | null;
  ended_at: string | null;
  precall: string | null;
  intake: string | null;
  copay_ack: string | null;
  consent: string | null;
  verify_failures: number;
  verify_locked_until: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface PatientLinksTable {
  token_hash: string;
  appointment_id: string;
  token_enc: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

export interface PatientSessionsTable {
  id_hash: string;
  appointment_id: string;
  link_hash: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ended_at: string | null;
}

export interface ChatMessagesTable {
  id: Generated<number>;
  appointment_id: string;
  sender_kind: 'staff' | 'patient' | 'guest';
  sender_staff_id: string | null;
  sender_name: string;
  body: string;
  created_at: string;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: string;
  clinic_id: string | null;
  actor_kind: 'staff' | 'patient' | 'guest' | 'system';
  actor_id: string | null;
  action: string;
  subject_kind: string | null;
  subject_id: string | null;
  ip: string | null;
  detail: string | null;
}

// ---- Guests of a visit (0004) ----

export type GuestRole = 'interpreter' | 'family' | 'caregiver' | 'clinician';

export interface GuestInvitationsTable {
  id: string;
  appointment_id: string;
  role: GuestRole;
  display_name: string;
  phone: string | null;
  token_hash: string;
  token_enc: string;
  created_by_kind: 'staff' | 'patient';
  created_by_id: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  state: 'invited' | 'waiting' | 'admitted' | 'left';
  admitted_at: string | null;
  last_seen_at: string | null;
  precall: string | null;
}

export interface GuestSessionsTable {
  id_hash: string;
  invitation_id: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ended_at: string | null;
}

// ---- Phone legs and interpreter-service requests (0005) ----

export type PhoneCallStatus = 'queued' | 'initiated' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';

export interface PhoneCallsTable {
  id: string;
  appointment_id: string;
  call_sid: string | null;
  role: GuestRole;
  display_name: string;
  /** E.164; shown and logged as its last four digits only. */
  to_number: string;
  status: PhoneCallStatus;
  sip_code: number | null;
  started_at: string | null;
  answered_at: string | null;
  ended_at: string | null;
  duration: number | null;
  created_by: string;
  created_at: string;
}

export type InterpreterRequestStatus = 'requested' | 'accepted' | 'connecting' | 'connected' | 'completed' | 'canceled' | 'failed';

export interface InterpreterRequestsTable {
  id: string;
  appointment_id: string;
  language: string;
  mode: 'video' | 'phone';
  status: InterpreterRequestStatus;
  service_request_id: string | null;
  invitation_id: string | null;
  phone_call_id: string | null;
  interpreter_name: string | null;
  message: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
  ended_at: string | null;
}
