// HTTP Digest authentication as SIP uses it (RFC 3261 section 22, RFC 2617, RFC 8760):
// answers a 401 WWW-Authenticate or 407 Proxy-Authenticate challenge. MD5 and MD5-sess, with
// qop=auth or without qop; SHA-256 when the trunk offers it first.
import { createHash, randomBytes } from 'node:crypto';
import { SipParseError, unquote } from './message.js';

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque: string | null;
  algorithm: string;
  /** The qop options offered (empty = RFC 2069 style, no qop). */
  qop: string[];
  stale: boolean;
}

const SUPPORTED = ['MD5', 'MD5-SESS', 'SHA-256', 'SHA-256-SESS'];

/** Parses `Digest realm="x", nonce="y", ...`; null for other schemes or unsupported algorithms. */
export function parseChallenge(value: string): DigestChallenge | null {
  const m = /^\s*Digest\s+(.*)$/is.exec(value);
  if (!m) return null;
  const params = parseAuthParams(m[1]!);
  if (params.realm === undefined || params.nonce === undefined) throw new SipParseError('digest challenge without realm or nonce');
  const algorithm = (params.algorithm ?? 'MD5').toUpperCase();
  if (!SUPPORTED.includes(algorithm)) return null;
  return {
    realm: params.realm,
    nonce: params.nonce,
    opaque: params.opaque ?? null,
    algorithm,
    qop: (params.qop ?? '').split(',').map((q) => q.trim().toLowerCase()).filter(Boolean),
    stale: (params.stale ?? '').toLowerCase() === 'true',
  };
}

/** `a="x, y", b=z` → {a: 'x, y', b: 'z'} (names lower-cased). */
export function parseAuthParams(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < text.length && (m = re.exec(text)) !== null) {
    out[m[1]!.toLowerCase()] = unquote(m[2]!);
    if (m[0] === '') break;
  }
  return out;
}

export interface DigestCredentials {
  username: string;
  password: string;
}

export interface DigestInput {
  method: string;
  uri: string;
  body?: string;
  /** Nonce count for this nonce (1 for the first use). */
  nc?: number;
  /** Fixed cnonce (tests); random otherwise. */
  cnonce?: string;
}

function hasher(algorithm: string): (s: string) => string {
  const name = algorithm.startsWith('SHA-256') ? 'sha256' : 'md5';
  return (s) => createHash(name).update(s, 'utf8').digest('hex');
}

/** Computes the `response` value (exported for tests and for checking received credentials). */
export function digestResponse(ch: DigestChallenge, creds: DigestCredentials, input: { method: string; uri: string; body?: string; cnonce: string; nc: string; qop: string | null }): string {
  const H = hasher(ch.algorithm);
  let ha1 = H(`${creds.username}:${ch.realm}:${creds.password}`);
  if (ch.algorithm.endsWith('-SESS')) ha1 = H(`${ha1}:${ch.nonce}:${input.cnonce}`);
  const ha2 = input.qop === 'auth-int' ? H(`${input.method}:${input.uri}:${H(input.body ?? '')}`) : H(`${input.method}:${input.uri}`);
  return input.qop ? H(`${ha1}:${ch.nonce}:${input.nc}:${input.cnonce}:${input.qop}:${ha2}`) : H(`${ha1}:${ch.nonce}:${ha2}`);
}

/** The Authorization / Proxy-Authorization header value answering `ch`. */
export function authorization(ch: DigestChallenge, creds: DigestCredentials, input: DigestInput): string {
  const qop = ch.qop.includes('auth') ? 'auth' : ch.qop.includes('auth-int') ? 'auth-int' : null;
  const cnonce = input.cnonce ?? randomBytes(8).toString('hex');
  const nc = (input.nc ?? 1).toString(16).padStart(8, '0');
  const response = digestResponse(ch, creds, { method: input.method, uri: input.uri, body: input.body, cnonce, nc, qop });
  const q = (s: string) => `"${s.replace(/(["\\])/g, '\\$1')}"`;
  const parts = [
    `username=${q(creds.username)}`,
    `realm=${q(ch.realm)}`,
    `nonce=${q(ch.nonce)}`,
    `uri=${q(input.uri)}`,
    `response=${q(response)}`,
    `algorithm=${ch.algorithm === 'MD5-SESS' ? 'MD5-sess' : ch.algorithm === 'SHA-256-SESS' ? 'SHA-256-sess' : ch.algorithm}`,
  ];
  if (ch.opaque !== null) parts.push(`opaque=${q(ch.opaque)}`);
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce=${q(cnonce)}`);
  return `Digest ${parts.join(', ')}`;
}

/** Picks the first challenge we can answer among all the response's challenge headers. */
export function pickChallenge(values: string[]): DigestChallenge | null {
  for (const v of values) {
    try {
      const ch = parseChallenge(v);
      if (ch) return ch;
    } catch {
      // A malformed challenge is skipped; another may be usable.
    }
  }
  return null;
}
