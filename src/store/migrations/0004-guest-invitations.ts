import { type Kysely } from 'kysely';

// Guests of a visit (interpreter, family member, caregiver, another clinician): one invitation
// per person per visit, reached by its own link (256 random bits, stored as a SHA-256 hash and
// a sealed copy), and the cookie sessions opened from it. Portable column types only.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('guest_invitations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('appointment_id', 'text', (c) => c.notNull().references('appointments.id'))
    .addColumn('role', 'text', (c) => c.notNull()) // interpreter | family | caregiver | clinician
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('phone', 'text') // E.164, when the link was texted
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('token_enc', 'text', (c) => c.notNull()) // sealed, so the inviter can copy the link again
    .addColumn('created_by_kind', 'text', (c) => c.notNull()) // staff | patient
    .addColumn('created_by_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .addColumn('state', 'text', (c) => c.notNull()) // invited | waiting | admitted | left
    .addColumn('admitted_at', 'text')
    .addColumn('last_seen_at', 'text')
    .addColumn('precall', 'text') // JSON, the guest's device and network check
    .execute();
  await db.schema.createIndex('guest_invitations_by_appointment').on('guest_invitations').columns(['appointment_id', 'created_at']).execute();

  await db.schema
    .createTable('guest_sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('invitation_id', 'text', (c) => c.notNull().references('guest_invitations.id'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('ended_at', 'text')
    .execute();
  await db.schema.createIndex('guest_sessions_by_invitation').on('guest_sessions').columns(['invitation_id']).execute();
}

export async function down(): Promise<void> {
  throw new Error('Migrations are forward-only');
}
