// Patient routes: everything a patient does from the SMS link. The link's secret travels in
// request bodies only (never a query string), and the session cookie after the date-of-birth
// check is limited to this one appointment.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { PatientActor } from '../actor.js';
import { ClinicError } from '../errors.js';
import type { VisitService } from '../visit-service.js';
import { hashSecret } from '../secrets.js';
import { clearCookie, clientIp, PATIENT_COOKIE, S, setSessionCookie } from './http-kit.js';
import type { Db } from '../../store/database.js';

export function patientApi(api: FastifyInstance, visits: VisitService, db: Db, secureCookies: boolean): void {
  const patient = (req: FastifyRequest): Promise<PatientActor> => visits.authenticatePatient(req.cookies[PATIENT_COOKIE], clientIp(req));
  const tokenBody = { type: 'object', required: ['token'], properties: { token: S.str(64, 1) } } as const;

  /** Before the identity check: is the link good, and in which language should we ask? Resumes an open session. */
  api.post<{ Body: { token: string } }>('/patient/open', { schema: { body: tokenBody } }, async (req) => {
    const info = await visits.linkLanguage(req.body.token);
    if (!info) throw new ClinicError(410, 'link_invalid', 'This link no longer works. Please call the clinic for a new one.');
    const cookie = req.cookies[PATIENT_COOKIE];
    let verified = false;
    if (cookie) {
      const s = await db.selectFrom('patient_sessions').select('link_hash').where('id_hash', '=', hashSecret(cookie)).executeTakeFirst();
      if (s && s.link_hash === hashSecret(req.body.token)) verified = await patient(req).then(() => true, () => false);
    }
    return { ...info, verified };
  });
  api.post<{ Body: { token: string; dob: string } }>(
    '/patient/verify',
    { schema: { body: { type: 'object', required: ['token', 'dob'], properties: { token: S.str(64, 1), dob: S.str(10, 1) } } } },
    async (req, reply) => {
      const { sessionSecret, expiresAt } = await visits.verify(req.body.token, req.body.dob, clientIp(req));
      setSessionCookie(reply, PATIENT_COOKIE, sessionSecret, secureCookies, 'lax', Math.max(60, Math.floor((Date.parse(expiresAt) - Date.now()) / 1000)));
      return { ok: true };
    },
  );
  api.get('/patient/me', async (req) => {
    const p = await patient(req);
    return { appointmentId: p.appointmentId, ...(await visits.patientView(p)) };
  });
  api.post<{ Body: { language: 'en' | 'es' } }>('/patient/language', { schema: { body: { type: 'object', required: ['language'], properties: { language: { type: 'string', enum: ['en', 'es'] } } } } }, async (req) => {
    await visits.setLanguage(await patient(req), req.body.language);
    return { ok: true };
  });
  api.post<{ Body: { answers: Record<string, string> } }>(
    '/patient/intake',
    { schema: { body: { type: 'object', required: ['answers'], properties: { answers: { type: 'object', maxProperties: 50, additionalProperties: { type: 'string', maxLength: 4000 } } } } } },
    async (req) => {
      await visits.saveIntake(await patient(req), req.body.answers);
      return { ok: true };
    },
  );
  for (const what of ['copay', 'consent'] as const) {
    api.post<{ Body: { version: string } }>(`/patient/${what}`, { schema: { body: { type: 'object', required: ['version'], properties: { version: S.str(40, 1) } } } }, async (req) => {
      await visits.acknowledge(await patient(req), what, req.body.version);
      return { ok: true };
    });
  }
  const level = { type: 'string', enum: ['pass', 'fail', 'warn'] } as const;
  api.post<{ Body: { browser: 'pass' | 'fail' | 'warn'; camera: 'pass' | 'fail' | 'warn'; microphone: 'pass' | 'fail' | 'warn'; network: 'good' | 'fair' | 'poor' | 'fail'; details?: Record<string, unknown> } }>(
    '/patient/precall',
    {
      schema: {
        body: {
          type: 'object',
          required: ['browser', 'camera', 'microphone', 'network'],
          properties: { browser: level, camera: level, microphone: level, network: { type: 'string', enum: ['good', 'fair', 'poor', 'fail'] }, details: { type: 'object', maxProperties: 30 } },
        },
      },
    },
    async (req) => {
      await visits.savePrecall(await patient(req), req.body);
      return { ok: true };
    },
  );
  api.post('/patient/preflight', async (req) => visits.preflight(await patient(req)));
  api.post('/patient/check-in', async (req) => {
    await visits.checkIn(await patient(req));
    return { ok: true };
  });
  api.get('/patient/chat', async (req) => {
    const p = await patient(req);
    return visits.chat(p, p.appointmentId);
  });
  api.post<{ Body: { text: string } }>('/patient/chat', { schema: { body: { type: 'object', required: ['text'], properties: { text: S.str(2000, 1) } } } }, async (req, reply) => {
    const p = await patient(req);
    return reply.status(201).send(await visits.postChat(p, p.appointmentId, req.body.text));
  });
  api.post('/patient/visit-token', async (req) => {
    const p = await patient(req);
    return visits.visitToken(p, p.appointmentId);
  });
  api.get('/patient/directory', async (req) => {
    const p = await patient(req);
    return visits.directory(p, p.appointmentId);
  });
  api.post('/patient/logout', async (req, reply) => {
    await visits.endPatientSession(req.cookies[PATIENT_COOKIE]);
    clearCookie(reply, PATIENT_COOKIE);
    return { ok: true };
  });
}
