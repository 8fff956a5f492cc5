// The visit's provider asks the clinic's interpreter service for an interpreter of a language.
// Video: a guest invitation (role interpreter) is made for the request and its link handed to the
// service; its interpreter opens it, runs the checks and waits to be let in like any guest.
// Phone: the service names a number and we dial it into the visit as a phone leg. The service
// reports progress to a signed callback; the provider sees it live and may cancel. Ending the
// visit ends the requests still open. Every step is in the audit log.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../../store/database.js';
import type { AppointmentsTable, InterpreterRequestsTable } from '../../store/schema.js';
import type { EventBus } from '../../realtime/event-bus.js';
import { iso, type Clock } from '../../util/clock.js';
import { seesProvider, type StaffActor, type SystemActor } from '../actor.js';
import type { AppointmentService } from '../appointment-service.js';
import type { AuditLog } from '../audit-log.js';
import { badRequest, ClinicError, conflict, forbidden, notFound } from '../errors.js';
import type { GuestService } from '../guest-service.js';
import type { PhoneCallService } from '../phone-calls.js';
import { FINAL_SERVICE_STATUSES, InterpreterServiceError, type InterpreterMode, type InterpreterService, type InterpreterState } from './interpreter-service.js';

const LANGUAGE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$/;
const MAX_OPEN_REQUESTS = 3;
/** Interpreter-service status callbacks are posted here (under PUBLIC_URL). */
export const INTERPRETER_CALLBACK_PATH = '/api/interpreter-service/callback';

export interface InterpreterRequestView {
  id: string;
  language: string;
  languageName: string;
  mode: InterpreterMode;
  status: InterpreterRequestsTable['status'];
  interpreterName: string | null;
  message: string | null;
  /** mode video: the guest invitation the interpreter joins by. */
  invitationId: string | null;
  /** mode phone: the phone leg placed to the interpreter. */
  phoneCallId: string | null;
  createdAt: string;
  updatedAt: string;
  endedAt: string | null;
}

export function languageName(tag: string): string {
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' }).of(tag) ?? tag;
  } catch {
    return tag;
  }
}

const notConfigured = () => new ClinicError(503, 'interpreter_service_not_configured', 'No interpreter service is set up (INTERPRETER_SERVICE_URL)');
const isFinal = (s: InterpreterRequestsTable['status']) => (FINAL_SERVICE_STATUSES as readonly string[]).includes(s);
/** Reports may cross (the answer to our request and the first callback): a request never moves back. */
const RANK: Record<InterpreterRequestsTable['status'], number> = { requested: 0, accepted: 1, connecting: 2, connected: 3, completed: 4, canceled: 4, failed: 4 };

export interface InterpreterRequestsOptions {
  db: Db;
  clock: Clock;
  appointments: AppointmentService;
  guests: GuestService;
  phones: PhoneCallService;
  bus: EventBus;
  audit: AuditLog;
  log: Logger;
  service: InterpreterService | null;
  publicUrl: () => string;
}

export class InterpreterRequests {
  private readonly visitWatch = new Map<string, () => void>();
  /** Changes of one request, applied one at a time (read, decide, write). */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly o: InterpreterRequestsOptions) {}

  get enabled(): boolean {
    return this.o.service !== null;
  }

  async list(actor: StaffActor, appointmentId: string): Promise<{ configured: boolean; phone: boolean; requests: InterpreterRequestView[] }> {
    const a = await this.forProvider(actor, appointmentId);
    const rows = await this.o.db.selectFrom('interpreter_requests').selectAll().where('appointment_id', '=', a.id).orderBy('created_at').execute();
    return { configured: this.enabled, phone: this.o.phones.enabled, requests: rows.map(view) };
  }

  async request(actor: StaffActor, appointmentId: string, input: { language: string; mode?: InterpreterMode }): Promise<InterpreterRequestView> {
    const service = this.o.service;
    const a = await this.forProvider(actor, appointmentId);
    if (!service) throw notConfigured();
    if (a.status !== 'scheduled' || a.visit_state === 'ended') throw conflict('visit_ended', 'This visit has ended');
    const language = (input.language ?? '').trim();
    if (!LANGUAGE.test(language)) throw badRequest('bad_language', 'Choose a language');
    const mode: InterpreterMode = input.mode ?? 'video';
    if (mode !== 'video' && mode !== 'phone') throw badRequest('bad_mode', 'Choose video or phone');
    if (mode === 'phone' && !this.o.phones.enabled) throw new ClinicError(503, 'phone_not_configured', 'Dialing out needs a SIP trunk (SIP_TRUNK_HOST)');
    const open = await this.o.db
      .selectFrom('interpreter_requests')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('appointment_id', '=', a.id)
      .where('status', 'not in', [...FINAL_SERVICE_STATUSES])
      .executeTakeFirstOrThrow();
    if (Number(open.n) >= MAX_OPEN_REQUESTS) throw conflict('too_many_requests', `A visit can have ${MAX_OPEN_REQUESTS} open interpreter requests; cancel one first`);

    const name = languageName(language);
    const invitation = mode === 'video' ? await this.o.guests.invite(actor, a.id, { role: 'interpreter', displayName: `${name} interpreter` }) : null;
    const now = iso(this.o.clock.now());
    const row: InterpreterRequestsTable = {
      id: `ir_${randomBytes(16).toString('hex')}`,
      appointment_id: a.id,
      language,
      mode,
      status: 'requested',
      service_request_id: null,
      invitation_id: invitation?.id ?? null,
      phone_call_id: null,
      interpreter_name: null,
      message: null,
      created_by: actor.staffId,
      created_at: now,
      updated_at: now,
      ended_at: null,
    };
    await this.o.db.insertInto('interpreter_requests').values(row).execute();
    await this.o.audit.record(actor, { action: 'interpreter.request', subjectKind: 'appointment', subjectId: a.id, detail: { requestId: row.id, language, mode, invitationId: row.invitation_id } });

    let accepted: Awaited<ReturnType<InterpreterService['request']>>;
    try {
      accepted = await service.request({ language, appointmentId: a.id, mode, callback: this.o.publicUrl() + INTERPRETER_CALLBACK_PATH, reference: row.id, joinLink: invitation?.link ?? null });
    } catch (err) {
      const message = err instanceof InterpreterServiceError ? err.message : 'the interpreter service failed';
      this.o.log.warn({ err, requestId: row.id }, 'interpreter request refused');
      await this.update(row, { status: 'failed', message, ended_at: iso(this.o.clock.now()) });
      if (invitation) await this.o.guests.revoke(actor, a.id, invitation.id).catch(() => undefined);
      await this.publish(a, row.id);
      throw new ClinicError(502, 'interpreter_service_unavailable', `The interpreter service did not take the request: ${message}`);
    }
    await this.update(row, { service_request_id: accepted.requestId });
    this.watchVisit(a.id);
    // A report may have come in already (it wins); else the answer's status and number to dial.
    const current = await this.rowById(row.id);
    if (current.status === 'requested' && ((accepted.status && accepted.status !== 'requested') || accepted.dial)) {
      await this.apply(row.id, { requestId: accepted.requestId, status: accepted.status ?? 'accepted', dial: accepted.dial ?? null });
    }
    await this.publish(a, row.id);
    return view(await this.rowById(row.id));
  }

  async cancel(actor: StaffActor, appointmentId: string, requestId: string): Promise<InterpreterRequestView> {
    const a = await this.forProvider(actor, appointmentId);
    const row = await this.row(a, requestId);
    if (isFinal(row.status)) return view(row);
    await this.o.audit.record(actor, { action: 'interpreter.cancel', subjectKind: 'appointment', subjectId: a.id, detail: { requestId: row.id } });
    await this.end(row, 'canceled', actor);
    await this.publish(a, row.id);
    return view(await this.rowById(row.id));
  }

  /** Asks the service for the request's state and applies it (also what the callback does). */
  async refresh(actor: StaffActor, appointmentId: string, requestId: string): Promise<InterpreterRequestView> {
    const a = await this.forProvider(actor, appointmentId);
    const row = await this.row(a, requestId);
    if (this.o.service && row.service_request_id && !isFinal(row.status)) {
      try {
        await this.apply(row.id, await this.o.service.status(row.service_request_id));
      } catch (err) {
        if (!(err instanceof InterpreterServiceError)) throw err;
        throw new ClinicError(502, 'interpreter_service_unavailable', err.message);
      }
      await this.publish(a, row.id);
    }
    return view(await this.rowById(row.id));
  }

  /** A status report from the service (POST /api/interpreter-service/callback). */
  async callback(headers: Record<string, string | string[] | undefined>, rawBody: string): Promise<void> {
    if (!this.o.service) throw notFound();
    const state = this.o.service.verifyCallback(headers, rawBody);
    if (!state) throw new ClinicError(403, 'bad_signature', 'Invalid, expired or unreadable signed report');
    // By our reference when the service echoes it: a report may overtake our storing of the service's id.
    const byReference = state.reference ? await this.o.db.selectFrom('interpreter_requests').selectAll().where('id', '=', state.reference).executeTakeFirst() : undefined;
    const row =
      byReference && (byReference.service_request_id === null || byReference.service_request_id === state.requestId)
        ? byReference
        : await this.o.db.selectFrom('interpreter_requests').selectAll().where('service_request_id', '=', state.requestId).executeTakeFirst();
    if (!row) throw notFound('Unknown request');
    await this.apply(row.id, state);
    const a = await this.appointment(row.appointment_id);
    await this.publish(a, row.id);
  }

  // ---------- inside ----------

  private apply(id: string, state: InterpreterState): Promise<void> {
    return this.serialized(id, () => this.applyNow(id, state));
  }

  private serialized(id: string, work: () => Promise<void>): Promise<void> {
    const run = (this.chains.get(id) ?? Promise.resolve()).then(work);
    const settled = run.catch(() => undefined);
    this.chains.set(id, settled);
    void settled.then(() => {
      if (this.chains.get(id) === settled) this.chains.delete(id);
    });
    return run;
  }

  private async applyNow(id: string, state: InterpreterState): Promise<void> {
    const row = await this.rowById(id);
    if (isFinal(row.status)) return;
    const a = await this.appointment(row.appointment_id);
    const system: SystemActor = { kind: 'system', clinicId: a.clinic_id, ip: null };
    const patch: Partial<InterpreterRequestsTable> = { status: RANK[state.status] >= RANK[row.status] ? state.status : row.status };
    if (state.interpreterName) patch.interpreter_name = state.interpreterName;
    if (state.message !== undefined) patch.message = state.message;
    if (isFinal(state.status)) patch.ended_at = iso(this.o.clock.now());
    await this.update(row, patch);
    // The guest link was made before anyone was assigned: it now carries the interpreter's name.
    if (state.interpreterName && row.invitation_id && state.interpreterName !== row.interpreter_name) {
      await this.o.db.updateTable('guest_invitations').set({ display_name: state.interpreterName }).where('id', '=', row.invitation_id).execute();
      await this.o.appointments.changed(a);
      await this.o.bus.publish(`appointment:${a.id}`, { type: 'guests' });
    }
    await this.o.audit.record(system, { action: 'interpreter.status', subjectKind: 'appointment', subjectId: a.id, detail: { requestId: row.id, status: state.status } });
    if (isFinal(state.status)) {
      if (row.phone_call_id) await this.o.phones.hangupById(row.phone_call_id);
      return;
    }
    if (row.mode === 'phone' && state.dial && !row.phone_call_id) {
      try {
        const call = await this.o.phones.dialForService(a, { to: state.dial.to, digits: state.dial.digits ?? null, role: 'interpreter', displayName: state.interpreterName ?? `${languageName(row.language)} interpreter` }, row.id);
        await this.update(row, { phone_call_id: call.id, ...(RANK[patch.status!] < RANK.connecting ? { status: 'connecting' as const } : {}) });
      } catch (err) {
        const message = err instanceof ClinicError ? err.message : 'the call could not be placed';
        this.o.log.warn({ err, requestId: row.id }, 'interpreter call not placed');
        await this.update(row, { message });
      }
    }
  }

  /** Ends an open request: tells the service, takes back the guest link, hangs up the call. */
  private end(row: InterpreterRequestsTable, status: 'canceled' | 'completed', actor: StaffActor | null): Promise<void> {
    return this.serialized(row.id, () => this.endNow(row.id, status, actor));
  }

  private async endNow(id: string, status: 'canceled' | 'completed', actor: StaffActor | null): Promise<void> {
    const row = await this.rowById(id);
    if (isFinal(row.status)) return;
    if (this.o.service && row.service_request_id) {
      await this.o.service.cancel(row.service_request_id).catch((err: unknown) => this.o.log.warn({ err, requestId: row.id }, 'interpreter service cancel failed'));
    }
    await this.update(row, { status, ended_at: iso(this.o.clock.now()) });
    if (row.invitation_id && actor) await this.o.guests.revoke(actor, row.appointment_id, row.invitation_id).catch(() => undefined);
    if (row.phone_call_id) await this.o.phones.hangupById(row.phone_call_id);
  }

  /** When the visit ends, its open requests end too (the guest links die with the visit). */
  private watchVisit(appointmentId: string): void {
    if (this.visitWatch.has(appointmentId)) return;
    const off = this.o.bus.subscribe(`appointment:${appointmentId}`, (m) => {
      if (m.type !== 'ended') return;
      off();
      this.visitWatch.delete(appointmentId);
      void (async () => {
        const open = await this.o.db.selectFrom('interpreter_requests').selectAll().where('appointment_id', '=', appointmentId).where('status', 'not in', [...FINAL_SERVICE_STATUSES]).execute();
        if (open.length === 0) return;
        const a = await this.appointment(appointmentId);
        for (const r of open) {
          await this.end(r, r.status === 'connected' ? 'completed' : 'canceled', null);
          await this.o.audit.record({ kind: 'system', clinicId: a.clinic_id, ip: null }, { action: 'interpreter.cancel', subjectKind: 'appointment', subjectId: a.id, detail: { requestId: r.id, reason: 'visit-ended' } });
          await this.publish(a, r.id);
        }
      })().catch((err: unknown) => this.o.log.error({ err }, 'ending interpreter requests failed'));
    });
    this.visitWatch.set(appointmentId, off);
  }

  close(): void {
    for (const off of this.visitWatch.values()) off();
    this.visitWatch.clear();
  }

  private async update(row: InterpreterRequestsTable, patch: Partial<InterpreterRequestsTable>): Promise<void> {
    await this.o.db.updateTable('interpreter_requests').set({ ...patch, updated_at: iso(this.o.clock.now()) }).where('id', '=', row.id).execute();
  }

  private async publish(a: Pick<AppointmentsTable, 'id' | 'clinic_id' | 'provider_id'>, requestId: string): Promise<void> {
    const row = await this.rowById(requestId);
    await this.o.bus.publish(`clinic:${a.clinic_id}`, { type: 'interpreter.status', appointmentId: a.id, providerId: a.provider_id, request: view(row) });
  }

  private async forProvider(actor: StaffActor, appointmentId: string): Promise<AppointmentsTable> {
    const a = await this.o.appointments.load(actor, appointmentId);
    if (actor.role !== 'provider' || !seesProvider(actor, a.provider_id)) throw forbidden('Only the visit’s provider can do this');
    return a;
  }

  private async row(a: AppointmentsTable, requestId: string): Promise<InterpreterRequestsTable> {
    const row = await this.o.db.selectFrom('interpreter_requests').selectAll().where('id', '=', requestId).executeTakeFirst();
    if (!row || row.appointment_id !== a.id) throw notFound('Request not found');
    return row;
  }

  private rowById(id: string): Promise<InterpreterRequestsTable> {
    return this.o.db.selectFrom('interpreter_requests').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  }

  private appointment(id: string): Promise<AppointmentsTable> {
    return this.o.db.selectFrom('appointments').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  }
}

function view(r: InterpreterRequestsTable): InterpreterRequestView {
  return {
    id: r.id,
    language: r.language,
    languageName: languageName(r.language),
    mode: r.mode,
    status: r.status,
    interpreterName: r.interpreter_name,
    message: r.message,
    invitationId: r.invitation_id,
    phoneCallId: r.phone_call_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    endedAt: r.ended_at,
  };
}
