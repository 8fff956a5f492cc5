// The append-only audit log: every read or change of patient data, by whom, when, from where.
// Only inserts and reads exist here; no code path updates or deletes a row. `detail` names the
// fields touched, never their values.
import type { Transaction } from 'kysely';
import type { Db } from '../store/database.js';
import type { Database } from '../store/schema.js';
import { iso, type Clock } from '../util/clock.js';
import type { Actor } from './actor.js';

export interface AuditEntry {
  action: string;
  subjectKind?: string;
  subjectId?: string;
  detail?: Record<string, unknown>;
}

export interface AuditRow {
  id: number;
  at: string;
  actorKind: string;
  actorId: string | null;
  actorName: string | null;
  action: string;
  subjectKind: string | null;
  subjectId: string | null;
  ip: string | null;
  detail: Record<string, unknown> | null;
}

export class AuditLog {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async record(actor: Actor, entry: AuditEntry, trx?: Transaction<Database>): Promise<void> {
    await (trx ?? this.db)
      .insertInto('audit_log')
      .values({
        at: iso(this.clock.now()),
        clinic_id: actor.clinicId,
        actor_kind: actor.kind,
        actor_id: actor.kind === 'staff' ? actor.staffId : actor.kind === 'patient' ? actor.appointmentId : actor.kind === 'guest' ? actor.invitationId : null,
        action: entry.action,
        subject_kind: entry.subjectKind ?? null,
        subject_id: entry.subjectId ?? null,
        ip: actor.ip,
        detail: entry.detail ? JSON.stringify(entry.detail) : null,
      })
      .execute();
  }

  /** Newest first; `before` pages backwards by id. */
  async list(clinicId: string, opts: { before?: number; limit: number }): Promise<AuditRow[]> {
    let q = this.db
      .selectFrom('audit_log')
      .leftJoin('staff', (j) => j.onRef('staff.id', '=', 'audit_log.actor_id').on('audit_log.actor_kind', '=', 'staff'))
      .select([
        'audit_log.id',
        'audit_log.at',
        'audit_log.actor_kind',
        'audit_log.actor_id',
        'staff.display_name as actor_name',
        'audit_log.action',
        'audit_log.subject_kind',
        'audit_log.subject_id',
        'audit_log.ip',
        'audit_log.detail',
      ])
      .where('audit_log.clinic_id', '=', clinicId)
      .orderBy('audit_log.id', 'desc')
      .limit(opts.limit);
    if (opts.before !== undefined) q = q.where('audit_log.id', '<', opts.before);
    const rows = await q.execute();
    return rows.map((r) => ({
      id: Number(r.id),
      at: r.at,
      actorKind: r.actor_kind,
      actorId: r.actor_id,
      actorName: r.actor_name ?? null,
      action: r.action,
      subjectKind: r.subject_kind,
      subjectId: r.subject_id,
      ip: r.ip,
      detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
    }));
  }
}
