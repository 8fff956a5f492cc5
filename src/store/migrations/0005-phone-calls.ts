import { type Kysely } from 'kysely';

// Third parties brought into a visit by the server (issue 7): phone legs dialed out through the
// SIP trunk, and requests to an interpreter service (which joins by guest link or is dialed).
// The number dialed is stored in full (E.164) to place the call; lists and logs show its last
// four digits only. IVR digits are never stored (they may be access codes). Portable column types only.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('phone_calls')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('appointment_id', 'text', (c) => c.notNull().references('appointments.id'))
    .addColumn('call_sid', 'text') // CA…, once the call is placed
    .addColumn('role', 'text', (c) => c.notNull()) // interpreter | family | caregiver | clinician
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('to_number', 'text', (c) => c.notNull()) // E.164
    .addColumn('status', 'text', (c) => c.notNull()) // queued | initiated | ringing | in-progress | completed | busy | no-answer | failed | canceled
    .addColumn('sip_code', 'integer')
    .addColumn('started_at', 'text')
    .addColumn('answered_at', 'text')
    .addColumn('ended_at', 'text')
    .addColumn('duration', 'integer') // seconds between answer and end
    .addColumn('created_by', 'text', (c) => c.notNull()) // staff id, or interpreter-request:<id>
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('phone_calls_by_appointment').on('phone_calls').columns(['appointment_id', 'created_at']).execute();
  await db.schema.createIndex('phone_calls_by_sid').on('phone_calls').columns(['call_sid']).execute();

  await db.schema
    .createTable('interpreter_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('appointment_id', 'text', (c) => c.notNull().references('appointments.id'))
    .addColumn('language', 'text', (c) => c.notNull()) // BCP 47 tag, e.g. es, zh-HK
    .addColumn('mode', 'text', (c) => c.notNull()) // video | phone
    .addColumn('status', 'text', (c) => c.notNull()) // requested | accepted | connecting | connected | completed | canceled | failed
    .addColumn('service_request_id', 'text') // the service's id, once it accepted the request
    .addColumn('invitation_id', 'text') // video: the guest invitation the interpreter joins by
    .addColumn('phone_call_id', 'text') // phone: the call we placed to the number the service gave
    .addColumn('interpreter_name', 'text')
    .addColumn('message', 'text') // the service's last explanation (unavailable, error…)
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('ended_at', 'text')
    .execute();
  await db.schema.createIndex('interpreter_requests_by_appointment').on('interpreter_requests').columns(['appointment_id', 'created_at']).execute();
  await db.schema.createIndex('interpreter_requests_by_service_id').on('interpreter_requests').columns(['service_request_id']).execute();
}

export async function down(): Promise<void> {
  throw new Error('Migrations are forward-only');
}
