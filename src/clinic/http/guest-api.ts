// Guest routes. Inviters: the visit's provider (/api/appointments/:id/guests…) and the verified
// patient (/api/patient/guests…). The guest (/api/guest/…): the link's secret travels in the
// body of /open only, which sets a cookie session limited to that one invitation.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GuestActor, PatientActor, StaffActor } from '../actor.js';
import type { GuestInput, GuestService } from '../guest-service.js';
import { GUEST_ROLES } from '../guest-service.js';
import type { StaffService } from '../staff/staff-service.js';
import type { VisitService } from '../visit-service.js';
import { clientIp, PATIENT_COOKIE, S, setSessionCookie, STAFF_COOKIE } from './http-kit.js';

export const GUEST_COOKIE = 'tv_guest';

export interface GuestApiDeps {
  staff: StaffService;
  visits: VisitService;
  guests: GuestService;
  secureCookies: boolean;
}

const inviteBody = {
  type: 'object',
  required: ['role', 'displayName'],
  additionalProperties: false,
  properties: { role: { type: 'string', enum: [...GUEST_ROLES] }, displayName: S.str(80, 1), phone: { type: ['string', 'null'], maxLength: 40 } },
} as const;
const guestParams = { type: 'object', required: ['id', 'guestId'], properties: { id: S.str(64, 1), guestId: S.str(64, 1) } } as const;
const patientGuestParams = { type: 'object', required: ['guestId'], properties: { guestId: S.str(64, 1) } } as const;
const level = { type: 'string', enum: ['pass', 'fail', 'warn'] } as const;
const precallBody = {
  type: 'object',
  required: ['browser', 'camera', 'microphone', 'network'],
  properties: { browser: level, camera: level, microphone: level, network: { type: 'string', enum: ['good', 'fair', 'poor', 'fail'] }, details: { type: 'object', maxProperties: 30 } },
} as const;

export function guestApi(api: FastifyInstance, d: GuestApiDeps): void {
  const staff = (req: FastifyRequest): Promise<StaffActor> => d.staff.authenticate(req.cookies[STAFF_COOKIE], clientIp(req));
  const patient = (req: FastifyRequest): Promise<PatientActor> => d.visits.authenticatePatient(req.cookies[PATIENT_COOKIE], clientIp(req));
  const guest = (req: FastifyRequest): Promise<GuestActor> => d.guests.authenticate(req.cookies[GUEST_COOKIE], clientIp(req));

  // ---- the visit's provider ----
  api.get<{ Params: { id: string } }>('/appointments/:id/guests', { schema: { params: S.idParams } }, async (req) => d.guests.list(await staff(req), req.params.id));
  api.post<{ Params: { id: string }; Body: GuestInput }>('/appointments/:id/guests', { schema: { params: S.idParams, body: inviteBody } }, async (req, reply) =>
    reply.status(201).send(await d.guests.invite(await staff(req), req.params.id, req.body)),
  );
  api.post<{ Params: { id: string; guestId: string } }>('/appointments/:id/guests/:guestId/admit', { schema: { params: guestParams } }, async (req) => {
    await d.guests.admit(await staff(req), req.params.id, req.params.guestId);
    return { ok: true };
  });
  for (const how of ['revoke', 'decline'] as const) {
    api.post<{ Params: { id: string; guestId: string } }>(`/appointments/:id/guests/:guestId/${how}`, { schema: { params: guestParams } }, async (req) => {
      await d.guests.revoke(await staff(req), req.params.id, req.params.guestId, how);
      return { ok: true };
    });
  }

  // ---- the patient ----
  api.get('/patient/guests', async (req) => {
    const p = await patient(req);
    return d.guests.list(p, p.appointmentId);
  });
  api.post<{ Body: GuestInput }>('/patient/guests', { schema: { body: inviteBody } }, async (req, reply) => {
    const p = await patient(req);
    return reply.status(201).send(await d.guests.invite(p, p.appointmentId, req.body));
  });
  api.post<{ Params: { guestId: string } }>('/patient/guests/:guestId/revoke', { schema: { params: patientGuestParams } }, async (req) => {
    const p = await patient(req);
    await d.guests.revoke(p, p.appointmentId, req.params.guestId);
    return { ok: true };
  });

  // ---- the guest ----
  api.post<{ Body: { token: string } }>('/guest/open', { schema: { body: { type: 'object', required: ['token'], properties: { token: S.str(64, 1) } } } }, async (req, reply) => {
    const r = await d.guests.open(req.body.token, req.cookies[GUEST_COOKIE], clientIp(req));
    if (r.sessionSecret) setSessionCookie(reply, GUEST_COOKIE, r.sessionSecret, d.secureCookies, 'lax', Math.max(60, Math.floor((Date.parse(r.expiresAt) - Date.now()) / 1000)));
    return { clinicName: r.clinicName, language: r.language };
  });
  api.get('/guest/me', async (req) => d.guests.me(await guest(req)));
  api.post<{ Body: { browser: 'pass' | 'fail' | 'warn'; camera: 'pass' | 'fail' | 'warn'; microphone: 'pass' | 'fail' | 'warn'; network: 'good' | 'fair' | 'poor' | 'fail'; details?: Record<string, unknown> } }>(
    '/guest/precall',
    { schema: { body: precallBody } },
    async (req) => {
      await d.guests.savePrecall(await guest(req), req.body);
      return { ok: true };
    },
  );
  api.post('/guest/preflight', async (req) => d.guests.preflight(await guest(req)));
  api.post('/guest/ready', async (req) => d.guests.ready(await guest(req)));
  api.post('/guest/visit-token', async (req) => d.guests.visitToken(await guest(req)));
  api.get('/guest/directory', async (req) => {
    const g = await guest(req);
    return d.visits.directory(g, g.appointmentId);
  });
  api.get('/guest/chat', async (req) => d.guests.chat(await guest(req)));
  api.post<{ Body: { text: string } }>('/guest/chat', { schema: { body: { type: 'object', required: ['text'], properties: { text: S.str(2000, 1) } } } }, async (req, reply) =>
    reply.status(201).send(await d.guests.postChat(await guest(req), req.body.text)),
  );
  api.post('/guest/leave', async (req) => {
    await d.guests.leave(await guest(req));
    return { ok: true };
  });
}
