// Random bearer secrets (patient links, session cookies) and how we store them: only a SHA-256
// hash is kept, so a copy of the database cannot be used to sign in or open a link.
import { createHash, createHmac, randomBytes } from 'node:crypto';

/** 256 random bits, URL-safe. */
export function newBearerSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Opaque ids for clinic rows: a short prefix and 128 random bits. */
export function newId(prefix: 'cl' | 'st' | 'ap' | 'gi'): string {
  return `${prefix}_${randomBytes(16).toString('hex')}`;
}

/** A stable opaque value derived from a server secret: the same inputs give the same output. */
export function deriveOpaque(key: Buffer, ...parts: string[]): string {
  return createHmac('sha256', key).update(parts.join('\u0000')).digest('hex').slice(0, 24);
}
