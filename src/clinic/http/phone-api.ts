// Phone legs of a visit, for its provider: dial (number, role, name, optional IVR digits), list,
// hang up, and digits pressed live on the keypad. Everyone else gets 403 (or 404 for a visit
// they cannot see). Without a SIP trunk, dialing answers 503 phone_not_configured.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { StaffActor } from '../actor.js';
import { GUEST_ROLES } from '../guest-service.js';
import type { DialInput, PhoneCallService } from '../phone-calls.js';
import type { StaffService } from '../staff/staff-service.js';
import { clientIp, S, STAFF_COOKIE } from './http-kit.js';

const callParams = { type: 'object', required: ['id', 'callId'], properties: { id: S.str(64, 1), callId: S.str(64, 1) } } as const;
const dialBody = {
  type: 'object',
  required: ['to'],
  additionalProperties: false,
  properties: {
    to: S.str(40, 1),
    role: { type: 'string', enum: [...GUEST_ROLES] },
    displayName: S.str(80),
    digits: { type: ['string', 'null'], maxLength: 64 },
  },
} as const;

export function phoneApi(api: FastifyInstance, d: { staff: StaffService; phones: PhoneCallService }): void {
  const staff = (req: FastifyRequest): Promise<StaffActor> => d.staff.authenticate(req.cookies[STAFF_COOKIE], clientIp(req));

  api.get<{ Params: { id: string } }>('/appointments/:id/phone-calls', { schema: { params: S.idParams } }, async (req) => d.phones.list(await staff(req), req.params.id));
  api.post<{ Params: { id: string }; Body: DialInput }>('/appointments/:id/phone-calls', { schema: { params: S.idParams, body: dialBody } }, async (req, reply) =>
    reply.status(201).send(await d.phones.dial(await staff(req), req.params.id, req.body)),
  );
  api.post<{ Params: { id: string; callId: string } }>('/appointments/:id/phone-calls/:callId/hangup', { schema: { params: callParams } }, async (req) =>
    d.phones.hangup(await staff(req), req.params.id, req.params.callId),
  );
  api.post<{ Params: { id: string; callId: string }; Body: { digits: string } }>(
    '/appointments/:id/phone-calls/:callId/digits',
    { schema: { params: callParams, body: { type: 'object', required: ['digits'], additionalProperties: false, properties: { digits: S.str(64, 1) } } } },
    async (req) => {
      await d.phones.sendDigits(await staff(req), req.params.id, req.params.callId, req.body.digits);
      return { ok: true };
    },
  );
}
