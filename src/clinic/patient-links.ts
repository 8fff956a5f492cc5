// Patient links: one live link per appointment, 256 random bits, stored as a hash (plus a sealed
// copy so reminders can repeat it). Nothing in the link identifies the patient. A link stops
// working when the visit ends, when its window closes, or when staff revoke it.
import type { Transaction } from 'kysely';
import type { Db } from '../store/database.js';
import type { AppointmentsTable, Database } from '../store/schema.js';
import type { SecretBox } from '../util/secret-box.js';
import { iso, type Clock } from '../util/clock.js';
import { hashSecret, newBearerSecret } from './secrets.js';

/** A link stays usable this long after the scheduled end, for late starts and rejoining. */
export const LINK_GRACE_MS = 4 * 3600_000;

export function linkExpiry(a: Pick<AppointmentsTable, 'starts_at' | 'duration_minutes'>): string {
  return iso(Date.parse(a.starts_at) + a.duration_minutes * 60_000 + LINK_GRACE_MS);
}

export class PatientLinks {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly clock: Clock,
    private readonly publicUrl: () => string,
  ) {}

  url(token: string): string {
    return `${this.publicUrl()}/v/${token}`;
  }

  /** Revokes any live link of the appointment and issues a new one. */
  async issue(trx: Transaction<Database>, appointmentId: string, expiresAt: string): Promise<string> {
    await this.revokeAll(trx, appointmentId);
    const token = newBearerSecret();
    await trx
      .insertInto('patient_links')
      .values({ token_hash: hashSecret(token), appointment_id: appointmentId, token_enc: this.box.seal(token), created_at: iso(this.clock.now()), expires_at: expiresAt, revoked_at: null })
      .execute();
    return token;
  }

  async revokeAll(trx: Transaction<Database> | Db, appointmentId: string): Promise<void> {
    const now = iso(this.clock.now());
    await trx.updateTable('patient_links').set({ revoked_at: now }).where('appointment_id', '=', appointmentId).where('revoked_at', 'is', null).execute();
    await trx.updateTable('patient_sessions').set({ ended_at: now }).where('appointment_id', '=', appointmentId).where('ended_at', 'is', null).execute();
  }

  async setExpiry(trx: Transaction<Database> | Db, appointmentId: string, expiresAt: string): Promise<void> {
    await trx.updateTable('patient_links').set({ expires_at: expiresAt }).where('appointment_id', '=', appointmentId).where('revoked_at', 'is', null).execute();
  }

  /** The live link's token, to repeat it in a reminder; undefined when revoked or expired. */
  async liveToken(appointmentId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('patient_links')
      .select(['token_enc', 'expires_at'])
      .where('appointment_id', '=', appointmentId)
      .where('revoked_at', 'is', null)
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    if (!row || Date.parse(row.expires_at) <= this.clock.now()) return undefined;
    return this.box.open(row.token_enc);
  }

  async isLive(appointmentId: string): Promise<boolean> {
    return (await this.liveToken(appointmentId)) !== undefined;
  }

  /** The appointment a link opens, or undefined for an unknown, revoked or expired link. */
  async resolve(token: string): Promise<{ appointmentId: string; linkHash: string; expiresAt: string } | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
    const row = await this.db.selectFrom('patient_links').selectAll().where('token_hash', '=', hashSecret(token)).executeTakeFirst();
    if (!row || row.revoked_at || Date.parse(row.expires_at) <= this.clock.now()) return undefined;
    return { appointmentId: row.appointment_id, linkHash: row.token_hash, expiresAt: row.expires_at };
  }
}
