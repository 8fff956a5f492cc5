// Staff routes: sign-in (password, TOTP), staff management, appointments, the waiting room
// and the visit, records and the audit log. Routes only parse and build the actor; the rules
// live in the services.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { StaffActor } from '../actor.js';
import type { AppointmentService, AppointmentInput } from '../appointment-service.js';
import type { AuditLog } from '../audit-log.js';
import { badRequest } from '../errors.js';
import { requireAdmin, SESSION_IDLE_MS, type StaffService } from '../staff/staff-service.js';
import type { VisitService } from '../visit-service.js';
import type { ClinicSettings, ClinicSettingsService } from '../clinic-settings.js';
import { clearCookie, clientIp, S, setSessionCookie, STAFF_COOKIE } from './http-kit.js';

export interface StaffApiDeps {
  staff: StaffService;
  appointments: AppointmentService;
  visits: VisitService;
  clinics: ClinicSettingsService;
  audit: AuditLog;
  secureCookies: boolean;
  smsForAppointment(appointmentId: string): Promise<unknown[]>;
}

const appointmentProps = {
  providerId: S.str(64, 1),
  patientName: S.str(200, 1),
  patientPhone: S.str(40, 1),
  patientDob: S.str(10, 10),
  language: { type: 'string', enum: ['en', 'es'] },
  interpreterNeeded: S.bool,
  reason: S.str(2000),
  startsAt: S.str(40, 10),
  durationMinutes: S.int(5, 240),
  copayCents: S.int(0, 1_000_000),
  expectedParticipants: S.int(2, 4),
} as const;

export function staffApi(api: FastifyInstance, d: StaffApiDeps): void {
  const actor = (req: FastifyRequest): Promise<StaffActor> => d.staff.authenticate(req.cookies[STAFF_COOKIE], clientIp(req));
  const pending = (req: FastifyRequest): string => req.cookies[STAFF_COOKIE] ?? '';

  api.post<{ Body: { email: string; password: string } }>(
    '/auth/login',
    { schema: { body: { type: 'object', required: ['email', 'password'], properties: { email: S.str(200, 3), password: S.str(200, 1) } } } },
    async (req, reply) => {
      const { sessionSecret, stage } = await d.staff.login(req.body.email, req.body.password, clientIp(req));
      setSessionCookie(reply, STAFF_COOKIE, sessionSecret, d.secureCookies, 'strict');
      return { stage };
    },
  );
  api.post<{ Body: { code: string } }>('/auth/totp', { schema: { body: { type: 'object', required: ['code'], properties: { code: S.str(10, 6) } } } }, async (req) => {
    await d.staff.verifyTotp(pending(req), req.body.code, clientIp(req));
    return { stage: 'active' };
  });
  api.post('/auth/totp/enroll', async (req) => {
    await d.staff.authenticate(pending(req), clientIp(req), { touch: false, stage: 'enroll' }).catch(async () => d.staff.authenticate(pending(req), clientIp(req)));
    return d.staff.beginTotpEnrollment(pending(req));
  });
  api.post<{ Body: { code: string } }>('/auth/totp/confirm', { schema: { body: { type: 'object', required: ['code'], properties: { code: S.str(10, 6) } } } }, async (req) => {
    await d.staff.confirmTotpEnrollment(pending(req), req.body.code, clientIp(req));
    return { stage: 'active' };
  });
  api.post('/auth/logout', async (req, reply) => {
    await d.staff.logout(req.cookies[STAFF_COOKIE], clientIp(req));
    clearCookie(reply, STAFF_COOKIE);
    return { ok: true };
  });
  api.get('/auth/me', async (req) => {
    const a = await actor(req);
    const clinic = await d.clinics.get(a.clinicId);
    return { id: a.staffId, displayName: a.displayName, role: a.role, seesAllSchedules: a.seesAllSchedules, clinic: { id: clinic.id, name: clinic.name, timeZone: clinic.timeZone }, idleTimeoutSeconds: SESSION_IDLE_MS / 1000 };
  });

  // Staff directory: everyone sees names and roles (to book with a provider); admins see the rest.
  api.get('/staff', async (req) => {
    const a = await actor(req);
    const list = await d.staff.list(a);
    return a.role === 'admin' ? list : list.filter((s) => s.active).map((s) => ({ id: s.id, displayName: s.displayName, role: s.role }));
  });
  api.post<{ Body: { email: string; displayName: string; role: 'admin' | 'provider' | 'front_desk'; password: string; seesAllSchedules?: boolean } }>(
    '/staff',
    {
      schema: {
        body: {
          type: 'object',
          required: ['email', 'displayName', 'role', 'password'],
          properties: { email: S.str(200, 3), displayName: S.str(200, 1), role: { type: 'string', enum: ['admin', 'provider', 'front_desk'] }, password: S.str(200, 1), seesAllSchedules: S.bool },
        },
      },
    },
    async (req, reply) => reply.status(201).send(await d.staff.createByAdmin(await actor(req), req.body)),
  );
  api.patch<{ Params: { id: string }; Body: { displayName?: string; role?: 'admin' | 'provider' | 'front_desk'; seesAllSchedules?: boolean; active?: boolean } }>(
    '/staff/:id',
    {
      schema: {
        params: S.idParams,
        body: { type: 'object', properties: { displayName: S.str(200, 1), role: { type: 'string', enum: ['admin', 'provider', 'front_desk'] }, seesAllSchedules: S.bool, active: S.bool }, additionalProperties: false },
      },
    },
    async (req) => d.staff.update(await actor(req), req.params.id, req.body),
  );
  api.get<{ Querystring: { before?: number } }>('/audit', { schema: { querystring: { type: 'object', properties: { before: S.int(1, Number.MAX_SAFE_INTEGER) } } } }, async (req) => {
    const a = await actor(req);
    requireAdmin(a);
    return d.audit.list(a.clinicId, { limit: 100, ...(req.query.before ? { before: req.query.before } : {}) });
  });

  // ---- clinic settings (admins) ----
  api.get('/clinic/settings', async (req) => {
    const a = await actor(req);
    requireAdmin(a);
    return (await d.clinics.get(a.clinicId)).settings;
  });
  const localized = { type: 'object', required: ['en', 'es'], properties: { en: S.str(500, 1), es: S.str(500, 1) }, additionalProperties: false } as const;
  api.patch<{ Body: Record<string, unknown> }>(
    '/clinic/settings',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            reminderOffsetsMinutes: { type: 'array', maxItems: 5, items: S.int(5, 7 * 24 * 60) },
            intakeQuestions: {
              type: 'array',
              maxItems: 30,
              items: {
                type: 'object',
                required: ['id', 'kind', 'label', 'required'],
                additionalProperties: false,
                properties: { id: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,39}$' }, kind: { type: 'string', enum: ['text', 'longtext', 'yesno'] }, label: localized, required: S.bool },
              },
            },
            waitingRoomVideo: {
              anyOf: [
                { type: 'null' },
                { type: 'object', required: ['kind', 'url'], additionalProperties: false, properties: { kind: { const: 'file' }, url: { type: 'string', pattern: '^(/media/[A-Za-z0-9._-]+|https://[^\\s]+)$', maxLength: 500 } } },
                { type: 'object', required: ['kind', 'videoId'], additionalProperties: false, properties: { kind: { const: 'youtube' }, videoId: { type: 'string', pattern: '^[A-Za-z0-9_-]{6,20}$' } } },
              ],
            },
            guestsNeedAdmission: S.bool,
          },
        },
      },
    },
    async (req) => {
      const a = await actor(req);
      requireAdmin(a);
      const body = req.body as Partial<ClinicSettings>;
      if (body.intakeQuestions && new Set(body.intakeQuestions.map((q) => q.id)).size !== body.intakeQuestions.length) {
        throw badRequest('duplicate_question', 'Each question needs its own id');
      }
      const updated = await d.clinics.update(a.clinicId, body);
      await d.audit.record(a, { action: 'clinic.settings', subjectKind: 'clinic', subjectId: a.clinicId, detail: { fields: Object.keys(body) } });
      return updated.settings;
    },
  );

  // ---- appointments ----
  api.get<{ Querystring: { from: string; to: string; providerId?: string } }>(
    '/appointments',
    { schema: { querystring: { type: 'object', required: ['from', 'to'], properties: { from: S.str(40, 10), to: S.str(40, 10), providerId: S.str(64) } } } },
    async (req) => {
      const a = await actor(req);
      const from = new Date(req.query.from);
      const to = new Date(req.query.to);
      if (!Number.isFinite(from.getTime()) || !Number.isFinite(to.getTime()) || to <= from || to.getTime() - from.getTime() > 42 * 86400_000) {
        throw badRequest('bad_range', 'Ask for a range of at most six weeks');
      }
      return d.appointments.list(a, { from: from.toISOString(), to: to.toISOString(), ...(req.query.providerId ? { providerId: req.query.providerId } : {}) });
    },
  );
  api.post<{ Body: AppointmentInput }>(
    '/appointments',
    { schema: { body: { type: 'object', required: ['providerId', 'patientName', 'patientPhone', 'patientDob', 'language', 'interpreterNeeded', 'reason', 'startsAt', 'durationMinutes', 'copayCents'], properties: appointmentProps, additionalProperties: false } } },
    async (req, reply) => reply.status(201).send(await d.appointments.create(await actor(req), req.body)),
  );
  api.get<{ Params: { id: string } }>('/appointments/:id', { schema: { params: S.idParams } }, async (req) => d.appointments.view(await actor(req), req.params.id));
  api.patch<{ Params: { id: string }; Body: Partial<AppointmentInput> }>(
    '/appointments/:id',
    { schema: { params: S.idParams, body: { type: 'object', properties: appointmentProps, additionalProperties: false } } },
    async (req) => d.appointments.update(await actor(req), req.params.id, req.body),
  );
  api.post<{ Params: { id: string }; Body: { notifyPatient?: boolean } }>(
    '/appointments/:id/cancel',
    { schema: { params: S.idParams, body: { type: ['object', 'null'], properties: { notifyPatient: S.bool } } } },
    async (req) => d.appointments.cancel(await actor(req), req.params.id, req.body?.notifyPatient ?? true),
  );
  api.post<{ Params: { id: string }; Body: { sendNew: boolean } }>(
    '/appointments/:id/link',
    { schema: { params: S.idParams, body: { type: 'object', required: ['sendNew'], properties: { sendNew: S.bool } } } },
    async (req) => {
      await d.appointments.replaceLink(await actor(req), req.params.id, req.body.sendNew);
      return { ok: true };
    },
  );
  api.get<{ Params: { id: string } }>('/appointments/:id/sms', { schema: { params: S.idParams } }, async (req) => {
    await d.appointments.load(await actor(req), req.params.id);
    return d.smsForAppointment(req.params.id);
  });
  api.post<{ Params: { id: string }; Body: { message: string | null; lateMinutes?: number; sendSms?: boolean } }>(
    '/appointments/:id/status',
    { schema: { params: S.idParams, body: { type: 'object', required: ['message'], properties: { message: { type: ['string', 'null'], maxLength: 200 }, lateMinutes: S.int(0, 240), sendSms: S.bool } } } },
    async (req) => {
      await d.visits.setProviderStatus(await actor(req), req.params.id, req.body);
      return { ok: true };
    },
  );
  for (const [path, op] of [
    ['admit', (a: StaffActor, id: string) => d.visits.admit(a, id)],
    ['admit-soon', (a: StaffActor, id: string) => d.visits.admitSoon(a, id)],
    ['end', (a: StaffActor, id: string) => d.visits.end(a, id)],
  ] as const) {
    api.post<{ Params: { id: string } }>(`/appointments/:id/${path}`, { schema: { params: S.idParams } }, async (req) => {
      await op(await actor(req), req.params.id);
      return { ok: true };
    });
  }
  api.get<{ Params: { id: string } }>('/appointments/:id/chat', { schema: { params: S.idParams } }, async (req) => d.visits.chat(await actor(req), req.params.id));
  api.post<{ Params: { id: string }; Body: { text: string } }>(
    '/appointments/:id/chat',
    { schema: { params: S.idParams, body: { type: 'object', required: ['text'], properties: { text: S.str(2000, 1) } } } },
    async (req, reply) => reply.status(201).send(await d.visits.postChat(await actor(req), req.params.id, req.body.text)),
  );
  api.post<{ Params: { id: string } }>('/appointments/:id/visit-token', { schema: { params: S.idParams } }, async (req) => d.visits.visitToken(await actor(req), req.params.id));
  api.get<{ Params: { id: string } }>('/appointments/:id/directory', { schema: { params: S.idParams } }, async (req) => d.visits.directory(await actor(req), req.params.id));
  api.get<{ Params: { id: string } }>('/appointments/:id/record', { schema: { params: S.idParams } }, async (req) => d.visits.record(await actor(req), req.params.id));
  // Keeps the idle timer honest: the web app pings only while the person is actually active.
  api.post('/auth/ping', async (req) => {
    await actor(req);
    return { ok: true };
  });
}
