// Guests of a visit: an interpreter, a family member, a caregiver or another clinician, invited
// by the visit's provider or by the verified patient. Each invitation is one person for one
// visit: its own link (256 random bits, stored hashed, with a sealed copy so the inviter can copy
// it again), its own cookie session, and an opaque room identity. The guest's access token is
// minted by the same token service as everyone else's, limited to this visit's room SID: it
// cannot open another room nor create one. An interpreter serving many visits gets a new
// invitation, and so new access, per visit. Revoking disconnects the guest; ending the visit
// ends every guest's access. Every step is in the audit log.
import type { Db } from '../store/database.js';
import type { AppointmentsTable, GuestInvitationsTable, GuestRole } from '../store/schema.js';
import type { EventBus } from '../realtime/event-bus.js';
import type { SecretBox } from '../util/secret-box.js';
import { iso, type Clock } from '../util/clock.js';
import { normalizePhone } from '../notify/phone.js';
import { seesProvider, type GuestActor, type PatientActor, type StaffActor } from './actor.js';
import type { AppointmentService, PrecallSummary } from './appointment-service.js';
import type { AuditLog } from './audit-log.js';
import type { ClinicSettingsService, Language } from './clinic-settings.js';
import { badRequest, ClinicError, conflict, forbidden, notFound, unauthorized } from './errors.js';
import { linkExpiry } from './patient-links.js';
import { hashSecret, newBearerSecret, newId } from './secrets.js';
import { smsBody } from './sms-messages.js';
import type { SmsSender } from './sms-sender.js';
import type { ChatMessage } from './visit-service.js';
import type { VisitVideo } from './visit-video.js';

export const GUEST_ROLES: readonly GuestRole[] = ['interpreter', 'family', 'caregiver', 'clinician'];
/** A patient invites the people around them; another clinician is the provider's call. */
const PATIENT_MAY_INVITE: readonly GuestRole[] = ['interpreter', 'family', 'caregiver'];
/** Invitations not revoked, per visit (the room holds four people; this bounds texts too). */
const MAX_LIVE_INVITATIONS = 6;
const GUEST_IDLE_MS = 2 * 3600_000;
const MAX_CHAT_LENGTH = 1000;

export interface GuestView {
  id: string;
  role: GuestRole;
  displayName: string;
  /** The last four digits of the number the link was texted to. */
  phoneLast4: string | null;
  state: GuestInvitationsTable['state'];
  createdBy: 'staff' | 'patient';
  createdAt: string;
  admittedAt: string | null;
  revokedAt: string | null;
  /** The link, for the visit's provider or the inviting patient to copy again; null once revoked or the visit is over. */
  link: string | null;
  precall: PrecallSummary | null;
}

export interface GuestMe {
  invitationId: string;
  clinicName: string;
  providerName: string;
  role: GuestRole;
  displayName: string;
  state: GuestInvitationsTable['state'];
  visitState: AppointmentsTable['visit_state'];
  language: Language;
  needsAdmission: boolean;
}

export interface GuestInput {
  role: GuestRole;
  displayName: string;
  phone?: string | null;
}

const linkInvalid = () => new ClinicError(410, 'link_invalid', 'This link no longer works. Please ask the person who invited you for a new one.');
const revoked = () => new ClinicError(410, 'revoked', 'Your access to this visit was removed.');
const visitEnded = () => conflict('visit_ended', 'This visit has ended');

export class GuestService {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly clock: Clock,
    private readonly clinics: ClinicSettingsService,
    private readonly appointments: AppointmentService,
    private readonly video: VisitVideo,
    private readonly sms: SmsSender,
    private readonly bus: EventBus,
    private readonly audit: AuditLog,
    private readonly publicUrl: () => string,
  ) {}

  url(token: string): string {
    return `${this.publicUrl()}/g/${token}`;
  }

  // ---------- the inviters: the visit's provider, the patient ----------

  async invite(actor: StaffActor | PatientActor, appointmentId: string, input: GuestInput): Promise<GuestView> {
    const a = await this.forInviter(actor, appointmentId);
    if (!isOpen(a)) throw visitEnded();
    if (!GUEST_ROLES.includes(input.role)) throw badRequest('bad_role', 'Choose interpreter, family member, caregiver or clinician');
    if (actor.kind === 'patient' && !PATIENT_MAY_INVITE.includes(input.role)) throw forbidden('Only the provider can invite another clinician');
    const displayName = input.displayName.trim().replace(/\s+/g, ' ');
    if (!displayName || displayName.length > 80) throw badRequest('bad_name', 'Enter the guest’s name (80 characters at most)');
    let phone: string | null = null;
    if (input.phone && input.phone.trim()) {
      phone = normalizePhone(input.phone);
      if (!phone) throw badRequest('bad_phone', 'Enter a mobile number with area code, e.g. +1 555 123 4567');
    }
    const live = await this.db
      .selectFrom('guest_invitations')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('appointment_id', '=', a.id)
      .where('revoked_at', 'is', null)
      .executeTakeFirstOrThrow();
    if (Number(live.n) >= MAX_LIVE_INVITATIONS) throw conflict('too_many_guests', `A visit can have ${MAX_LIVE_INVITATIONS} guests at most; remove one first`);

    const clinic = await this.clinics.get(a.clinic_id);
    const token = newBearerSecret();
    const now = iso(this.clock.now());
    const row: GuestInvitationsTable = {
      id: newId('gi'),
      appointment_id: a.id,
      role: input.role,
      display_name: displayName,
      phone,
      token_hash: hashSecret(token),
      token_enc: this.box.seal(token),
      created_by_kind: actor.kind,
      created_by_id: actor.kind === 'staff' ? actor.staffId : actor.appointmentId,
      created_at: now,
      expires_at: linkExpiry(a),
      revoked_at: null,
      state: 'invited',
      admitted_at: null,
      last_seen_at: null,
      precall: null,
    };
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('guest_invitations').values(row).execute();
      if (phone) {
        const body = smsBody('guest-invite', { clinicName: clinic.name, startsAt: a.starts_at, timeZone: clinic.timeZone, language: a.language, link: this.url(token) });
        await this.sms.queue({ clinicId: a.clinic_id, appointmentId: a.id, to: phone, body, kind: 'guest-invite', dedupeKey: `${a.id}:guest-invite:${row.id}` }, trx);
      }
      await this.audit.record(actor, { action: 'guest.invite', subjectKind: 'appointment', subjectId: a.id, detail: { invitationId: row.id, role: row.role, sms: phone !== null } }, trx);
    });
    await this.changed(a);
    return this.view(row, a);
  }

  async list(actor: StaffActor | PatientActor, appointmentId: string): Promise<GuestView[]> {
    const a = actor.kind === 'staff' ? await this.appointments.load(actor, appointmentId) : await this.ownAppointment(actor, appointmentId);
    const rows = await this.db.selectFrom('guest_invitations').selectAll().where('appointment_id', '=', a.id).orderBy('created_at').execute();
    // A guest's link is their key: the visit's provider may copy any, the patient those they made; front desk none.
    const isProvider = actor.kind === 'staff' && actor.role === 'provider' && seesProvider(actor, a.provider_id);
    return rows.map((r) => this.view(r, a, isProvider || (actor.kind === 'patient' && r.created_by_kind === 'patient')));
  }

  /** Lets a waiting guest into the visit: the visit's provider only. */
  async admit(actor: StaffActor, appointmentId: string, invitationId: string): Promise<void> {
    const a = await this.appointments.load(actor, appointmentId);
    requireVisitProvider(actor, a);
    if (!isOpen(a)) throw visitEnded();
    const inv = await this.invitation(a, invitationId);
    if (inv.revoked_at) throw revoked();
    if (inv.state === 'admitted') return;
    const now = iso(this.clock.now());
    await this.db.updateTable('guest_invitations').set({ state: 'admitted', admitted_at: inv.admitted_at ?? now }).where('id', '=', inv.id).execute();
    await this.audit.record(actor, { action: 'guest.admit', subjectKind: 'appointment', subjectId: a.id, detail: { invitationId: inv.id, role: inv.role } });
    await this.bus.publish(`guest:${inv.id}`, { type: 'admitted' });
    await this.changed(a);
  }

  /**
   * Ends an invitation: the link and the guest's sessions stop working, and a connected guest is
   * disconnected from the room. `decline` is the same for a guest who was never let in.
   * The provider may revoke anyone's; the patient only those they invited.
   */
  async revoke(actor: StaffActor | PatientActor, appointmentId: string, invitationId: string, how: 'revoke' | 'decline' = 'revoke'): Promise<void> {
    let a: AppointmentsTable;
    if (actor.kind === 'staff') {
      a = await this.appointments.load(actor, appointmentId);
      requireVisitProvider(actor, a);
    } else {
      a = await this.ownAppointment(actor, appointmentId);
    }
    const inv = await this.invitation(a, invitationId);
    if (actor.kind === 'patient' && inv.created_by_kind !== 'patient') throw forbidden('Only the provider can remove this guest');
    if (inv.revoked_at) return;
    const now = iso(this.clock.now());
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('guest_invitations').set({ revoked_at: now, state: inv.state === 'admitted' ? 'left' : inv.state }).where('id', '=', inv.id).execute();
      await trx.updateTable('guest_sessions').set({ ended_at: now }).where('invitation_id', '=', inv.id).where('ended_at', 'is', null).execute();
      await this.audit.record(actor, { action: how === 'decline' ? 'guest.decline' : 'guest.revoke', subjectKind: 'appointment', subjectId: a.id, detail: { invitationId: inv.id, role: inv.role } }, trx);
    });
    await this.bus.publish(`guest:${inv.id}`, { type: 'revoked' });
    await this.video.kick(a.room_sid, this.identity(inv));
    await this.changed(a);
  }

  // ---------- the guest ----------

  /** Opens the invitation link: a cookie session for this invitation (or the open one it already has). */
  async open(token: string, currentSecret: string | undefined, ip: string | null): Promise<{ sessionSecret: string | null; expiresAt: string; clinicName: string; language: Language }> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) throw linkInvalid();
    const inv = await this.db.selectFrom('guest_invitations').selectAll().where('token_hash', '=', hashSecret(token)).executeTakeFirst();
    if (!inv || inv.revoked_at) throw linkInvalid();
    const a = await this.appointmentRow(inv.appointment_id);
    const expiresAt = linkExpiry(a);
    if (!isOpen(a) || Date.parse(expiresAt) <= this.clock.now()) throw linkInvalid();
    const clinic = await this.clinics.get(a.clinic_id);
    const actor: GuestActor = { kind: 'guest', invitationId: inv.id, appointmentId: a.id, clinicId: a.clinic_id, ip };
    if (currentSecret) {
      const s = await this.db.selectFrom('guest_sessions').selectAll().where('id_hash', '=', hashSecret(currentSecret)).executeTakeFirst();
      if (s && s.invitation_id === inv.id && this.sessionLive(s)) return { sessionSecret: null, expiresAt: s.expires_at, clinicName: clinic.name, language: a.language };
    }
    const secret = newBearerSecret();
    const now = iso(this.clock.now());
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('guest_sessions').values({ id_hash: hashSecret(secret), invitation_id: inv.id, created_at: now, last_seen_at: now, expires_at: expiresAt, ended_at: null }).execute();
      await trx.updateTable('guest_invitations').set({ last_seen_at: now }).where('id', '=', inv.id).execute();
      await this.audit.record(actor, { action: 'guest.open', subjectKind: 'appointment', subjectId: a.id, detail: { invitationId: inv.id } }, trx);
    });
    return { sessionSecret: secret, expiresAt, clinicName: clinic.name, language: a.language };
  }

  /** The guest behind a session cookie. A revoked invitation answers 410, a missing or stale session 401. */
  async authenticate(sessionSecret: string | undefined, ip: string | null): Promise<GuestActor> {
    if (!sessionSecret) throw unauthorized('link_required', 'Please open the link from your invitation again');
    const s = await this.db.selectFrom('guest_sessions').selectAll().where('id_hash', '=', hashSecret(sessionSecret)).executeTakeFirst();
    if (!s) throw unauthorized('link_required', 'Please open the link from your invitation again');
    const inv = await this.db.selectFrom('guest_invitations').selectAll().where('id', '=', s.invitation_id).executeTakeFirstOrThrow();
    if (inv.revoked_at) throw revoked();
    if (!this.sessionLive(s)) throw unauthorized('link_required', 'Please open the link from your invitation again');
    const a = await this.appointmentRow(inv.appointment_id);
    const now = iso(this.clock.now());
    await this.db.updateTable('guest_sessions').set({ last_seen_at: now }).where('id_hash', '=', s.id_hash).execute();
    await this.db.updateTable('guest_invitations').set({ last_seen_at: now }).where('id', '=', inv.id).execute();
    return { kind: 'guest', invitationId: inv.id, appointmentId: a.id, clinicId: a.clinic_id, ip };
  }

  async me(g: GuestActor): Promise<GuestMe> {
    const { inv, a } = await this.mine(g);
    const clinic = await this.clinics.get(a.clinic_id);
    const provider = await this.db.selectFrom('staff').select('display_name').where('id', '=', a.provider_id).executeTakeFirstOrThrow();
    return {
      invitationId: inv.id,
      clinicName: clinic.name,
      providerName: provider.display_name,
      role: inv.role,
      displayName: inv.display_name,
      state: inv.state,
      visitState: isOpen(a) ? a.visit_state : 'ended',
      language: a.language,
      needsAdmission: clinic.settings.guestsNeedAdmission,
    };
  }

  async savePrecall(g: GuestActor, summary: Omit<PrecallSummary, 'at'>): Promise<void> {
    const { inv, a } = await this.mine(g);
    if (!isOpen(a)) throw visitEnded();
    await this.db.updateTable('guest_invitations').set({ precall: JSON.stringify({ ...summary, at: iso(this.clock.now()) }) }).where('id', '=', inv.id).execute();
    await this.audit.record(g, { action: 'guest.precall', subjectKind: 'appointment', subjectId: a.id, detail: { invitationId: inv.id } });
  }

  /** A throwaway room for the guest's pre-call media test. */
  async preflight(g: GuestActor): Promise<{ token: string; roomName: string }> {
    const { a } = await this.mine(g);
    if (!isOpen(a)) throw visitEnded();
    return this.video.preflightToken();
  }

  /** Checks done: into the visit, or (the clinic's default) into the waiting list for the provider to admit. */
  async ready(g: GuestActor): Promise<GuestMe> {
    const { inv, a } = await this.mine(g);
    if (!isOpen(a)) throw visitEnded();
    if (inv.state !== 'admitted') {
      const clinic = await this.clinics.get(a.clinic_id);
      const now = iso(this.clock.now());
      const next = clinic.settings.guestsNeedAdmission ? 'waiting' : 'admitted';
      await this.db
        .updateTable('guest_invitations')
        .set(next === 'admitted' ? { state: next, admitted_at: inv.admitted_at ?? now } : { state: next })
        .where('id', '=', inv.id)
        .execute();
      await this.audit.record(g, { action: next === 'waiting' ? 'guest.wait' : 'guest.enter', subjectKind: 'appointment', subjectId: a.id, detail: { invitationId: inv.id } });
      await this.changed(a, next === 'waiting' ? { notice: 'guest-waiting' } : {});
    }
    return this.me(g);
  }

  /** A room token for an admitted guest: this visit's room SID only, an opaque identity, never after the end. */
  async visitToken(g: GuestActor): Promise<{ token: string; identity: string; roomSid: string; expiresAt: string; connectProfile: 'two-party' | 'group' }> {
    const { inv, a } = await this.mine(g);
    if (!isOpen(a)) throw visitEnded();
    if (inv.state !== 'admitted') throw conflict('not_admitted', 'The provider has not let you in yet');
    if (a.visit_state !== 'admitted') throw conflict('not_started', 'The visit has not started yet');
    const roomSid = await this.video.ensureRoom(a.room_name);
    if (roomSid !== a.room_sid) await this.db.updateTable('appointments').set({ room_sid: roomSid }).where('id', '=', a.id).execute();
    const identity = this.identity(inv);
    const { token, expiresAt } = await this.video.token(identity, roomSid);
    await this.audit.record(g, { action: 'guest.join', subjectKind: 'appointment', subjectId: a.id, detail: { invitationId: inv.id } });
    return { token, identity, roomSid, expiresAt, connectProfile: a.expected_participants > 2 ? 'group' : 'two-party' };
  }

  /** The guest left on purpose: coming back means waiting to be let in again. */
  async leave(g: GuestActor): Promise<void> {
    const { inv, a } = await this.mine(g);
    if (inv.state === 'left' || inv.state === 'invited') return;
    await this.db.updateTable('guest_invitations').set({ state: 'left' }).where('id', '=', inv.id).execute();
    await this.audit.record(g, { action: 'guest.leave', subjectKind: 'appointment', subjectId: a.id, detail: { invitationId: inv.id } });
    await this.changed(a);
  }

  /** The visit chat from the moment the guest was invited (nothing said before it). */
  async chat(g: GuestActor): Promise<ChatMessage[]> {
    const { inv, a } = await this.mine(g);
    const rows = await this.db.selectFrom('chat_messages').selectAll().where('appointment_id', '=', a.id).where('created_at', '>=', inv.created_at).orderBy('id').execute();
    await this.audit.record(g, { action: 'chat.read', subjectKind: 'appointment', subjectId: a.id, detail: { invitationId: inv.id } });
    return rows.map(chatView);
  }

  async postChat(g: GuestActor, text: string): Promise<ChatMessage> {
    const { inv, a } = await this.mine(g);
    const body = text.trim();
    if (!body) throw badRequest('empty', 'Type a message first');
    if (body.length > MAX_CHAT_LENGTH) throw badRequest('too_long', `Messages can have ${MAX_CHAT_LENGTH} characters at most`);
    if (!isOpen(a)) throw conflict('closed', 'This visit is closed');
    if (inv.state !== 'admitted') throw conflict('not_admitted', 'You can write once you are in the visit');
    const row = { appointment_id: a.id, sender_kind: 'guest' as const, sender_staff_id: null, sender_name: inv.display_name, body, created_at: iso(this.clock.now()) };
    const inserted = await this.db.insertInto('chat_messages').values(row).returning('id').executeTakeFirstOrThrow();
    const message = chatView({ ...row, id: Number(inserted.id) });
    await this.audit.record(g, { action: 'chat.send', subjectKind: 'appointment', subjectId: a.id, detail: { invitationId: inv.id } });
    await this.bus.publish(`appointment:${a.id}`, { type: 'chat', message });
    await this.bus.publish(`clinic:${a.clinic_id}`, { type: 'chat', appointmentId: a.id, providerId: a.provider_id, message });
    return message;
  }

  /** When the guest was invited: live chat older than that is not theirs to see. */
  async invitedAt(g: GuestActor): Promise<string> {
    return (await this.mine(g)).inv.created_at;
  }

  // ---------- helpers ----------

  identity(inv: Pick<GuestInvitationsTable, 'id' | 'appointment_id'>): string {
    return this.video.identityFor('guest', inv.id, inv.appointment_id);
  }

  private view(r: GuestInvitationsTable, a: AppointmentsTable, withLink = true): GuestView {
    const live = withLink && !r.revoked_at && isOpen(a);
    return {
      id: r.id,
      role: r.role,
      displayName: r.display_name,
      phoneLast4: r.phone ? r.phone.slice(-4) : null,
      state: r.state,
      createdBy: r.created_by_kind,
      createdAt: r.created_at,
      admittedAt: r.admitted_at,
      revokedAt: r.revoked_at,
      link: live ? this.url(this.box.open(r.token_enc)) : null,
      precall: r.precall ? (JSON.parse(r.precall) as PrecallSummary) : null,
    };
  }

  private sessionLive(s: { ended_at: string | null; expires_at: string; last_seen_at: string }): boolean {
    const now = this.clock.now();
    return !s.ended_at && Date.parse(s.expires_at) > now && Date.parse(s.last_seen_at) + GUEST_IDLE_MS > now;
  }

  private async mine(g: GuestActor): Promise<{ inv: GuestInvitationsTable; a: AppointmentsTable }> {
    const inv = await this.db.selectFrom('guest_invitations').selectAll().where('id', '=', g.invitationId).executeTakeFirst();
    if (!inv || inv.appointment_id !== g.appointmentId) throw notFound();
    if (inv.revoked_at) throw revoked();
    return { inv, a: await this.appointmentRow(inv.appointment_id) };
  }

  private async invitation(a: AppointmentsTable, invitationId: string): Promise<GuestInvitationsTable> {
    const inv = await this.db.selectFrom('guest_invitations').selectAll().where('id', '=', invitationId).executeTakeFirst();
    if (!inv || inv.appointment_id !== a.id) throw notFound('Guest not found');
    return inv;
  }

  /** The visit's provider (another clinic's or another provider's visit is "not found"), or the patient of this visit. */
  private async forInviter(actor: StaffActor | PatientActor, appointmentId: string): Promise<AppointmentsTable> {
    if (actor.kind === 'patient') return this.ownAppointment(actor, appointmentId);
    const a = await this.appointments.load(actor, appointmentId);
    requireVisitProvider(actor, a);
    return a;
  }

  private async ownAppointment(p: PatientActor, appointmentId: string): Promise<AppointmentsTable> {
    if (p.appointmentId !== appointmentId) throw notFound('Appointment not found');
    return this.appointmentRow(appointmentId);
  }

  private async appointmentRow(id: string): Promise<AppointmentsTable> {
    const a = await this.db.selectFrom('appointments').selectAll().where('id', '=', id).executeTakeFirst();
    if (!a) throw notFound('Appointment not found');
    return a;
  }

  private async changed(a: AppointmentsTable, extra: Record<string, unknown> = {}): Promise<void> {
    await this.appointments.changed(a, extra);
    await this.bus.publish(`appointment:${a.id}`, { type: 'guests' });
  }
}

function isOpen(a: AppointmentsTable): boolean {
  return a.status === 'scheduled' && a.visit_state !== 'ended';
}

function requireVisitProvider(actor: StaffActor, a: AppointmentsTable): void {
  if (actor.role !== 'provider' || !seesProvider(actor, a.provider_id)) throw forbidden('Only the visit’s provider can do this');
}

function chatView(r: { id: number; sender_kind: string; sender_name: string; body: string; created_at: string }): ChatMessage {
  return { id: Number(r.id), from: r.sender_kind as ChatMessage['from'], name: r.sender_name, body: r.body, at: r.created_at };
}
