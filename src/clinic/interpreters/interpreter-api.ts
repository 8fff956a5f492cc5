// Interpreter-service requests, for the visit's provider (list, request by language and mode,
// cancel, refresh from the service), and the service's signed status reports. The report route
// keeps the raw body: the signature covers its exact bytes.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { StaffActor } from '../actor.js';
import type { StaffService } from '../staff/staff-service.js';
import { clientIp, S, STAFF_COOKIE } from '../http/http-kit.js';
import type { InterpreterMode } from './interpreter-service.js';
import type { InterpreterRequests } from './interpreter-requests.js';

const requestParams = { type: 'object', required: ['id', 'requestId'], properties: { id: S.str(64, 1), requestId: S.str(64, 1) } } as const;

export async function interpreterApi(api: FastifyInstance, d: { staff: StaffService; interpreters: InterpreterRequests }): Promise<void> {
  const staff = (req: FastifyRequest): Promise<StaffActor> => d.staff.authenticate(req.cookies[STAFF_COOKIE], clientIp(req));

  api.get<{ Params: { id: string } }>('/appointments/:id/interpreter-requests', { schema: { params: S.idParams } }, async (req) => d.interpreters.list(await staff(req), req.params.id));
  api.post<{ Params: { id: string }; Body: { language: string; mode?: InterpreterMode } }>(
    '/appointments/:id/interpreter-requests',
    {
      schema: {
        params: S.idParams,
        body: { type: 'object', required: ['language'], additionalProperties: false, properties: { language: S.str(35, 2), mode: { type: 'string', enum: ['video', 'phone'] } } },
      },
    },
    async (req, reply) => reply.status(201).send(await d.interpreters.request(await staff(req), req.params.id, req.body)),
  );
  api.post<{ Params: { id: string; requestId: string } }>('/appointments/:id/interpreter-requests/:requestId/cancel', { schema: { params: requestParams } }, async (req) =>
    d.interpreters.cancel(await staff(req), req.params.id, req.params.requestId),
  );
  api.get<{ Params: { id: string; requestId: string } }>('/appointments/:id/interpreter-requests/:requestId', { schema: { params: requestParams } }, async (req) =>
    d.interpreters.refresh(await staff(req), req.params.id, req.params.requestId),
  );

  await api.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    scope.post('/interpreter-service/callback', async (req, reply) => {
      await d.interpreters.callback(req.headers, typeof req.body === 'string' ? req.body : '');
      return reply.status(204).send();
    });
  });
}
