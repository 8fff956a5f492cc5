// Mints access tokens in exactly the format of the `twilio` package's jwt.AccessToken,
// for our CLI, our clinic workflow and anyone without the twilio package.
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { MAX_TOKEN_LIFETIME_SECONDS, TOKEN_CONTENT_TYPE } from './access-token.js';

export interface MintOptions {
  accountSid: string;
  keySid: string;
  keySecret: string;
  identity: string;
  /** Room name or RM SID the token is limited to. */
  room?: string;
  ttlSeconds?: number;
  nowMs?: number;
}

export async function mintAccessToken(opts: MintOptions): Promise<string> {
  const ttl = opts.ttlSeconds ?? 3600;
  if (!Number.isInteger(ttl) || ttl <= 0 || ttl > MAX_TOKEN_LIFETIME_SECONDS) {
    throw new Error(`ttlSeconds must be between 1 and ${MAX_TOKEN_LIFETIME_SECONDS}`);
  }
  if (!opts.identity) throw new Error('identity is required');
  const now = Math.floor((opts.nowMs ?? Date.now()) / 1000);
  const video: Record<string, string> = {};
  if (opts.room) video.room = opts.room;
  return new SignJWT({ grants: { identity: opts.identity, video } })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', cty: TOKEN_CONTENT_TYPE })
    .setJti(`${opts.keySid}-${now}-${randomBytes(8).toString('hex')}`)
    .setIssuer(opts.keySid)
    .setSubject(opts.accountSid)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(Buffer.from(opts.keySecret));
}
