// Phone numbers are stored and sent as E.164 only; logs carry the last four digits.

export const E164 = /^\+[1-9]\d{6,14}$/;

export function isE164(value: string): boolean {
  return E164.test(value);
}

/**
 * Strips spaces, dashes, dots and parentheses; a bare 10-digit number (or 11 digits starting
 * with 1) is taken as North American (+1). Returns null if the result is not E.164.
 */
export function normalizePhone(input: string | null | undefined): string | null {
  if (typeof input !== 'string') return null;
  let s = input.trim().replace(/[\s\-.()\u00a0]/g, '');
  if (/^\d{10}$/.test(s) && /^[2-9]/.test(s)) s = '+1' + s;
  else if (/^1\d{10}$/.test(s) && /^1[2-9]/.test(s)) s = '+' + s;
  return E164.test(s) ? s : null;
}

/** `+15551234567` → `…4567`, for logs. */
export function maskPhone(phone: string | null | undefined): string {
  if (!phone) return '';
  const digits = phone.replace(/\D/g, '');
  return digits.length <= 4 ? '…' : '…' + digits.slice(-4);
}

/** Masks every phone-number-like run of digits in a text (provider error messages quote numbers). */
export function maskPhonesIn(text: string): string {
  return text.replace(/\+?\d[\d\s\-().]{5,}\d/g, (m) => (m.replace(/\D/g, '').length >= 7 ? maskPhone(m) : m));
}
