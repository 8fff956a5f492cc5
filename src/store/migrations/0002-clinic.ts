import { SqliteAdapter, type ColumnDefinitionBuilder, type Kysely } from 'kysely';

const serialKey = (db: Kysely<any>) => (c: ColumnDefinitionBuilder) =>
  db.getExecutor().adapter instanceof SqliteAdapter ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity();

// The clinic workflow: clinics, staff and their sessions, appointments with their patient link,
// patient sessions, waiting-room chat, and the append-only audit log.
// Portable column types only (text, integer): SQLite and PostgreSQL run the same statements.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('clinics')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('time_zone', 'text', (c) => c.notNull())
    .addColumn('settings', 'text', (c) => c.notNull()) // JSON: ClinicSettings
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('staff')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('clinic_id', 'text', (c) => c.notNull().references('clinics.id'))
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('sees_all_schedules', 'integer', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('totp_secret_enc', 'text')
    .addColumn('totp_enabled', 'integer', (c) => c.notNull())
    .addColumn('totp_last_step', 'integer') // the last accepted code's time step: codes work once
    .addColumn('active', 'integer', (c) => c.notNull())
    .addColumn('failed_logins', 'integer', (c) => c.notNull())
    .addColumn('locked_until', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('staff_by_clinic').on('staff').columns(['clinic_id']).execute();

  await db.schema
    .createTable('staff_sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('staff_id', 'text', (c) => c.notNull().references('staff.id'))
    .addColumn('stage', 'text', (c) => c.notNull()) // 'totp' (password ok, code due), 'enroll' (admin must set up TOTP), 'active'
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('ended_at', 'text')
    .execute();

  await db.schema
    .createTable('appointments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('clinic_id', 'text', (c) => c.notNull().references('clinics.id'))
    .addColumn('provider_id', 'text', (c) => c.notNull().references('staff.id'))
    .addColumn('patient_name', 'text', (c) => c.notNull())
    .addColumn('patient_phone', 'text', (c) => c.notNull())
    .addColumn('patient_dob', 'text', (c) => c.notNull())
    .addColumn('language', 'text', (c) => c.notNull())
    .addColumn('interpreter_needed', 'integer', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('starts_at', 'text', (c) => c.notNull())
    .addColumn('duration_minutes', 'integer', (c) => c.notNull())
    .addColumn('copay_cents', 'integer', (c) => c.notNull())
    .addColumn('expected_participants', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull()) // scheduled | cancelled | completed
    .addColumn('visit_state', 'text', (c) => c.notNull()) // none | waiting | admitted | ended
    .addColumn('room_name', 'text', (c) => c.notNull().unique())
    .addColumn('room_sid', 'text')
    .addColumn('schedule_version', 'integer', (c) => c.notNull())
    .addColumn('provider_status', 'text')
    .addColumn('checked_in_at', 'text')
    .addColumn('admitted_at', 'text')
    .addColumn('ended_at', 'text')
    .addColumn('precall', 'text') // JSON
    .addColumn('intake', 'text') // JSON
    .addColumn('copay_ack', 'text') // JSON {at, wordingVersion, amountCents}
    .addColumn('consent', 'text') // JSON {at, wordingVersion}
    .addColumn('verify_failures', 'integer', (c) => c.notNull())
    .addColumn('verify_locked_until', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('appointments_by_clinic_time').on('appointments').columns(['clinic_id', 'starts_at']).execute();
  await db.schema.createIndex('appointments_by_provider_time').on('appointments').columns(['provider_id', 'starts_at']).execute();

  await db.schema
    .createTable('patient_links')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('appointment_id', 'text', (c) => c.notNull().references('appointments.id'))
    .addColumn('token_enc', 'text', (c) => c.notNull()) // sealed, so reminders can repeat the link
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema.createIndex('patient_links_by_appointment').on('patient_links').columns(['appointment_id']).execute();

  await db.schema
    .createTable('patient_sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('appointment_id', 'text', (c) => c.notNull().references('appointments.id'))
    .addColumn('link_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('ended_at', 'text')
    .execute();

  await db.schema
    .createTable('chat_messages')
    .addColumn('id', 'integer', serialKey(db))
    .addColumn('appointment_id', 'text', (c) => c.notNull().references('appointments.id'))
    .addColumn('sender_kind', 'text', (c) => c.notNull()) // staff | patient | guest
    .addColumn('sender_staff_id', 'text')
    .addColumn('sender_name', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('chat_by_appointment').on('chat_messages').columns(['appointment_id', 'id']).execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'integer', serialKey(db))
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('clinic_id', 'text')
    .addColumn('actor_kind', 'text', (c) => c.notNull()) // staff | patient | guest | system
    .addColumn('actor_id', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('subject_kind', 'text')
    .addColumn('subject_id', 'text')
    .addColumn('ip', 'text')
    .addColumn('detail', 'text') // JSON, never PHI values, only which fields
    .execute();
  await db.schema.createIndex('audit_by_clinic').on('audit_log').columns(['clinic_id', 'id']).execute();
}

export async function down(): Promise<void> {
  throw new Error('Migrations are forward-only');
}
