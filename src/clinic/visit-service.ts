// The visit around the video: the patient's portal steps (verify, intake, copay, consent,
// pre-call checks, check-in), the waiting room (provider status, chat, estimated wait), admit,
// tokens for the room, end, and the visit record. Every read or change of patient data is
// authorized here and written to the audit log.
import type { Db } from '../store/database.js';
import type { AppointmentsTable } from '../store/schema.js';
import type { EventBus } from '../realtime/event-bus.js';
import { iso, type Clock } from '../util/clock.js';
import { seesClinical, seesProvider, type Actor, type GuestActor, type PatientActor, type StaffActor } from './actor.js';
import { intakeLabels, type AppointmentService, type PrecallSummary } from './appointment-service.js';
import type { AuditLog } from './audit-log.js';
import { formatMoney, type ClinicSettingsService, type IntakeQuestion, type Language } from './clinic-settings.js';
import { badRequest, ClinicError, conflict, forbidden, notFound, unauthorized } from './errors.js';
import type { PatientLinks } from './patient-links.js';
import { hashSecret, newBearerSecret } from './secrets.js';
import type { VisitVideo } from './visit-video.js';

const MAX_VERIFY_FAILURES = 5;
const VERIFY_LOCK_MS = 15 * 60_000;
const PATIENT_IDLE_MS = 2 * 3600_000;
const MAX_CHAT_LENGTH = 1000;

export interface ChatMessage {
  id: number;
  from: 'staff' | 'patient' | 'guest';
  name: string;
  body: string;
  at: string;
}

export interface PatientView {
  clinicName: string;
  providerName: string;
  startsAt: string;
  durationMinutes: number;
  timeZone: string;
  language: Language;
  status: AppointmentsTable['status'];
  visitState: AppointmentsTable['visit_state'];
  providerStatus: string | null;
  estimatedWaitMinutes: number | null;
  copay: { amountCents: number; amountText: string; wording: string; version: string; acknowledgedAt: string | null };
  consent: { wording: string; version: string; givenAt: string | null };
  intake: { questions: IntakeQuestion[]; answers: Record<string, string> | null };
  precall: PrecallSummary | null;
  checkedInAt: string | null;
  waitingRoomVideo: unknown;
}

export interface VisitRecord {
  appointmentId: string;
  patientName: string;
  providerName: string;
  scheduledStart: string;
  visitStart: string | null;
  visitEnd: string | null;
  durationSeconds: number | null;
  participants: { name: string; role: string; joinedAt: string; leftAt: string | null; durationSeconds: number | null }[];
  chat: ChatMessage[];
  precall: PrecallSummary | null;
  intake: Record<string, string> | null;
  intakeLabels: Record<string, string>;
  copayAcknowledgedAt: string | null;
  consentGivenAt: string | null;
}

export class VisitService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly clinics: ClinicSettingsService,
    private readonly links: PatientLinks,
    private readonly appointments: AppointmentService,
    private readonly video: VisitVideo,
    private readonly bus: EventBus,
    private readonly audit: AuditLog,
  ) {}

  // ---------- patient: link and identity check ----------

  /** What the link page may show before the date of birth is checked: the language only. */
  async linkLanguage(token: string): Promise<{ language: Language; clinicName: string } | undefined> {
    const link = await this.links.resolve(token);
    if (!link) return undefined;
    const a = await this.row(link.appointmentId);
    const clinic = await this.clinics.get(a.clinic_id);
    return { language: a.language, clinicName: clinic.name };
  }

  /** Checks the date of birth; after MAX_VERIFY_FAILURES wrong tries the link rests and the clinic is told. */
  async verify(token: string, dob: string, ip: string | null): Promise<{ sessionSecret: string; expiresAt: string }> {
    const link = await this.links.resolve(token);
    if (!link) throw new ClinicError(410, 'link_invalid', 'This link no longer works. Please call the clinic for a new one.');
    const a = await this.row(link.appointmentId);
    const actor: PatientActor = { kind: 'patient', appointmentId: a.id, clinicId: a.clinic_id, ip };
    const now = this.clock.now();
    if (a.status === 'cancelled') throw new ClinicError(410, 'cancelled', 'This visit was cancelled. Please call the clinic.');
    if (a.verify_locked_until && Date.parse(a.verify_locked_until) > now) {
      throw new ClinicError(429, 'locked', 'Too many tries. Please wait 15 minutes or call the clinic.');
    }
    if (!/^\d{4}-\d{2}-\d{2}$/.test(dob) || dob !== a.patient_dob) {
      const failures = a.verify_failures + 1;
      const lock = failures >= MAX_VERIFY_FAILURES;
      await this.db
        .updateTable('appointments')
        .set({ verify_failures: lock ? 0 : failures, verify_locked_until: lock ? iso(now + VERIFY_LOCK_MS) : a.verify_locked_until })
        .where('id', '=', a.id)
        .execute();
      await this.audit.record(actor, { action: lock ? 'patient.verify_locked' : 'patient.verify_failed', subjectKind: 'appointment', subjectId: a.id });
      if (lock) {
        await this.appointments.changed(a, { notice: 'link-locked' });
        throw new ClinicError(429, 'locked', 'Too many tries. Please wait 15 minutes or call the clinic.');
      }
      throw new ClinicError(401, 'bad_dob', 'That date of birth does not match our records.');
    }
    const secret = newBearerSecret();
    const expiresAt = link.expiresAt;
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('appointments').set({ verify_failures: 0, verify_locked_until: null }).where('id', '=', a.id).execute();
      await trx
        .insertInto('patient_sessions')
        .values({ id_hash: hashSecret(secret), appointment_id: a.id, link_hash: link.linkHash, created_at: iso(now), last_seen_at: iso(now), expires_at: expiresAt, ended_at: null })
        .execute();
      await this.audit.record(actor, { action: 'patient.verified', subjectKind: 'appointment', subjectId: a.id }, trx);
    });
    return { sessionSecret: secret, expiresAt };
  }

  async authenticatePatient(sessionSecret: string | undefined, ip: string | null): Promise<PatientActor> {
    if (!sessionSecret) throw unauthorized('verify_required', 'Please open the link from your text message');
    const s = await this.db.selectFrom('patient_sessions').selectAll().where('id_hash', '=', hashSecret(sessionSecret)).executeTakeFirst();
    const now = this.clock.now();
    if (!s || s.ended_at || Date.parse(s.expires_at) <= now || Date.parse(s.last_seen_at) + PATIENT_IDLE_MS <= now) {
      throw unauthorized('verify_required', 'Please open the link from your text message again');
    }
    await this.db.updateTable('patient_sessions').set({ last_seen_at: iso(now) }).where('id_hash', '=', s.id_hash).execute();
    const a = await this.row(s.appointment_id);
    return { kind: 'patient', appointmentId: a.id, clinicId: a.clinic_id, ip };
  }

  /** Logout: the session ends here, not just its cookie in this browser. */
  async endPatientSession(sessionSecret: string | undefined): Promise<void> {
    if (!sessionSecret) return;
    await this.db.updateTable('patient_sessions').set({ ended_at: iso(this.clock.now()) }).where('id_hash', '=', hashSecret(sessionSecret)).where('ended_at', 'is', null).execute();
  }

  async patientView(p: PatientActor): Promise<PatientView> {
    const a = await this.row(p.appointmentId);
    const clinic = await this.clinics.get(a.clinic_id);
    const provider = await this.db.selectFrom('staff').select('display_name').where('id', '=', a.provider_id).executeTakeFirstOrThrow();
    const copayAck = a.copay_ack ? (JSON.parse(a.copay_ack) as { at: string }) : null;
    const consent = a.consent ? (JSON.parse(a.consent) as { at: string }) : null;
    await this.audit.record(p, { action: 'patient.view', subjectKind: 'appointment', subjectId: a.id });
    return {
      clinicName: clinic.name,
      providerName: provider.display_name,
      startsAt: a.starts_at,
      durationMinutes: a.duration_minutes,
      timeZone: clinic.timeZone,
      language: a.language,
      status: a.status,
      visitState: a.visit_state,
      providerStatus: a.provider_status,
      estimatedWaitMinutes: await this.estimatedWait(a),
      copay: {
        amountCents: a.copay_cents,
        amountText: formatMoney(a.copay_cents, a.language),
        wording: clinic.settings.copayWording.text[a.language].replace('{amount}', formatMoney(a.copay_cents, a.language)),
        version: clinic.settings.copayWording.version,
        acknowledgedAt: copayAck?.at ?? null,
      },
      consent: { wording: clinic.settings.consentWording.text[a.language], version: clinic.settings.consentWording.version, givenAt: consent?.at ?? null },
      intake: { questions: clinic.settings.intakeQuestions, answers: a.intake ? (JSON.parse(a.intake) as Record<string, string>) : null },
      precall: a.precall ? (JSON.parse(a.precall) as PrecallSummary) : null,
      checkedInAt: a.checked_in_at,
      waitingRoomVideo: clinic.settings.waitingRoomVideo,
    };
  }

  async setLanguage(p: PatientActor, language: Language): Promise<void> {
    await this.db.updateTable('appointments').set({ language, updated_at: iso(this.clock.now()) }).where('id', '=', p.appointmentId).execute();
    await this.audit.record(p, { action: 'patient.language', subjectKind: 'appointment', subjectId: p.appointmentId, detail: { language } });
  }

  async saveIntake(p: PatientActor, answers: Record<string, string>): Promise<void> {
    const a = await this.openRow(p);
    const clinic = await this.clinics.get(a.clinic_id);
    const clean: Record<string, string> = {};
    for (const q of clinic.settings.intakeQuestions) {
      const v = typeof answers[q.id] === 'string' ? answers[q.id]!.trim() : '';
      if (v.length > 4000) throw badRequest('too_long', 'An answer is too long (4000 characters at most)');
      if (q.required && !v) throw badRequest('required', `Please answer: ${q.label[a.language]}`);
      if (q.kind === 'yesno' && v && v !== 'yes' && v !== 'no') throw badRequest('bad_answer', 'Answer yes or no');
      clean[q.id] = v;
    }
    await this.db.updateTable('appointments').set({ intake: JSON.stringify(clean), updated_at: iso(this.clock.now()) }).where('id', '=', a.id).execute();
    await this.audit.record(p, { action: 'patient.intake', subjectKind: 'appointment', subjectId: a.id, detail: { fields: Object.keys(clean) } });
    await this.appointments.changed(a);
  }

  async acknowledge(p: PatientActor, what: 'copay' | 'consent', version: string): Promise<void> {
    const a = await this.openRow(p);
    const clinic = await this.clinics.get(a.clinic_id);
    const expected = what === 'copay' ? clinic.settings.copayWording.version : clinic.settings.consentWording.version;
    if (version !== expected) throw conflict('wording_changed', 'The wording changed; please read it again');
    const record = JSON.stringify({ at: iso(this.clock.now()), wordingVersion: version, ...(what === 'copay' ? { amountCents: a.copay_cents } : {}), language: a.language });
    await this.db.updateTable('appointments').set(what === 'copay' ? { copay_ack: record } : { consent: record }).where('id', '=', a.id).execute();
    await this.audit.record(p, { action: `patient.${what}`, subjectKind: 'appointment', subjectId: a.id, detail: { version } });
    await this.appointments.changed(a);
  }

  async savePrecall(p: PatientActor, summary: Omit<PrecallSummary, 'at'>): Promise<void> {
    const a = await this.openRow(p);
    const stored: PrecallSummary = { ...summary, at: iso(this.clock.now()) };
    await this.db.updateTable('appointments').set({ precall: JSON.stringify(stored) }).where('id', '=', a.id).execute();
    await this.audit.record(p, { action: 'patient.precall', subjectKind: 'appointment', subjectId: a.id });
    await this.appointments.changed(a);
  }

  /** A throwaway room for the pre-call media test, while the visit is still ahead. */
  async preflight(p: PatientActor): Promise<{ token: string; roomName: string; turn: boolean }> {
    await this.openRow(p);
    return this.video.preflightToken();
  }

  /** Into the waiting room. Needs consent; the clinic hears about it at once. */
  async checkIn(p: PatientActor): Promise<void> {
    const a = await this.openRow(p);
    if (!a.consent) throw conflict('consent_required', 'Please agree to the video visit first');
    if (a.visit_state === 'none') {
      await this.db.updateTable('appointments').set({ visit_state: 'waiting', checked_in_at: a.checked_in_at ?? iso(this.clock.now()) }).where('id', '=', a.id).execute();
      await this.audit.record(p, { action: 'patient.check_in', subjectKind: 'appointment', subjectId: a.id });
      await this.appointments.changed(a, { notice: 'checked-in' });
    }
  }

  // ---------- chat (staff and patient) ----------

  async chat(actor: StaffActor | PatientActor, appointmentId: string): Promise<ChatMessage[]> {
    const a = await this.authorized(actor, appointmentId);
    const rows = await this.db.selectFrom('chat_messages').selectAll().where('appointment_id', '=', a.id).orderBy('id').execute();
    await this.audit.record(actor, { action: 'chat.read', subjectKind: 'appointment', subjectId: a.id });
    return rows.map(chatView);
  }

  async postChat(actor: StaffActor | PatientActor, appointmentId: string, text: string): Promise<ChatMessage> {
    const a = await this.authorized(actor, appointmentId);
    const body = text.trim();
    if (!body) throw badRequest('empty', 'Type a message first');
    if (body.length > MAX_CHAT_LENGTH) throw badRequest('too_long', `Messages can have ${MAX_CHAT_LENGTH} characters at most`);
    if (a.status !== 'scheduled') throw conflict('closed', 'This visit is closed');
    const row = {
      appointment_id: a.id,
      sender_kind: actor.kind,
      sender_staff_id: actor.kind === 'staff' ? actor.staffId : null,
      sender_name: actor.kind === 'staff' ? actor.displayName : a.patient_name,
      body,
      created_at: iso(this.clock.now()),
    };
    const inserted = await this.db.insertInto('chat_messages').values(row).returning('id').executeTakeFirstOrThrow();
    const message = chatView({ ...row, id: Number(inserted.id) });
    await this.audit.record(actor, { action: 'chat.send', subjectKind: 'appointment', subjectId: a.id });
    await this.bus.publish(`appointment:${a.id}`, { type: 'chat', message });
    await this.bus.publish(`clinic:${a.clinic_id}`, { type: 'chat', appointmentId: a.id, providerId: a.provider_id, message });
    return message;
  }

  // ---------- staff: waiting room and visit ----------

  async setProviderStatus(actor: StaffActor, appointmentId: string, input: { message: string | null; lateMinutes?: number; sendSms?: boolean }): Promise<void> {
    const a = await this.appointments.load(actor, appointmentId);
    if (a.status !== 'scheduled') throw conflict('closed', 'This visit is closed');
    const message = input.message?.trim() || null;
    if (message && message.length > 200) throw badRequest('too_long', 'Keep the status under 200 characters');
    const clinic = await this.clinics.get(a.clinic_id);
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('appointments').set({ provider_status: message, updated_at: iso(this.clock.now()) }).where('id', '=', a.id).execute();
      if (input.sendSms && input.lateMinutes && input.lateMinutes > 0) {
        await this.appointments.sendSms(trx, clinic, a, 'running-late', { lateMinutes: input.lateMinutes, dedupe: `late-${this.clock.now()}` });
      }
      await this.audit.record(actor, { action: 'visit.status', subjectKind: 'appointment', subjectId: a.id, detail: { sms: Boolean(input.sendSms) } }, trx);
    });
    await this.bus.publish(`appointment:${a.id}`, { type: 'status', providerStatus: message });
    await this.appointments.changed(a);
  }

  /** Tells the waiting patient the provider is about to let them in. */
  async admitSoon(actor: StaffActor, appointmentId: string): Promise<void> {
    const a = await this.appointments.load(actor, appointmentId);
    await this.bus.publish(`appointment:${a.id}`, { type: 'admit-soon' });
    await this.audit.record(actor, { action: 'visit.admit_soon', subjectKind: 'appointment', subjectId: a.id });
  }

  /** Opens the visit room and moves the patient from the waiting room into it. */
  async admit(actor: StaffActor, appointmentId: string): Promise<void> {
    const a = await this.appointments.load(actor, appointmentId);
    requireVisitProvider(actor, a);
    if (a.status !== 'scheduled') throw conflict('closed', 'This visit is closed');
    const roomSid = await this.video.ensureRoom(a.room_name);
    const now = iso(this.clock.now());
    await this.db.updateTable('appointments').set({ visit_state: 'admitted', room_sid: roomSid, admitted_at: a.admitted_at ?? now, provider_status: null, updated_at: now }).where('id', '=', a.id).execute();
    await this.audit.record(actor, { action: 'visit.admit', subjectKind: 'appointment', subjectId: a.id });
    await this.bus.publish(`appointment:${a.id}`, { type: 'admitted' });
    await this.appointments.changed(a);
  }

  /** A room token for the provider or the admitted patient, limited to this visit's room. */
  async visitToken(actor: StaffActor | PatientActor, appointmentId: string): Promise<{ token: string; identity: string; roomSid: string; expiresAt: string; connectProfile: 'two-party' | 'group' }> {
    const a = await this.authorized(actor, appointmentId);
    if (actor.kind === 'staff') requireVisitProvider(actor, a);
    if (a.status !== 'scheduled' || a.visit_state === 'ended') throw conflict('visit_ended', 'This visit has ended');
    if (a.visit_state !== 'admitted') throw conflict('not_admitted', 'The provider has not started the visit yet');
    const roomSid = await this.video.ensureRoom(a.room_name);
    if (roomSid !== a.room_sid) await this.db.updateTable('appointments').set({ room_sid: roomSid }).where('id', '=', a.id).execute();
    const identity = actor.kind === 'staff' ? this.video.identityFor('staff', actor.staffId, a.id) : this.video.identityFor('patient', a.id, a.id);
    const { token, expiresAt } = await this.video.token(identity, roomSid);
    await this.audit.record(actor, { action: 'visit.join', subjectKind: 'appointment', subjectId: a.id });
    return { token, identity, roomSid, expiresAt, connectProfile: a.expected_participants > 2 ? 'group' : 'two-party' };
  }

  /** Display names for the opaque identities of this visit (provider, patient, guests), for the people in it only. */
  async directory(actor: StaffActor | PatientActor | GuestActor, appointmentId: string): Promise<Record<string, { name: string; role: string }>> {
    const a = await this.authorized(actor, appointmentId);
    // Every provider of the clinic: one covering for a colleague (whole-schedule access) joins
    // under their own identity and must show up with their own name.
    const providers = await this.db.selectFrom('staff').select(['id', 'display_name']).where('clinic_id', '=', a.clinic_id).where('role', '=', 'provider').execute();
    const out: Record<string, { name: string; role: string }> = {};
    for (const p of providers) out[this.video.identityFor('staff', p.id, a.id)] = { name: p.display_name, role: 'provider' };
    out[this.video.identityFor('patient', a.id, a.id)] = { name: a.patient_name, role: 'patient' };
    // Guests by the role they were invited as; a declined guest who never came in is not listed.
    const guests = await this.db.selectFrom('guest_invitations').select(['id', 'role', 'display_name', 'revoked_at', 'admitted_at']).where('appointment_id', '=', a.id).execute();
    for (const g of guests) {
      if (!g.revoked_at || g.admitted_at) out[this.video.identityFor('guest', g.id, a.id)] = { name: g.display_name, role: g.role };
    }
    // Phone legs that were answered (their audio is in the room), as "Interpreter (phone)" etc.: role `phone-<role>`.
    const phones = await this.db.selectFrom('phone_calls').select(['id', 'role', 'display_name']).where('appointment_id', '=', a.id).where('answered_at', 'is not', null).execute();
    for (const p of phones) out[this.video.identityFor('phone', p.id, a.id)] = { name: p.display_name, role: `phone-${p.role}` };
    return out;
  }

  async end(actor: StaffActor, appointmentId: string): Promise<void> {
    const a = await this.appointments.load(actor, appointmentId);
    requireVisitProvider(actor, a);
    if (a.visit_state === 'ended') return;
    const now = iso(this.clock.now());
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('appointments').set({ visit_state: 'ended', status: 'completed', ended_at: now, updated_at: now }).where('id', '=', a.id).execute();
      // The link stops working; the patient's open page keeps its session long enough for the end screen.
      await this.links.setExpiry(trx, a.id, now);
      await trx.updateTable('patient_sessions').set({ expires_at: iso(this.clock.now() + 30 * 60_000) }).where('appointment_id', '=', a.id).where('ended_at', 'is', null).execute();
      await this.audit.record(actor, { action: 'visit.end', subjectKind: 'appointment', subjectId: a.id }, trx);
    });
    await this.video.completeRoom(a.room_sid);
    await this.bus.publish(`appointment:${a.id}`, { type: 'ended' });
    await this.appointments.changed(a);
  }

  async record(actor: StaffActor, appointmentId: string): Promise<VisitRecord> {
    const a = await this.appointments.load(actor, appointmentId);
    if (!seesClinical(actor)) throw forbidden('Visit records are for providers and admins');
    const names = await this.directory(actor, a.id);
    const participants = a.room_sid ? await this.video.participants(a.room_sid) : [];
    const room = a.room_sid ? await this.video.room(a.room_sid).catch(() => undefined) : undefined;
    const chat = (await this.db.selectFrom('chat_messages').selectAll().where('appointment_id', '=', a.id).orderBy('id').execute()).map(chatView);
    const provider = names[this.video.identityFor('staff', a.provider_id, a.id)]!;
    await this.audit.record(actor, { action: 'visit.record', subjectKind: 'appointment', subjectId: a.id });
    return {
      appointmentId: a.id,
      patientName: a.patient_name,
      providerName: provider.name,
      scheduledStart: a.starts_at,
      visitStart: room?.date_created ?? a.admitted_at,
      visitEnd: room?.end_time ?? a.ended_at,
      durationSeconds: room?.duration ?? null,
      participants: participants.map((p) => ({
        name: names[p.identity]?.name ?? 'Guest',
        role: names[p.identity]?.role ?? 'guest',
        joinedAt: p.start_time,
        leftAt: p.end_time,
        durationSeconds: p.duration,
      })),
      chat,
      precall: a.precall ? (JSON.parse(a.precall) as PrecallSummary) : null,
      intake: a.intake ? (JSON.parse(a.intake) as Record<string, string>) : null,
      intakeLabels: intakeLabels(await this.clinics.get(a.clinic_id)),
      copayAcknowledgedAt: a.copay_ack ? (JSON.parse(a.copay_ack) as { at: string }).at : null,
      consentGivenAt: a.consent ? (JSON.parse(a.consent) as { at: string }).at : null,
    };
  }

  // ---------- helpers ----------

  /** Minutes until the provider is likely free: time to the start plus the visits queued before this one. */
  private async estimatedWait(a: AppointmentsTable): Promise<number | null> {
    if (a.visit_state !== 'waiting' && a.visit_state !== 'none') return null;
    const now = this.clock.now();
    const ahead = await this.db
      .selectFrom('appointments')
      .select(['starts_at', 'duration_minutes', 'visit_state', 'admitted_at'])
      .where('provider_id', '=', a.provider_id)
      .where('status', '=', 'scheduled')
      .where('id', '!=', a.id)
      .where((eb) => eb.or([eb('visit_state', '=', 'admitted'), eb.and([eb('visit_state', '=', 'waiting'), eb('starts_at', '<', a.starts_at)])]))
      .execute();
    let freeAt = now;
    for (const other of ahead) {
      const began = other.admitted_at ? Date.parse(other.admitted_at) : freeAt;
      freeAt = Math.max(freeAt, began + other.duration_minutes * 60_000);
    }
    const start = Math.max(Date.parse(a.starts_at), freeAt);
    return Math.max(0, Math.round((start - now) / 60_000));
  }

  private async row(id: string): Promise<AppointmentsTable> {
    const a = await this.db.selectFrom('appointments').selectAll().where('id', '=', id).executeTakeFirst();
    if (!a) throw notFound('Appointment not found');
    return a;
  }

  private async openRow(p: PatientActor): Promise<AppointmentsTable> {
    const a = await this.row(p.appointmentId);
    if (a.status !== 'scheduled' || a.visit_state === 'ended') throw conflict('closed', 'This visit is closed');
    return a;
  }

  /** Staff who may see the appointment, or the patient (or a guest) of this very appointment. */
  private async authorized(actor: StaffActor | PatientActor | GuestActor, appointmentId: string): Promise<AppointmentsTable> {
    if (actor.kind === 'staff') return this.appointments.load(actor, appointmentId);
    if (actor.appointmentId !== appointmentId) throw notFound('Appointment not found');
    return this.row(appointmentId);
  }
}

function requireVisitProvider(actor: StaffActor, a: AppointmentsTable): void {
  if (actor.role !== 'provider' || !seesProvider(actor, a.provider_id)) throw forbidden('Only the visit’s provider can do this');
}

function chatView(r: { id: number; sender_kind: string; sender_name: string; body: string; created_at: string }): ChatMessage {
  return { id: Number(r.id), from: r.sender_kind as ChatMessage['from'], name: r.sender_name, body: r.body, at: r.created_at };
}

export type { Actor };
