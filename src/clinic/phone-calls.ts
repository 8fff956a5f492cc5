// Phone legs of a visit (issue 7 part 2): the visit's provider dials an interpreter (or a family
// member, a caregiver, a colleague) through the SIP trunk while the visit is on. The call's status
// events (initiated, ringing, in-progress, completed, busy, no-answer, failed, canceled) are
// stored, audited and published to the clinic's staff pages; once answered, the phone joins the
// visit room under an opaque identity (`ph-…`) through the room audio bridge, and leaves it when
// the call ends. Ending the visit hangs up every call of the visit. The number is kept to place
// the call; lists, events, the audit log and logs carry its last four digits only, and IVR digits
// are never stored.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../store/database.js';
import type { AppointmentsTable, GuestRole, PhoneCallStatus, PhoneCallsTable } from '../store/schema.js';
import type { EventBus } from '../realtime/event-bus.js';
import { iso, type Clock } from '../util/clock.js';
import { maskPhone, normalizePhone } from '../notify/phone.js';
import type { CallStatusUpdate, PhoneCall, StatusCallbackEvent, TelephonyService } from '../telephony/index.js';
import { seesProvider, type StaffActor, type SystemActor } from './actor.js';
import type { AppointmentService } from './appointment-service.js';
import type { AuditLog } from './audit-log.js';
import { badRequest, ClinicError, conflict, forbidden, notFound } from './errors.js';
import { GUEST_ROLES } from './guest-service.js';
import type { VisitVideo } from './visit-video.js';

/** Where the phone's audio meets the room: joins the room as a participant with the call's audio. */
export interface RoomAudioBridge {
  /** Called once the call is answered; `token` is a room token for `identity`, limited to `roomSid`. */
  join(call: PhoneCall, roomSid: string, identity: string, token: string): Promise<RoomAudioLeg>;
}

export interface RoomAudioLeg {
  close(): Promise<void>;
}

/**
 * Until the real bridge is connected: the call is placed and followed, but its audio stays on
 * the phone line (nobody in the room hears it).
 */
export const noRoomAudio: RoomAudioBridge = {
  async join() {
    return { async close() {} };
  },
};

export const PHONE_CONTROL_CHANNEL = 'phone-control';
const TERMINAL: ReadonlySet<PhoneCallStatus> = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);
const DIGITS = /^[0-9*#wW]{1,32}$/;
/** Phone legs not yet ended, per visit (the room holds four people). */
const MAX_LIVE_CALLS = 2;
const RING_TIMEOUT_SECONDS = 60;
const CALLBACK_EVENTS: StatusCallbackEvent[] = ['initiated', 'ringing', 'answered', 'completed'];
const ROLE_NAMES: Record<GuestRole, string> = { interpreter: 'Interpreter', family: 'Family member', caregiver: 'Caregiver', clinician: 'Clinician' };

export const isTerminalStatus = (s: PhoneCallStatus): boolean => TERMINAL.has(s);

export interface PhoneCallView {
  id: string;
  role: GuestRole;
  displayName: string;
  /** The last four digits of the number dialed. */
  numberLast4: string;
  status: PhoneCallStatus;
  sipCode: number | null;
  startedAt: string | null;
  answeredAt: string | null;
  endedAt: string | null;
  /** Seconds between answer and end, once ended. */
  duration: number | null;
  /** Seconds connected so far, while in progress (for the live timer). */
  elapsedSeconds: number | null;
  /** Placed for an interpreter-service request rather than dialed by the provider. */
  viaInterpreterService: boolean;
  createdAt: string;
}

export interface DialInput {
  to: string;
  role?: GuestRole;
  displayName?: string;
  /** IVR navigation once answered: 0-9, *, #, w (half a second) and W (a second). */
  digits?: string | null;
}

interface Leg {
  id: string;
  appointmentId: string;
  clinicId: string;
  providerId: string;
  call: PhoneCall;
  /** Status updates of this call, applied one at a time, in order. */
  chain: Promise<void>;
  audio: RoomAudioLeg | null;
  ended: boolean;
  done: Promise<void>;
  markDone: () => void;
}

export interface PhoneCallServiceOptions {
  db: Db;
  clock: Clock;
  appointments: AppointmentService;
  video: VisitVideo;
  bus: EventBus;
  audit: AuditLog;
  log: Logger;
  /** Null when SIP is not configured: dialing answers 503. */
  telephony: TelephonyService | null;
  bridge?: RoomAudioBridge;
  /** Account whose auth token signs the status callbacks. */
  accountSid: string;
  statusCallbackUrl?: string | null;
}

const notConfigured = () => new ClinicError(503, 'phone_not_configured', 'Dialing out needs a SIP trunk (SIP_TRUNK_HOST)');

export class PhoneCallService {
  private readonly byId = new Map<string, Leg>();
  private readonly bySid = new Map<string, Leg>();
  /** Visit-end listeners of visits with live calls on this node. */
  private readonly visitWatch = new Map<string, () => void>();
  private readonly unsubscribeControl: (() => void) | null = null;
  private readonly bridge: RoomAudioBridge;
  private readonly onStatus = (u: CallStatusUpdate) => this.statusEvent(u);

  constructor(private readonly o: PhoneCallServiceOptions) {
    this.bridge = o.bridge ?? noRoomAudio;
    if (o.telephony) {
      o.telephony.on('status', this.onStatus);
      // Hang-ups and digits asked on another node reach the node that holds the call.
      this.unsubscribeControl = o.bus.subscribe(PHONE_CONTROL_CHANNEL, (m) => {
        const leg = typeof m.callId === 'string' ? this.byId.get(m.callId) : undefined;
        if (!leg) return;
        if (m.type === 'hangup') void leg.call.hangup().catch(() => undefined);
        else if (m.type === 'digits' && typeof m.digits === 'string' && DIGITS.test(m.digits)) void leg.call.sendDigits(m.digits).catch(() => undefined);
      });
    }
  }

  get enabled(): boolean {
    return this.o.telephony !== null;
  }

  // ---------- the visit's provider ----------

  async dial(actor: StaffActor, appointmentId: string, input: DialInput): Promise<PhoneCallView> {
    const a = await this.forProvider(actor, appointmentId);
    return this.place(actor, a, input, actor.staffId);
  }

  async list(actor: StaffActor, appointmentId: string): Promise<{ enabled: boolean; calls: PhoneCallView[] }> {
    const a = await this.forProvider(actor, appointmentId);
    const rows = await this.o.db.selectFrom('phone_calls').selectAll().where('appointment_id', '=', a.id).orderBy('created_at').execute();
    return { enabled: this.enabled, calls: rows.map((r) => this.view(r)) };
  }

  async hangup(actor: StaffActor, appointmentId: string, callId: string): Promise<PhoneCallView> {
    const a = await this.forProvider(actor, appointmentId);
    const row = await this.row(a, callId);
    if (isTerminalStatus(row.status)) return this.view(row);
    await this.o.audit.record(actor, { action: 'phone.hangup', subjectKind: 'appointment', subjectId: a.id, detail: { callId: row.id } });
    await this.hangupLeg(row.id);
    return this.view(await this.row(a, callId));
  }

  async sendDigits(actor: StaffActor, appointmentId: string, callId: string, digits: string): Promise<void> {
    if (typeof digits !== 'string' || !DIGITS.test(digits)) throw badRequest('bad_digits', 'Digits may only be 0-9, * and #, with w for a half-second pause (32 at most)');
    const a = await this.forProvider(actor, appointmentId);
    const row = await this.row(a, callId);
    if (row.status !== 'in-progress') throw conflict('not_connected', 'The call is not connected');
    // The digits themselves may be an access code: the audit keeps only how many were sent.
    await this.o.audit.record(actor, { action: 'phone.digits', subjectKind: 'appointment', subjectId: a.id, detail: { callId: row.id, count: digits.replace(/w/gi, '').length } });
    const leg = this.byId.get(row.id);
    if (!leg) {
      await this.o.bus.publish(PHONE_CONTROL_CHANNEL, { type: 'digits', callId: row.id, digits });
      return;
    }
    try {
      await leg.call.sendDigits(digits);
    } catch (err) {
      throw conflict('digits_failed', `The digits could not be sent: ${(err as Error).message}`);
    }
  }

  // ---------- for the interpreter service ----------

  /** Dials the number an interpreter service gave for a request, as the system. */
  async dialForService(a: AppointmentsTable, input: DialInput, requestId: string): Promise<PhoneCallView> {
    const actor: SystemActor = { kind: 'system', clinicId: a.clinic_id, ip: null };
    return this.place(actor, a, input, `interpreter-request:${requestId}`);
  }

  /** Hangs up a call (any node), as the system. */
  async hangupById(callId: string): Promise<void> {
    await this.hangupLeg(callId);
  }

  async viewById(callId: string): Promise<PhoneCallView | undefined> {
    const row = await this.o.db.selectFrom('phone_calls').selectAll().where('id', '=', callId).executeTakeFirst();
    return row ? this.view(row) : undefined;
  }

  // ---------- lifecycle ----------

  /**
   * Calls left unfinished by a previous run of a single-node server (nothing holds them any
   * more) are marked failed. Not for several nodes: another node may hold them.
   */
  async recoverOrphans(): Promise<number> {
    const now = iso(this.o.clock.now());
    const res = await this.o.db
      .updateTable('phone_calls')
      .set({ status: 'failed', ended_at: now })
      .where('status', 'not in', [...TERMINAL])
      .executeTakeFirst();
    return Number(res.numUpdatedRows ?? 0);
  }

  /** Hangs up every call held here and waits (a little) for their last status to be stored. */
  async close(): Promise<void> {
    this.unsubscribeControl?.();
    const legs = [...this.byId.values()];
    for (const leg of legs) void leg.call.hangup().catch(() => undefined);
    await Promise.race([Promise.all(legs.map((l) => l.done)), new Promise((r) => setTimeout(r, 3000).unref())]);
    this.o.telephony?.off('status', this.onStatus);
    for (const off of this.visitWatch.values()) off();
    this.visitWatch.clear();
  }

  // ---------- inside ----------

  private async place(actor: StaffActor | SystemActor, a: AppointmentsTable, input: DialInput, createdBy: string): Promise<PhoneCallView> {
    const telephony = this.o.telephony;
    if (!telephony) throw notConfigured();
    if (a.status !== 'scheduled' || a.visit_state === 'ended') throw conflict('visit_ended', 'This visit has ended');
    if (a.visit_state !== 'admitted') throw conflict('not_admitted', 'Start the visit first: the call joins the visit room');
    const role = input.role ?? 'interpreter';
    if (!GUEST_ROLES.includes(role)) throw badRequest('bad_role', 'Choose interpreter, family member, caregiver or clinician');
    const displayName = (input.displayName ?? '').trim().replace(/\s+/g, ' ') || ROLE_NAMES[role];
    if (displayName.length > 80) throw badRequest('bad_name', 'The name can have 80 characters at most');
    const to = normalizePhone(input.to);
    if (!to) throw badRequest('bad_phone', 'Enter a phone number with area code, e.g. +1 555 123 4567');
    const digits = input.digits?.trim() || null;
    if (digits !== null && !DIGITS.test(digits)) throw badRequest('bad_digits', 'Digits may only be 0-9, * and #, with w for a half-second pause (32 at most)');
    const live = await this.o.db
      .selectFrom('phone_calls')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('appointment_id', '=', a.id)
      .where('status', 'not in', [...TERMINAL])
      .executeTakeFirstOrThrow();
    if (Number(live.n) >= MAX_LIVE_CALLS) throw conflict('too_many_calls', `A visit can have ${MAX_LIVE_CALLS} phone calls at once; hang one up first`);

    const now = iso(this.o.clock.now());
    const row: PhoneCallsTable = {
      id: `pc_${randomBytes(16).toString('hex')}`,
      appointment_id: a.id,
      call_sid: null,
      role,
      display_name: displayName,
      to_number: to,
      status: 'queued',
      sip_code: null,
      started_at: null,
      answered_at: null,
      ended_at: null,
      duration: null,
      created_by: createdBy,
      created_at: now,
    };
    await this.o.db.insertInto('phone_calls').values(row).execute();
    await this.o.audit.record(actor, { action: 'phone.dial', subjectKind: 'appointment', subjectId: a.id, detail: { callId: row.id, role, to: maskPhone(to), ivr: digits !== null } });

    let call: PhoneCall;
    try {
      call = telephony.dial(to, {
        accountSid: this.o.accountSid,
        timeout: RING_TIMEOUT_SECONDS,
        ...(digits ? { sendDigits: digits } : {}),
        ...(this.o.statusCallbackUrl ? { statusCallback: this.o.statusCallbackUrl, statusCallbackEvent: CALLBACK_EVENTS } : {}),
      });
    } catch (err) {
      this.o.log.error({ err, callId: row.id }, 'dialing out failed');
      await this.o.db.updateTable('phone_calls').set({ status: 'failed', ended_at: iso(this.o.clock.now()) }).where('id', '=', row.id).execute();
      await this.publish(a, { ...row, status: 'failed' });
      throw new ClinicError(503, 'phone_unavailable', 'The call could not be placed. Please try again.');
    }
    // Registered before any await: the first status events of the call may follow at once.
    let markDone = () => undefined as void;
    const done = new Promise<void>((r) => (markDone = r));
    const leg: Leg = { id: row.id, appointmentId: a.id, clinicId: a.clinic_id, providerId: a.provider_id, call, chain: Promise.resolve(), audio: null, ended: false, done, markDone };
    this.byId.set(leg.id, leg);
    this.bySid.set(call.sid, leg);
    this.watchVisit(a.id);
    const placed = { ...row, call_sid: call.sid };
    // First in the call's chain: its status events are stored and published after this.
    leg.chain = this.o.db
      .updateTable('phone_calls')
      .set({ call_sid: call.sid })
      .where('id', '=', row.id)
      .execute()
      .then(() => this.publish(a, placed));
    this.o.log.info({ callId: row.id, callSid: call.sid, to: maskPhone(to) }, 'phone leg dialed');
    await leg.chain;
    return this.view(placed);
  }

  private statusEvent(u: CallStatusUpdate): void {
    const leg = this.bySid.get(u.callSid);
    if (!leg || u.status === 'queued') return;
    leg.chain = leg.chain
      .then(() => this.apply(leg, u))
      .catch((err: unknown) => this.o.log.error({ err, callId: leg.id }, 'phone status not applied'));
  }

  private async apply(leg: Leg, u: CallStatusUpdate): Promise<void> {
    if (leg.ended) return;
    const now = iso(this.o.clock.now());
    const patch: Partial<PhoneCallsTable> = { status: u.status };
    if (u.sipCode !== null) patch.sip_code = u.sipCode;
    if (u.status === 'initiated') patch.started_at = now;
    if (u.status === 'in-progress') patch.answered_at = now;
    const terminal = isTerminalStatus(u.status);
    if (terminal) {
      patch.ended_at = now;
      patch.duration = u.duration ?? 0;
      leg.ended = true;
    }
    await this.o.db.updateTable('phone_calls').set(patch).where('id', '=', leg.id).execute();
    const row = await this.o.db.selectFrom('phone_calls').selectAll().where('id', '=', leg.id).executeTakeFirstOrThrow();
    const system: SystemActor = { kind: 'system', clinicId: leg.clinicId, ip: null };
    await this.o.audit.record(system, { action: 'phone.status', subjectKind: 'appointment', subjectId: leg.appointmentId, detail: { callId: leg.id, status: u.status, sipCode: u.sipCode } });
    this.o.log.info({ callId: leg.id, callSid: u.callSid, status: u.status, sipCode: u.sipCode }, 'phone leg status');
    await this.publish({ id: leg.appointmentId, clinic_id: leg.clinicId, provider_id: leg.providerId }, row);
    if (u.status === 'in-progress') await this.joinRoom(leg);
    if (terminal) {
      const audio = leg.audio;
      leg.audio = null;
      if (audio) await audio.close().catch((err: unknown) => this.o.log.warn({ err, callId: leg.id }, 'room audio did not close cleanly'));
      this.byId.delete(leg.id);
      this.bySid.delete(u.callSid);
      this.unwatchVisitIfIdle(leg.appointmentId);
      // The room's participant list changed: pages refresh their directory.
      await this.o.bus.publish(`appointment:${leg.appointmentId}`, { type: 'phones' });
      leg.markDone();
    }
  }

  /** Answered: the phone becomes a participant of the visit room, under its opaque identity. */
  private async joinRoom(leg: Leg): Promise<void> {
    const a = await this.o.db.selectFrom('appointments').selectAll().where('id', '=', leg.appointmentId).executeTakeFirstOrThrow();
    if (a.status !== 'scheduled' || a.visit_state !== 'admitted') {
      void leg.call.hangup().catch(() => undefined);
      return;
    }
    try {
      const roomSid = await this.o.video.ensureRoom(a.room_name);
      const identity = this.o.video.identityFor('phone', leg.id, a.id);
      const { token } = await this.o.video.token(identity, roomSid);
      leg.audio = await this.bridge.join(leg.call, roomSid, identity, token);
      await this.o.bus.publish(`appointment:${a.id}`, { type: 'phones' });
    } catch (err) {
      this.o.log.error({ err, callId: leg.id }, 'the phone leg could not join the visit room');
    }
  }

  private async hangupLeg(callId: string): Promise<void> {
    const leg = this.byId.get(callId);
    if (!leg) {
      await this.o.bus.publish(PHONE_CONTROL_CHANNEL, { type: 'hangup', callId });
      return;
    }
    await leg.call.hangup().catch((err: unknown) => this.o.log.warn({ err, callId }, 'hangup failed'));
    await Promise.race([leg.done, new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  /** The visit ended (on any node): every call of it held here is hung up. */
  private watchVisit(appointmentId: string): void {
    if (this.visitWatch.has(appointmentId)) return;
    const off = this.o.bus.subscribe(`appointment:${appointmentId}`, (m) => {
      if (m.type !== 'ended') return;
      for (const leg of [...this.byId.values()]) {
        if (leg.appointmentId !== appointmentId) continue;
        this.o.log.info({ callId: leg.id }, 'visit ended: hanging up its phone leg');
        void this.o.audit
          .record({ kind: 'system', clinicId: leg.clinicId, ip: null }, { action: 'phone.hangup', subjectKind: 'appointment', subjectId: appointmentId, detail: { callId: leg.id, reason: 'visit-ended' } })
          .catch(() => undefined);
        void leg.call.hangup().catch(() => undefined);
      }
    });
    this.visitWatch.set(appointmentId, off);
  }

  private unwatchVisitIfIdle(appointmentId: string): void {
    if ([...this.byId.values()].some((l) => l.appointmentId === appointmentId)) return;
    this.visitWatch.get(appointmentId)?.();
    this.visitWatch.delete(appointmentId);
  }

  private async publish(a: Pick<AppointmentsTable, 'id' | 'clinic_id' | 'provider_id'>, row: PhoneCallsTable): Promise<void> {
    await this.o.bus.publish(`clinic:${a.clinic_id}`, { type: 'phone.status', appointmentId: a.id, providerId: a.provider_id, call: this.view(row) });
  }

  private async forProvider(actor: StaffActor, appointmentId: string): Promise<AppointmentsTable> {
    const a = await this.o.appointments.load(actor, appointmentId);
    if (actor.role !== 'provider' || !seesProvider(actor, a.provider_id)) throw forbidden('Only the visit’s provider can do this');
    return a;
  }

  private async row(a: AppointmentsTable, callId: string): Promise<PhoneCallsTable> {
    const row = await this.o.db.selectFrom('phone_calls').selectAll().where('id', '=', callId).executeTakeFirst();
    if (!row || row.appointment_id !== a.id) throw notFound('Call not found');
    return row;
  }

  private view(r: PhoneCallsTable): PhoneCallView {
    const now = this.o.clock.now();
    return {
      id: r.id,
      role: r.role,
      displayName: r.display_name,
      numberLast4: r.to_number.replace(/\D/g, '').slice(-4),
      status: r.status,
      sipCode: r.sip_code === null ? null : Number(r.sip_code),
      startedAt: r.started_at,
      answeredAt: r.answered_at,
      endedAt: r.ended_at,
      duration: r.duration === null ? null : Number(r.duration),
      elapsedSeconds: r.status === 'in-progress' && r.answered_at ? Math.max(0, Math.floor((now - Date.parse(r.answered_at)) / 1000)) : null,
      viaInterpreterService: r.created_by.startsWith('interpreter-request:'),
      createdAt: r.created_at,
    };
  }
}
