// What every Twilio-compatible HTTP route shares: Basic authentication with account or API key
// credentials, and errors in Twilio's JSON shape with Twilio's codes.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CredentialsService, Principal } from '../credentials/credentials-service.js';
import { TwilioError } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** The code a validation failure of a given parameter gets; everything else is 20001. */
const PARAMETER_CODES: Record<string, number> = {
  Type: 53108,
  MaxParticipants: 53107,
  StatusCallbackMethod: 53110,
  StatusCallback: 53111,
  Status: 53112,
  EmptyRoomTimeout: 53109,
  UnusedRoomTimeout: 53109,
  MaxParticipantDuration: 53109,
  MediaRegion: 53115,
  UniqueName: 53100,
  VideoCodecs: 53114,
};

export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new TwilioError(20003, 'Authenticate', 401);
  return req.principal;
}

export function basicAuth(credentials: CredentialsService) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = req.headers.authorization;
    const match = header?.match(/^Basic\s+([A-Za-z0-9+/=]+)\s*$/i);
    if (match) {
      const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        const principal = await credentials.authenticateBasic(decoded.slice(0, colon), decoded.slice(colon + 1));
        if (principal) {
          req.principal = principal;
          return;
        }
      }
    }
    reply.header('WWW-Authenticate', 'Basic realm="Televisit API"');
    throw new TwilioError(20003, 'Authenticate: use HTTP Basic auth with AccountSid:AuthToken or ApiKeySid:ApiKeySecret', 401);
  };
}

function validationToTwilio(err: FastifyError): TwilioError {
  const first = err.validation?.[0];
  const params = (first?.params ?? {}) as { missingProperty?: string; allowedValues?: unknown[] };
  const field = params.missingProperty ?? first?.instancePath?.split('/')[1] ?? 'request';
  const detail = params.missingProperty
    ? 'is required'
    : params.allowedValues
      ? `must be one of ${params.allowedValues.join(', ')}`
      : (first?.message ?? 'is invalid');
  return new TwilioError(PARAMETER_CODES[field] ?? 20001, `Invalid parameter ${field}: ${detail}`, 400);
}

/** Installs the Twilio error shape on an app (or a scope of it). */
export function installTwilioErrors(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | TwilioError, req, reply) => {
    let twilio: TwilioError;
    if (err instanceof TwilioError) twilio = err;
    else if ((err as FastifyError).validation) twilio = validationToTwilio(err as FastifyError);
    else if ((err as FastifyError).statusCode === 413) twilio = new TwilioError(20001, 'Request body is too large', 413);
    else if ((err as FastifyError).statusCode === 415) twilio = new TwilioError(20001, 'Unsupported content type; send application/x-www-form-urlencoded', 415);
    else if ((err as FastifyError).statusCode && (err as FastifyError).statusCode! < 500) {
      twilio = new TwilioError(20001, `Bad request: ${err.message}`, (err as FastifyError).statusCode!);
    } else {
      req.log.error({ err }, 'unhandled error');
      twilio = new TwilioError(20500, 'Internal Server Error', 500);
    }
    void reply.status(twilio.status).send(twilio.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    const twilio = new TwilioError(20404, `The requested resource ${req.url.split('?')[0]} was not found`, 404);
    void reply.status(404).send(twilio.toJSON());
  });
}
