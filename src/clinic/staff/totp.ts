// TOTP second factor (RFC 6238, 30 s, 6 digits, SHA-1: what every authenticator app supports).
import { Secret, TOTP } from 'otpauth';

export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

function totp(secretBase32: string, label = 'staff'): TOTP {
  return new TOTP({ issuer: 'Televisit', label, algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secretBase32) });
}

export function totpUri(secretBase32: string, label: string): string {
  return totp(secretBase32, label).toString();
}

/** Accepts the current code and one step either side (clock drift on phones). */
export function checkTotp(secretBase32: string, code: string, nowMs: number): boolean {
  if (!/^\d{6}$/.test(code)) return false;
  return totp(secretBase32).validate({ token: code, timestamp: nowMs, window: 1 }) !== null;
}

export function currentTotp(secretBase32: string, nowMs: number): string {
  return totp(secretBase32).generate({ timestamp: nowMs });
}
