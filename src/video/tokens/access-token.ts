// Verifies Twilio-format access tokens (as made by the `twilio` package's jwt.AccessToken)
// and decides what a verified token may do with rooms. Errors use Twilio's 201xx codes.
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { TwilioError } from '../errors.js';
import type { CredentialsService } from '../credentials/credentials-service.js';
import type { Clock } from '../../util/clock.js';
import { isSid } from '../../util/sid.js';

export const TOKEN_CONTENT_TYPE = 'twilio-fpa;v=1';
export const MAX_TOKEN_LIFETIME_SECONDS = 24 * 60 * 60;
const ALGORITHMS = ['HS256', 'HS384', 'HS512'];

export interface VerifiedToken {
  accountSid: string;
  keySid: string;
  identity: string;
  /** Present when the token carries a video grant. */
  video?: { room?: string };
  expiresAt: number; // ms
  jti?: string;
}

const tokenError = {
  invalid: (why: string) => new TwilioError(20101, `Invalid Access Token: ${why}`, 401),
  header: (why: string) => new TwilioError(20102, `Invalid Access Token header: ${why}`, 401),
  issuer: (why: string) => new TwilioError(20103, `Invalid Access Token issuer/subject: ${why}`, 401),
  expired: (why: string) => new TwilioError(20104, `Access Token expired or expiration date invalid: ${why}`, 401),
  notYetValid: (why: string) => new TwilioError(20105, `Access Token not yet valid: ${why}`, 401),
  grants: (why: string) => new TwilioError(20106, `Invalid Access Token grants: ${why}`, 401),
  signature: (why: string) => new TwilioError(20107, `Invalid Access Token signature: ${why}`, 401),
  lifetime: (why: string) => new TwilioError(20157, `Expiration Time Exceeds Maximum Time Allowed: ${why}`, 401),
};

const HASH_OF: Record<string, string> = { HS256: 'SHA-256', HS384: 'SHA-384', HS512: 'SHA-512' };
const MAX_CACHED_KEYS = 256;

export class AccessTokenVerifier {
  /** Imported HMAC keys: importing one per verification costs more than the HMAC itself. */
  private readonly cryptoKeys = new Map<string, CryptoKey>();

  private async hmacKey(keySid: string, alg: string, secret: string): Promise<CryptoKey> {
    const id = `${keySid}:${alg}:${secret}`;
    let key = this.cryptoKeys.get(id);
    if (!key) {
      key = await crypto.subtle.importKey('raw', Buffer.from(secret), { name: 'HMAC', hash: HASH_OF[alg]! }, false, ['verify']);
      if (this.cryptoKeys.size >= MAX_CACHED_KEYS) this.cryptoKeys.delete(this.cryptoKeys.keys().next().value!);
      this.cryptoKeys.set(id, key);
    }
    return key;
  }

  constructor(
    private readonly credentials: CredentialsService,
    private readonly clock: Clock,
    private readonly skewSeconds: number,
  ) {}

  async verify(token: unknown): Promise<VerifiedToken> {
    if (typeof token !== 'string' || token.length === 0) throw tokenError.invalid('no token was given');
    if (token.length > 16_384) throw tokenError.invalid('token is too long');
    if (token.split('.').length !== 3) throw tokenError.invalid('a token has three dot-separated parts');

    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: ReturnType<typeof decodeJwt>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw tokenError.header('the header is not base64url-encoded JSON');
    }
    if (typeof header.alg !== 'string' || !ALGORITHMS.includes(header.alg)) {
      throw tokenError.header(`algorithm "${String(header.alg)}" is not allowed; use HS256, HS384 or HS512`);
    }
    if (header.cty !== TOKEN_CONTENT_TYPE) {
      throw tokenError.header(`content type must be "${TOKEN_CONTENT_TYPE}", got "${String(header.cty)}"`);
    }
    if (header.typ !== undefined && header.typ !== 'JWT') throw tokenError.header(`type must be "JWT"`);
    try {
      unverified = decodeJwt(token);
    } catch {
      throw tokenError.invalid('the payload is not base64url-encoded JSON');
    }

    const iss = unverified.iss;
    const sub = unverified.sub;
    if (typeof iss !== 'string' || !isSid(iss, 'SK')) throw tokenError.issuer('iss must be an API key SID (SK…)');
    if (typeof sub !== 'string' || !isSid(sub, 'AC')) throw tokenError.issuer('sub must be an account SID (AC…)');
    const key = await this.credentials.activeKeySecret(iss);
    if (!key) throw tokenError.issuer(`API key ${iss} is unknown or revoked`);
    if (key.accountSid !== sub) throw tokenError.issuer(`API key ${iss} does not belong to account ${sub}`);

    let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
    try {
      ({ payload } = await jwtVerify(token, await this.hmacKey(iss, header.alg, key.secret), {
        algorithms: ALGORITHMS,
        clockTolerance: this.skewSeconds,
        currentDate: new Date(this.clock.now()),
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw tokenError.signature('signature does not match the API key secret');
      if (err instanceof joseErrors.JWTExpired) throw tokenError.expired('the token has expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed) {
        if (err.claim === 'nbf') throw tokenError.notYetValid('the token is not valid yet (nbf)');
        if (err.claim === 'exp') throw tokenError.expired('exp is missing or not a number');
        if (err.claim === 'iat') throw tokenError.notYetValid('iat is in the future or invalid');
        throw tokenError.invalid(`claim ${err.claim} is invalid`);
      }
      throw tokenError.invalid('the token could not be verified');
    }

    const exp = payload.exp!;
    const start = typeof payload.nbf === 'number' ? payload.nbf : typeof payload.iat === 'number' ? payload.iat : Math.floor(this.clock.now() / 1000);
    if (exp - start > MAX_TOKEN_LIFETIME_SECONDS) {
      throw tokenError.lifetime(`token lifetime is ${exp - start} s; the maximum is ${MAX_TOKEN_LIFETIME_SECONDS} s (24 h)`);
    }

    const grants = payload.grants as Record<string, unknown> | undefined;
    if (!grants || typeof grants !== 'object' || Array.isArray(grants)) throw tokenError.grants('grants are missing');
    const identity = grants.identity;
    if (typeof identity !== 'string' || identity.length === 0) throw tokenError.grants('grants.identity is required');
    const result: VerifiedToken = { accountSid: sub, keySid: iss, identity, expiresAt: exp * 1000 };
    if (typeof payload.jti === 'string') result.jti = payload.jti;
    if (grants.video !== undefined) {
      const video = grants.video as Record<string, unknown> | null;
      if (!video || typeof video !== 'object' || Array.isArray(video)) throw tokenError.grants('grants.video must be an object');
      if (video.room !== undefined && (typeof video.room !== 'string' || video.room.length === 0)) {
        throw tokenError.grants('grants.video.room must be a room name or RM SID');
      }
      result.video = video.room === undefined ? {} : { room: video.room as string };
    }
    return result;
  }
}

/**
 * What a token's video grant allows for a requested room. A grant naming a room by SID reaches
 * only that existing room and never creates one; a grant naming a room by name reaches only that
 * name (creating it ad hoc if needed); a grant without a room reaches any room.
 */
export function roomAccess(
  token: VerifiedToken,
  requested: { name: string; existingSid: string | null },
): { allowed: true; mayCreate: boolean } | { allowed: false; error: TwilioError } {
  if (!token.video) return { allowed: false, error: tokenError.grants('the token has no video grant') };
  const granted = token.video.room;
  if (granted === undefined) return { allowed: true, mayCreate: true };
  if (isSid(granted, 'RM')) {
    if (requested.existingSid === granted || requested.name === granted) return { allowed: true, mayCreate: false };
    return { allowed: false, error: tokenError.grants('the token is limited to another room') };
  }
  if (granted === requested.name) return { allowed: true, mayCreate: true };
  return { allowed: false, error: tokenError.grants('the token is limited to another room') };
}
