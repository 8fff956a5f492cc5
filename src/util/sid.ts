import { randomBytes } from 'node:crypto';

/** Twilio-style resource id: a two-letter prefix and 32 lowercase hex digits. */
export function newSid(prefix: 'AC' | 'SK' | 'RM' | 'PA' | 'MT'): string {
  return prefix + randomBytes(16).toString('hex');
}

export function isSid(value: string, prefix: string): boolean {
  return value.length === 34 && value.startsWith(prefix) && /^[0-9a-f]{32}$/.test(value.slice(2));
}

/** A random secret of the length Twilio uses for auth tokens and API key secrets. */
export function newSecret(): string {
  return randomBytes(16).toString('hex');
}
