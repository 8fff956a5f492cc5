// SIP messages (RFC 3261 section 7): a parser for datagrams from the network and a serializer.
// The parser is strict about what the UA relies on (start line, Via, From, To, Call-ID, CSeq,
// Content-Length) and throws SipParseError for anything else it cannot make sense of; the
// transport drops such datagrams with a log line. Header values are kept as text and parsed on
// demand by the helpers below.

export class SipParseError extends Error {}

/** Compact header forms (RFC 3261 section 7.3.3 and later RFCs). */
const COMPACT: Record<string, string> = {
  v: 'via',
  f: 'from',
  t: 'to',
  i: 'call-id',
  m: 'contact',
  l: 'content-length',
  c: 'content-type',
  k: 'supported',
  s: 'subject',
  e: 'content-encoding',
  o: 'event',
  r: 'refer-to',
  b: 'referred-by',
  u: 'allow-events',
  x: 'session-expires',
};

/** Headers whose comma-separated values are separate entries (others, like auth, keep commas). */
const LIST_HEADERS = new Set(['via', 'route', 'record-route', 'contact', 'allow', 'supported', 'require']);

/** Canonical spelling used when serializing. */
const CANONICAL: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
};

export function canonicalName(lower: string): string {
  return CANONICAL[lower] ?? lower.replace(/(^|-)([a-z])/g, (_, dash: string, ch: string) => dash + ch.toUpperCase());
}

const MAX_MESSAGE_BYTES = 65_535;
const MAX_HEADERS = 200;
const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;

export class SipHeaders {
  /** Lower-case name and value, in message order. */
  readonly list: Array<[string, string]> = [];

  get(name: string): string | undefined {
    const n = name.toLowerCase();
    return this.list.find(([k]) => k === n)?.[1];
  }

  getAll(name: string): string[] {
    const n = name.toLowerCase();
    return this.list.filter(([k]) => k === n).map(([, v]) => v);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  add(name: string, value: string): this {
    checkHeaderValue(name, value);
    this.list.push([name.toLowerCase(), value]);
    return this;
  }

  set(name: string, value: string): this {
    this.remove(name);
    return this.add(name, value);
  }

  remove(name: string): this {
    const n = name.toLowerCase();
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i]![0] === n) this.list.splice(i, 1);
    return this;
  }
}

/** Values we put into headers never carry line breaks (header injection from dial input). */
function checkHeaderValue(name: string, value: string): void {
  if (!TOKEN.test(name)) throw new SipParseError(`bad header name ${JSON.stringify(name)}`);
  if (/[\r\n\0]/.test(value)) throw new SipParseError(`line break in ${name} header`);
}

interface Common {
  headers: SipHeaders;
  body: string;
}

export interface SipRequest extends Common {
  kind: 'request';
  method: string;
  uri: string;
}

export interface SipResponse extends Common {
  kind: 'response';
  status: number;
  reason: string;
}

export type SipMessage = SipRequest | SipResponse;

export function request(method: string, uri: string, headers: Array<[string, string]> = [], body = ''): SipRequest {
  const h = new SipHeaders();
  for (const [k, v] of headers) h.add(k, v);
  return { kind: 'request', method, uri, headers: h, body };
}

/** Splits a header value at commas outside quotes and angle brackets. */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let angle = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (quoted) {
      cur += ch;
      if (ch === '\\' && i + 1 < value.length) cur += value[++i];
      else if (ch === '"') quoted = false;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === '<') angle++;
    else if (ch === '>') angle = Math.max(0, angle - 1);
    if (ch === ',' && angle === 0) {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (quoted) throw new SipParseError('unterminated quoted string');
  if (cur.trim()) out.push(cur.trim());
  return out;
}

export function parseMessage(data: Buffer | string): SipMessage {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (buf.length === 0) throw new SipParseError('empty datagram');
  if (buf.length > MAX_MESSAGE_BYTES) throw new SipParseError('datagram too large');
  // latin1 maps bytes 1:1 to characters, so string indices are byte offsets.
  const text = buf.toString('latin1');
  // Keep-alives (CRLF pings, RFC 5626) are not messages.
  if (/^[\r\n]*$/.test(text)) throw new SipParseError('keep-alive');
  const start = /^[\r\n]*/.exec(text)![0].length;
  let split = text.indexOf('\r\n\r\n', start);
  let sepLen = 4;
  if (split < 0) {
    split = text.indexOf('\n\n', start);
    sepLen = 2;
  }
  if (split < 0) throw new SipParseError('no end of headers');
  const head = Buffer.from(text.slice(start, split), 'latin1').toString('utf8');
  const rawBody = buf.subarray(split + sepLen);
  const lines = head.split(/\r?\n/);
  const startLine = lines.shift()!;
  const headers = new SipHeaders();
  let last: [string, string] | null = null;
  for (const line of lines) {
    if (line === '') continue;
    if (/^[ \t]/.test(line)) {
      if (!last) throw new SipParseError('continuation line before any header');
      last[1] = `${last[1]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new SipParseError('header line without a name');
    let name = line.slice(0, colon).trim().toLowerCase();
    if (!TOKEN.test(name)) throw new SipParseError('bad header name');
    name = COMPACT[name] ?? name;
    const value = line.slice(colon + 1).trim();
    if (/[\0]/.test(value)) throw new SipParseError('NUL in header');
    last = [name, value];
    headers.list.push(last);
    if (headers.list.length > MAX_HEADERS) throw new SipParseError('too many headers');
  }
  // Expand comma-separated lists into one entry each.
  const expanded: Array<[string, string]> = [];
  for (const [name, value] of headers.list) {
    if (LIST_HEADERS.has(name) && value.includes(',')) {
      // A Contact of `*` or a display name with a comma inside quotes stays intact.
      for (const part of splitList(value)) expanded.push([name, part]);
    } else expanded.push([name, value]);
  }
  headers.list.splice(0, headers.list.length, ...expanded);

  let body = rawBody;
  const cl = headers.get('content-length');
  if (cl !== undefined) {
    if (!/^\d{1,6}$/.test(cl)) throw new SipParseError('bad Content-Length');
    const n = Number(cl);
    if (n > body.length) throw new SipParseError('body shorter than Content-Length');
    body = body.subarray(0, n);
  }

  const common = { headers, body: body.toString('utf8') };
  let msg: SipMessage;
  const resp = /^SIP\/2\.0 (\d{3})(?: (.*))?$/.exec(startLine);
  if (resp) {
    const status = Number(resp[1]);
    if (status < 100 || status > 699) throw new SipParseError('status code out of range');
    msg = { kind: 'response', status, reason: resp[2] ?? '', ...common };
  } else {
    const req = /^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP\/2\.0$/.exec(startLine);
    if (!req) throw new SipParseError('bad start line');
    msg = { kind: 'request', method: req[1]!, uri: req[2]!, ...common };
  }
  validate(msg);
  return msg;
}

function validate(msg: SipMessage): void {
  const h = msg.headers;
  for (const name of ['via', 'from', 'to', 'call-id', 'cseq']) {
    if (!h.has(name)) throw new SipParseError(`missing ${canonicalName(name)}`);
  }
  const cseq = parseCSeq(h.get('cseq')!);
  if (msg.kind === 'request' && cseq.method !== msg.method) throw new SipParseError('CSeq method differs from request method');
  parseVia(h.get('via')!);
  parseNameAddr(h.get('from')!);
  parseNameAddr(h.get('to')!);
}

export function serialize(msg: SipMessage): Buffer {
  const body = Buffer.from(msg.body, 'utf8');
  const lines = [msg.kind === 'request' ? `${msg.method} ${msg.uri} SIP/2.0` : `SIP/2.0 ${msg.status} ${msg.reason}`];
  for (const [name, value] of msg.headers.list) {
    if (name === 'content-length') continue;
    lines.push(`${canonicalName(name)}: ${value}`);
  }
  lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8'), body]);
}

// --- header values -------------------------------------------------------------------------

export interface CSeq {
  seq: number;
  method: string;
}

export function parseCSeq(value: string): CSeq {
  const m = /^(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)$/.exec(value.trim());
  if (!m || Number(m[1]) > 2 ** 31 - 1) throw new SipParseError('bad CSeq');
  return { seq: Number(m[1]), method: m[2]! };
}

export interface Via {
  transport: string;
  host: string;
  port: number | null;
  params: Record<string, string | null>;
}

export function parseVia(value: string): Via {
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+(\[[0-9a-fA-F:.]+\]|[^\s;:]+)(?:\s*:\s*(\d{1,5}))?\s*(;.*)?$/.exec(value.trim());
  if (!m) throw new SipParseError('bad Via');
  return { transport: m[1]!.toUpperCase(), host: m[2]!, port: m[3] ? Number(m[3]) : null, params: parseParams(m[4] ?? '') };
}

/** `;a=b;c` → {a: 'b', c: null}; names lower-cased, quotes removed. */
export function parseParams(text: string): Record<string, string | null> {
  const params: Record<string, string | null> = {};
  for (const part of text.split(';')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq < 0) params[p.toLowerCase()] = null;
    else params[p.slice(0, eq).trim().toLowerCase()] = unquote(p.slice(eq + 1).trim());
  }
  return params;
}

export function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
}

export interface NameAddr {
  display: string | null;
  uri: string;
  params: Record<string, string | null>;
}

/** From, To, Contact, Route: `"Name" <sip:u@h;uparam>;tag=x` or `sip:u@h;tag=x`. */
export function parseNameAddr(value: string): NameAddr {
  const v = value.trim();
  const lt = v.indexOf('<');
  if (lt >= 0) {
    const gt = v.indexOf('>', lt);
    if (gt < 0) throw new SipParseError('unterminated <uri>');
    const display = v.slice(0, lt).trim();
    return { display: display ? unquote(display) : null, uri: v.slice(lt + 1, gt).trim(), params: parseParams(v.slice(gt + 1)) };
  }
  if (v === '*') return { display: null, uri: '*', params: {} };
  // addr-spec form: parameters after the URI belong to the header, not the URI.
  const semi = v.indexOf(';');
  const uri = semi < 0 ? v : v.slice(0, semi);
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$/.test(uri)) throw new SipParseError('bad URI in name-addr');
  return { display: null, uri, params: parseParams(semi < 0 ? '' : v.slice(semi)) };
}

export function tagOf(value: string): string | null {
  return parseNameAddr(value).params.tag ?? null;
}

export interface SipUri {
  scheme: 'sip' | 'sips';
  user: string | null;
  host: string;
  port: number | null;
  params: Record<string, string | null>;
}

export function parseSipUri(uri: string): SipUri {
  const m = /^(sips?):(?:([^@;?]+)@)?(\[[0-9a-fA-F:.]+\]|[^:;?>]+)(?::(\d{1,5}))?((?:;[^?]*)?)(?:\?.*)?$/i.exec(uri.trim());
  if (!m) throw new SipParseError(`bad SIP URI ${JSON.stringify(uri)}`);
  return {
    scheme: m[1]!.toLowerCase() as 'sip' | 'sips',
    user: m[2] ?? null,
    host: m[3]!,
    port: m[4] ? Number(m[4]) : null,
    params: parseParams(m[5] ?? ''),
  };
}

export function hostPort(host: string, port: number | null): string {
  return port === null ? host : `${host}:${port}`;
}

export function topVia(msg: SipMessage): Via {
  return parseVia(msg.headers.get('via')!);
}

export function cseqOf(msg: SipMessage): CSeq {
  return parseCSeq(msg.headers.get('cseq')!);
}
