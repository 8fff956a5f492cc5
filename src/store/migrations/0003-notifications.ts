import { type Kysely } from 'kysely';

// SMS (src/notify). Portable column types only. clinic_id/appointment_id are plain text, no
// foreign keys: messages outlive (and do not depend on) the clinic tables.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('sms_messages')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('clinic_id', 'text', (c) => c.notNull())
    .addColumn('appointment_id', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('to_number', 'text', (c) => c.notNull())
    .addColumn('from_number', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('provider_message_id', 'text')
    .addColumn('error', 'text')
    .addColumn('dedupe_key', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'text')
    .execute();
  // NULL keys never conflict (SQLite and PostgreSQL alike), so messages without a key are free.
  await db.schema.createIndex('sms_messages_dedupe').on('sms_messages').columns(['clinic_id', 'dedupe_key']).unique().execute();
  await db.schema.createIndex('sms_messages_provider_id').on('sms_messages').columns(['provider_message_id']).execute();
  await db.schema.createIndex('sms_messages_appointment').on('sms_messages').columns(['appointment_id', 'created_at']).execute();
  await db.schema.createIndex('sms_messages_created').on('sms_messages').columns(['created_at', 'id']).execute();

  await db.schema
    .createTable('sms_opt_outs')
    .addColumn('phone', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('sms_opt_outs').execute();
  await db.schema.dropTable('sms_messages').execute();
}
