// API keys over the 2010-04-01 API, as `client.newKeys.create()`, `client.keys.list()` and
// `client.keys(sid).remove()` call it. Only the account's own credentials manage keys.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiKeyInfo, CredentialsService } from '../credentials/credentials-service.js';
import { notFound, TwilioError } from '../errors.js';
import { principalOf } from './twilio-http.js';
import { rfc2822 } from './serializers.js';

function keyJson(k: ApiKeyInfo) {
  return { sid: k.sid, friendly_name: k.friendlyName, date_created: rfc2822(k.dateCreated), date_updated: rfc2822(k.dateUpdated) };
}

function ownAccount(req: FastifyRequest<{ Params: { account: string } }>): string {
  const p = principalOf(req);
  if (p.accountSid !== req.params.account) throw new TwilioError(20003, 'Permission denied: credentials belong to another account', 403);
  if (p.keySid !== null) throw new TwilioError(20003, 'Permission denied: API keys cannot manage API keys; use the account SID and auth token', 403);
  return p.accountSid;
}

export function keysRoutes(app: FastifyInstance, credentials: CredentialsService): void {
  app.post<{ Params: { account: string }; Body: { FriendlyName?: string } }>(
    '/2010-04-01/Accounts/:account/Keys.json',
    { schema: { body: { type: 'object', properties: { FriendlyName: { type: 'string', maxLength: 64 } } } } },
    async (req, reply) => {
      const account = ownAccount(req);
      const key = await credentials.createKey(account, req.body?.FriendlyName ?? '');
      return reply.status(201).send({ ...keyJson(key), secret: key.secret });
    },
  );

  app.get<{ Params: { account: string } }>('/2010-04-01/Accounts/:account/Keys.json', async (req) => {
    const account = ownAccount(req);
    const keys = (await credentials.listKeys(account)).filter((k) => k.status === 'active');
    const uri = `/2010-04-01/Accounts/${account}/Keys.json`;
    return {
      keys: keys.map(keyJson),
      first_page_uri: `${uri}?PageSize=${keys.length || 50}&Page=0`,
      next_page_uri: null,
      previous_page_uri: null,
      page: 0,
      page_size: keys.length || 50,
      start: 0,
      end: Math.max(0, keys.length - 1),
      uri,
    };
  });

  app.get<{ Params: { account: string; key: string } }>('/2010-04-01/Accounts/:account/Keys/:key.json', async (req) => {
    const account = ownAccount(req);
    const key = await credentials.getKey(req.params.key);
    if (!key || key.accountSid !== account || key.status !== 'active') throw notFound(`/Keys/${req.params.key}`);
    return keyJson(key);
  });

  app.delete<{ Params: { account: string; key: string } }>('/2010-04-01/Accounts/:account/Keys/:key.json', async (req, reply) => {
    const account = ownAccount(req);
    const key = await credentials.getKey(req.params.key);
    if (!key || key.accountSid !== account || key.status !== 'active') throw notFound(`/Keys/${req.params.key}`);
    await credentials.revokeKey(key.sid, account);
    return reply.status(204).send();
  });
}
