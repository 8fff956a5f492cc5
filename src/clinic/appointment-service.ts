// Appointments: book, edit, reschedule, cancel, list by day or week, with the SMS each change
// sends (invitation, reminders, reschedule and cancel notices) queued in the same transaction
// as the change, so a crash can neither lose one nor send one for a change that never happened.
import { randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Db } from '../store/database.js';
import type { AppointmentsTable, Database } from '../store/schema.js';
import type { JobQueue } from '../jobs/job-queue.js';
import type { EventBus } from '../realtime/event-bus.js';
import { iso, type Clock } from '../util/clock.js';
import { seesClinical, seesProvider, type Actor, type StaffActor } from './actor.js';
import type { AuditLog } from './audit-log.js';
import type { Clinic, ClinicSettingsService, Language } from './clinic-settings.js';
import { badRequest, conflict, forbidden, notFound } from './errors.js';
import { linkExpiry, type PatientLinks } from './patient-links.js';
import { newId } from './secrets.js';
import { smsBody, type SmsKind } from './sms-messages.js';
import type { SmsSender } from './sms-sender.js';
import { normalizePhone } from '../notify/phone.js';

export const REMINDER_QUEUE = 'clinic.reminder';

export interface AppointmentInput {
  providerId: string;
  patientName: string;
  patientPhone: string;
  patientDob: string;
  language: Language;
  interpreterNeeded: boolean;
  reason: string;
  startsAt: string;
  durationMinutes: number;
  copayCents: number;
  expectedParticipants?: number;
}

export interface PrecallSummary {
  browser: 'pass' | 'fail' | 'warn';
  camera: 'pass' | 'fail' | 'warn';
  microphone: 'pass' | 'fail' | 'warn';
  network: 'good' | 'fair' | 'poor' | 'fail';
  details?: Record<string, unknown>;
  at: string;
}

/** What staff see of an appointment; clinical fields only for providers and admins. */
export interface AppointmentView {
  id: string;
  providerId: string;
  providerName: string;
  patientName: string;
  patientPhone: string;
  language: Language;
  interpreterNeeded: boolean;
  startsAt: string;
  durationMinutes: number;
  copayCents: number;
  expectedParticipants: number;
  status: AppointmentsTable['status'];
  visitState: AppointmentsTable['visit_state'];
  providerStatus: string | null;
  checkedInAt: string | null;
  admittedAt: string | null;
  endedAt: string | null;
  precall: PrecallSummary | null;
  intakeDone: boolean;
  copayAcknowledged: boolean;
  consentGiven: boolean;
  linkLocked: boolean;
  clinical?: { patientDob: string; reason: string; intake: Record<string, string> | null; intakeLabels: Record<string, string> };
}

export class AppointmentService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly clinics: ClinicSettingsService,
    private readonly links: PatientLinks,
    private readonly sms: SmsSender,
    private readonly jobs: JobQueue,
    private readonly bus: EventBus,
    private readonly audit: AuditLog,
  ) {}

  async create(actor: StaffActor, input: AppointmentInput): Promise<AppointmentView> {
    if (actor.role === 'provider' && !actor.seesAllSchedules && input.providerId !== actor.staffId) {
      throw forbidden('You can book only on your own schedule');
    }
    const fields = await this.validate(actor, input);
    const now = iso(this.clock.now());
    const row: AppointmentsTable = {
      id: newId('ap'),
      clinic_id: actor.clinicId,
      ...fields,
      status: 'scheduled',
      visit_state: 'none',
      room_name: `visit-${randomBytes(12).toString('hex')}`,
      room_sid: null,
      schedule_version: 1,
      provider_status: null,
      checked_in_at: null,
      admitted_at: null,
      ended_at: null,
      precall: null,
      intake: null,
      copay_ack: null,
      consent: null,
      verify_failures: 0,
      verify_locked_until: null,
      created_by: actor.staffId,
      created_at: now,
      updated_at: now,
    };
    const clinic = await this.clinics.get(actor.clinicId);
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('appointments').values(row).execute();
      const token = await this.links.issue(trx, row.id, linkExpiry(row));
      await this.sendSms(trx, clinic, row, 'invite', { link: this.links.url(token) });
      await this.scheduleReminders(trx, clinic, row);
      await this.audit.record(actor, { action: 'appointment.create', subjectKind: 'appointment', subjectId: row.id }, trx);
    });
    await this.changed(row);
    return this.view(actor, row.id, { audit: false });
  }

  async update(actor: StaffActor, id: string, patch: Partial<AppointmentInput>): Promise<AppointmentView> {
    const current = await this.load(actor, id);
    if (current.status !== 'scheduled') throw conflict('not_scheduled', 'This appointment is no longer scheduled');
    const merged = await this.validate(actor, { ...inputOf(current), ...patch });
    if (actor.role === 'provider' && !actor.seesAllSchedules && merged.provider_id !== actor.staffId) throw forbidden();
    const rescheduled = merged.starts_at !== current.starts_at || merged.duration_minutes !== current.duration_minutes;
    const phoneChanged = merged.patient_phone !== current.patient_phone;
    const next: AppointmentsTable = {
      ...current,
      ...merged,
      schedule_version: rescheduled ? current.schedule_version + 1 : current.schedule_version,
      updated_at: iso(this.clock.now()),
    };
    const clinic = await this.clinics.get(actor.clinicId);
    const token = await this.links.liveToken(id);
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('appointments').set({ ...merged, schedule_version: next.schedule_version, updated_at: next.updated_at }).where('id', '=', id).execute();
      if (rescheduled) {
        await this.links.setExpiry(trx, id, linkExpiry(next));
        await this.scheduleReminders(trx, clinic, next);
      }
      if ((rescheduled || phoneChanged) && token) {
        await this.sendSms(trx, clinic, next, rescheduled ? 'rescheduled' : 'invite', { link: this.links.url(token) });
      }
      await this.audit.record(actor, { action: 'appointment.update', subjectKind: 'appointment', subjectId: id, detail: { fields: Object.keys(patch) } }, trx);
    });
    await this.changed(next);
    return this.view(actor, id, { audit: false });
  }

  async cancel(actor: StaffActor, id: string, notifyPatient: boolean): Promise<AppointmentView> {
    const current = await this.load(actor, id);
    if (current.status !== 'scheduled') throw conflict('not_scheduled', 'This appointment is no longer scheduled');
    if (current.visit_state === 'admitted') throw conflict('visit_in_progress', 'End the visit before cancelling');
    const clinic = await this.clinics.get(actor.clinicId);
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('appointments').set({ status: 'cancelled', updated_at: iso(this.clock.now()) }).where('id', '=', id).execute();
      await this.links.revokeAll(trx, id);
      if (notifyPatient) await this.sendSms(trx, clinic, current, 'cancelled', {});
      await this.audit.record(actor, { action: 'appointment.cancel', subjectKind: 'appointment', subjectId: id }, trx);
    });
    await this.changed(current);
    return this.view(actor, id, { audit: false });
  }

  /** Revokes the patient's link (and their open sessions) and, when asked, texts a new one. */
  async replaceLink(actor: StaffActor, id: string, sendNew: boolean): Promise<void> {
    const current = await this.load(actor, id);
    const clinic = await this.clinics.get(actor.clinicId);
    await this.db.transaction().execute(async (trx) => {
      if (sendNew && current.status === 'scheduled') {
        const token = await this.links.issue(trx, id, linkExpiry(current));
        await trx.updateTable('appointments').set({ verify_failures: 0, verify_locked_until: null }).where('id', '=', id).execute();
        await this.sendSms(trx, clinic, current, 'new-link', { link: this.links.url(token) });
      } else {
        await this.links.revokeAll(trx, id);
      }
      await this.audit.record(actor, { action: sendNew ? 'link.reissue' : 'link.revoke', subjectKind: 'appointment', subjectId: id }, trx);
    });
    await this.changed(current);
  }

  /** Appointments from `from` (inclusive) to `to` (exclusive) that this staff member may see. */
  async list(actor: StaffActor, range: { from: string; to: string; providerId?: string }): Promise<AppointmentView[]> {
    let q = this.db
      .selectFrom('appointments')
      .innerJoin('staff', 'staff.id', 'appointments.provider_id')
      .selectAll('appointments')
      .select('staff.display_name as provider_name')
      .where('appointments.clinic_id', '=', actor.clinicId)
      .where('appointments.starts_at', '>=', range.from)
      .where('appointments.starts_at', '<', range.to)
      .orderBy('appointments.starts_at');
    if (actor.role === 'provider' && !actor.seesAllSchedules) q = q.where('appointments.provider_id', '=', actor.staffId);
    else if (range.providerId) q = q.where('appointments.provider_id', '=', range.providerId);
    const rows = await q.execute();
    const locked = await this.lockedSet(rows.map((r) => r.id));
    await this.audit.record(actor, { action: 'appointment.list', detail: { from: range.from, to: range.to, count: rows.length } });
    const labels = intakeLabels(await this.clinics.get(actor.clinicId));
    return rows.map((r) => toView(actor, r, r.provider_name, locked.has(r.id), labels));
  }

  async view(actor: StaffActor, id: string, opts: { audit: boolean } = { audit: true }): Promise<AppointmentView> {
    const row = await this.load(actor, id);
    const provider = await this.db.selectFrom('staff').select('display_name').where('id', '=', row.provider_id).executeTakeFirst();
    if (opts.audit) await this.audit.record(actor, { action: 'appointment.view', subjectKind: 'appointment', subjectId: id, detail: { clinical: seesClinical(actor) } });
    const locked = await this.lockedSet([id]);
    return toView(actor, row, provider?.display_name ?? '', locked.has(id), intakeLabels(await this.clinics.get(actor.clinicId)));
  }

  /** Loads a row the actor may see: another clinic's or another provider's is "not found". */
  async load(actor: StaffActor, id: string): Promise<AppointmentsTable> {
    const row = await this.db.selectFrom('appointments').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || row.clinic_id !== actor.clinicId || !seesProvider(actor, row.provider_id)) throw notFound('Appointment not found');
    return row;
  }

  /**
   * Queues one SMS about this appointment, inside the caller's transaction. The clinic is looked
   * up before the transaction: on SQLite a query outside it would wait for it forever.
   */
  async sendSms(trx: Transaction<Database>, clinic: Clinic, a: AppointmentsTable, kind: SmsKind, extra: { link?: string; lateMinutes?: number; dedupe?: string }): Promise<void> {
    const body = smsBody(kind, { clinicName: clinic.name, startsAt: a.starts_at, timeZone: clinic.timeZone, language: a.language, ...extra });
    await this.sms.queue(
      {
        clinicId: a.clinic_id,
        appointmentId: a.id,
        to: a.patient_phone,
        body,
        kind,
        dedupeKey: `${a.id}:${kind}:${a.schedule_version}:${extra.dedupe ?? ''}`,
      },
      trx,
    );
  }

  /** Reminder jobs for each configured offset still in the future; older versions skip themselves. */
  private async scheduleReminders(trx: Transaction<Database>, clinic: Clinic, a: AppointmentsTable): Promise<void> {
    const start = Date.parse(a.starts_at);
    for (const minutes of clinic.settings.reminderOffsetsMinutes) {
      const runAt = start - minutes * 60_000;
      if (runAt <= this.clock.now()) continue;
      await this.jobs.enqueue(REMINDER_QUEUE, a.id, { appointmentId: a.id, version: a.schedule_version, minutes }, { trx, runAt });
    }
  }

  /** The reminder job: sends only if the appointment is still on, at the same time, not yet started. */
  reminderHandler() {
    return async (payload: { appointmentId: string; version: number; minutes: number }): Promise<void> => {
      const a = await this.db.selectFrom('appointments').selectAll().where('id', '=', payload.appointmentId).executeTakeFirst();
      if (!a || a.status !== 'scheduled' || a.schedule_version !== payload.version || a.visit_state === 'admitted' || a.visit_state === 'ended') return;
      const token = await this.links.liveToken(a.id);
      if (!token) return;
      const clinic = await this.clinics.get(a.clinic_id);
      await this.db.transaction().execute(async (trx) => {
        await this.sendSms(trx, clinic, a, 'reminder', { link: this.links.url(token), dedupe: String(payload.minutes) });
      });
    };
  }

  async changed(a: Pick<AppointmentsTable, 'id' | 'clinic_id' | 'provider_id'>, extra: Record<string, unknown> = {}): Promise<void> {
    await this.bus.publish(`clinic:${a.clinic_id}`, { type: 'appointment.changed', appointmentId: a.id, providerId: a.provider_id, ...extra });
  }

  private async lockedSet(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const now = iso(this.clock.now());
    const rows = await this.db.selectFrom('appointments').select('id').where('id', 'in', ids).where('verify_locked_until', '>', now).execute();
    return new Set(rows.map((r) => r.id));
  }

  private async validate(actor: StaffActor, input: AppointmentInput) {
    const provider = await this.db.selectFrom('staff').select(['id', 'role', 'active']).where('id', '=', input.providerId).where('clinic_id', '=', actor.clinicId).executeTakeFirst();
    if (!provider || provider.role !== 'provider' || provider.active !== 1) throw badRequest('bad_provider', 'Choose a provider of this clinic');
    const phone = normalizePhone(input.patientPhone);
    if (!phone) throw badRequest('bad_phone', 'Enter a mobile number with area code, e.g. +1 555 123 4567');
    const start = Date.parse(input.startsAt);
    if (!Number.isFinite(start) || !/^\d{4}-\d{2}-\d{2}T/.test(input.startsAt)) throw badRequest('bad_time', 'Enter a valid start time');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(input.patientDob) || !(Date.parse(input.patientDob) < this.clock.now()) || Date.parse(input.patientDob) < Date.parse('1900-01-01')) {
      throw badRequest('bad_dob', 'Enter the date of birth as YYYY-MM-DD');
    }
    if (!input.patientName.trim()) throw badRequest('bad_name', "Enter the patient's name");
    if (!Number.isInteger(input.durationMinutes) || input.durationMinutes < 5 || input.durationMinutes > 240) throw badRequest('bad_duration', 'Duration must be 5 to 240 minutes');
    if (!Number.isInteger(input.copayCents) || input.copayCents < 0 || input.copayCents > 1_000_000) throw badRequest('bad_copay', 'Enter a copay between $0 and $10,000');
    const expected = input.expectedParticipants ?? (input.interpreterNeeded ? 3 : 2);
    if (!Number.isInteger(expected) || expected < 2 || expected > 4) throw badRequest('bad_participants', 'A visit has 2 to 4 people');
    return {
      provider_id: provider.id,
      patient_name: input.patientName.trim(),
      patient_phone: phone,
      patient_dob: input.patientDob,
      language: input.language,
      interpreter_needed: input.interpreterNeeded ? 1 : 0,
      reason: input.reason.trim(),
      starts_at: new Date(start).toISOString(),
      duration_minutes: input.durationMinutes,
      copay_cents: input.copayCents,
      expected_participants: expected,
    };
  }
}

function inputOf(a: AppointmentsTable): AppointmentInput {
  return {
    providerId: a.provider_id,
    patientName: a.patient_name,
    patientPhone: a.patient_phone,
    patientDob: a.patient_dob,
    language: a.language,
    interpreterNeeded: a.interpreter_needed === 1,
    reason: a.reason,
    startsAt: a.starts_at,
    durationMinutes: a.duration_minutes,
    copayCents: a.copay_cents,
    expectedParticipants: a.expected_participants,
  };
}

/** The clinic's intake questions by id, in English, for staff reading the answers. */
export function intakeLabels(clinic: Clinic): Record<string, string> {
  return Object.fromEntries(clinic.settings.intakeQuestions.map((q) => [q.id, q.label.en]));
}

function toView(actor: StaffActor, r: AppointmentsTable, providerName: string, linkLocked: boolean, labels: Record<string, string>): AppointmentView {
  const view: AppointmentView = {
    id: r.id,
    providerId: r.provider_id,
    providerName,
    patientName: r.patient_name,
    patientPhone: r.patient_phone,
    language: r.language,
    interpreterNeeded: r.interpreter_needed === 1,
    startsAt: r.starts_at,
    durationMinutes: r.duration_minutes,
    copayCents: r.copay_cents,
    expectedParticipants: r.expected_participants,
    status: r.status,
    visitState: r.visit_state,
    providerStatus: r.provider_status,
    checkedInAt: r.checked_in_at,
    admittedAt: r.admitted_at,
    endedAt: r.ended_at,
    precall: r.precall ? (JSON.parse(r.precall) as PrecallSummary) : null,
    intakeDone: r.intake !== null,
    copayAcknowledged: r.copay_ack !== null,
    consentGiven: r.consent !== null,
    linkLocked,
  };
  if (seesClinical(actor)) {
    view.clinical = { patientDob: r.patient_dob, reason: r.reason, intake: r.intake ? (JSON.parse(r.intake) as Record<string, string>) : null, intakeLabels: labels };
  }
  return view;
}

export type { Actor };
