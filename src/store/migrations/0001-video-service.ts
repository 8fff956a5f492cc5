import { sql, SqliteAdapter, type Kysely } from 'kysely';

// Portable column types only (text, integer): SQLite and PostgreSQL run the same statements.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('accounts')
    .addColumn('sid', 'text', (c) => c.primaryKey())
    .addColumn('friendly_name', 'text', (c) => c.notNull())
    .addColumn('auth_token_enc', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('date_created', 'text', (c) => c.notNull())
    .addColumn('date_updated', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('sid', 'text', (c) => c.primaryKey())
    .addColumn('account_sid', 'text', (c) => c.notNull().references('accounts.sid'))
    .addColumn('friendly_name', 'text', (c) => c.notNull())
    .addColumn('secret_enc', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('date_created', 'text', (c) => c.notNull())
    .addColumn('date_updated', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('rooms')
    .addColumn('sid', 'text', (c) => c.primaryKey())
    .addColumn('account_sid', 'text', (c) => c.notNull().references('accounts.sid'))
    .addColumn('unique_name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('max_participants', 'integer', (c) => c.notNull())
    .addColumn('max_participant_duration', 'integer', (c) => c.notNull())
    .addColumn('max_concurrent_published_tracks', 'integer', (c) => c.notNull())
    .addColumn('video_codecs', 'text', (c) => c.notNull())
    .addColumn('media_region', 'text', (c) => c.notNull())
    .addColumn('audio_only', 'integer', (c) => c.notNull())
    .addColumn('record_participants_on_connect', 'integer', (c) => c.notNull())
    .addColumn('enable_turn', 'integer', (c) => c.notNull())
    .addColumn('status_callback', 'text')
    .addColumn('status_callback_method', 'text', (c) => c.notNull())
    .addColumn('empty_room_timeout', 'integer', (c) => c.notNull())
    .addColumn('unused_room_timeout', 'integer', (c) => c.notNull())
    .addColumn('empty_since', 'text')
    .addColumn('ever_joined', 'integer', (c) => c.notNull())
    .addColumn('callback_sequence', 'integer', (c) => c.notNull())
    .addColumn('date_created', 'text', (c) => c.notNull())
    .addColumn('date_updated', 'text', (c) => c.notNull())
    .addColumn('end_time', 'text')
    .addColumn('duration', 'integer')
    .execute();
  // A unique name is unique among in-progress rooms only; completed rooms free their name.
  await sql`CREATE UNIQUE INDEX rooms_in_progress_name ON rooms (account_sid, unique_name) WHERE status = 'in-progress'`.execute(db);
  await db.schema.createIndex('rooms_by_created').on('rooms').columns(['account_sid', 'date_created', 'sid']).execute();
  await sql`CREATE INDEX rooms_empty ON rooms (empty_since) WHERE status = 'in-progress'`.execute(db);

  await db.schema
    .createTable('participants')
    .addColumn('sid', 'text', (c) => c.primaryKey())
    .addColumn('room_sid', 'text', (c) => c.notNull().references('rooms.sid'))
    .addColumn('account_sid', 'text', (c) => c.notNull())
    .addColumn('identity', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('date_created', 'text', (c) => c.notNull())
    .addColumn('date_updated', 'text', (c) => c.notNull())
    .addColumn('start_time', 'text', (c) => c.notNull())
    .addColumn('end_time', 'text')
    .addColumn('duration', 'integer')
    .execute();
  await db.schema.createIndex('participants_by_room').on('participants').columns(['room_sid', 'date_created', 'sid']).execute();

  await db.schema
    .createTable('published_tracks')
    .addColumn('sid', 'text', (c) => c.primaryKey())
    .addColumn('participant_sid', 'text', (c) => c.notNull().references('participants.sid'))
    .addColumn('room_sid', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('published', 'integer', (c) => c.notNull())
    .addColumn('date_created', 'text', (c) => c.notNull())
    .addColumn('date_updated', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('published_tracks_by_participant').on('published_tracks').columns(['participant_sid']).execute();

  await db.schema
    .createTable('subscribed_tracks')
    .addColumn('sid', 'text', (c) => c.notNull())
    .addColumn('participant_sid', 'text', (c) => c.notNull().references('participants.sid'))
    .addColumn('publisher_sid', 'text', (c) => c.notNull())
    .addColumn('room_sid', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('date_created', 'text', (c) => c.notNull())
    .addColumn('date_updated', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('subscribed_tracks_pk', ['participant_sid', 'sid'])
    .execute();

  await db.schema
    .createTable('subscribe_rules')
    .addColumn('participant_sid', 'text', (c) => c.primaryKey().references('participants.sid'))
    .addColumn('room_sid', 'text', (c) => c.notNull())
    .addColumn('rules', 'text', (c) => c.notNull())
    .addColumn('date_created', 'text', (c) => c.notNull())
    .addColumn('date_updated', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('recording_rules')
    .addColumn('room_sid', 'text', (c) => c.primaryKey().references('rooms.sid'))
    .addColumn('rules', 'text', (c) => c.notNull())
    .addColumn('date_created', 'text', (c) => c.notNull())
    .addColumn('date_updated', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('jobs')
    .addColumn('id', 'integer', (c) =>
      db.getExecutor().adapter instanceof SqliteAdapter ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity(),
    )
    .addColumn('queue', 'text', (c) => c.notNull())
    .addColumn('group_key', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('run_at', 'text', (c) => c.notNull())
    .addColumn('locked_until', 'text')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await sql`CREATE INDEX jobs_open ON jobs (group_key, id) WHERE status IN ('pending', 'running')`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('0001 is the first migration; there is nothing to go back to');
}
