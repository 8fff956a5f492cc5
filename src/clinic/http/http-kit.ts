// What every clinic route shares: the error shape, the session cookies, and the guard that
// keeps cross-site forms out (mutating requests must be JSON, which a foreign page cannot send
// without a CORS preflight we never grant).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ClinicError } from '../errors.js';

export const STAFF_COOKIE = 'tv_staff';
export const PATIENT_COOKIE = 'tv_patient';

export function installClinicErrors(api: FastifyInstance): void {
  api.setErrorHandler((err: FastifyError | ClinicError, req, reply) => {
    if (err instanceof ClinicError) return reply.status(err.status).send({ error: { code: err.code, message: err.message } });
    const fe = err as FastifyError;
    if (fe.validation) return reply.status(400).send({ error: { code: 'invalid', message: `Invalid request: ${fe.message}` } });
    if (fe.statusCode && fe.statusCode < 500) return reply.status(fe.statusCode).send({ error: { code: 'bad_request', message: fe.message } });
    req.log.error({ err }, 'clinic route failed');
    return reply.status(500).send({ error: { code: 'internal', message: 'Something went wrong on our side. Please try again.' } });
  });
  api.setNotFoundHandler((_req, reply) => reply.status(404).send({ error: { code: 'not_found', message: 'Not found' } }));
  api.addHook('onRequest', async (req) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
    const type = req.headers['content-type'] ?? '';
    // A chunked body has no content-length: it is a body all the same.
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    if (hasBody && !type.startsWith('application/json')) {
      throw new ClinicError(415, 'json_required', 'Send JSON');
    }
  });
  api.addHook('onSend', async (_req, reply) => {
    void reply.header('cache-control', 'no-store');
  });
}

export function setSessionCookie(reply: FastifyReply, name: string, value: string, secure: boolean, sameSite: 'strict' | 'lax', maxAgeSeconds?: number): void {
  void reply.setCookie(name, value, { path: '/', httpOnly: true, secure, sameSite, ...(maxAgeSeconds ? { maxAge: maxAgeSeconds } : {}) });
}

export function clearCookie(reply: FastifyReply, name: string): void {
  void reply.clearCookie(name, { path: '/' });
}

export function clientIp(req: FastifyRequest): string {
  return req.ip;
}

/** JSON-schema fragments. */
export const S = {
  str: (max: number, min = 0) => ({ type: 'string', maxLength: max, minLength: min }) as const,
  int: (min: number, max: number) => ({ type: 'integer', minimum: min, maximum: max }) as const,
  bool: { type: 'boolean' } as const,
  idParams: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const,
};
