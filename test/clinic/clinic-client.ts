// A small cookie-keeping HTTP client for the clinic API (global fetch), with staff sign-in
// (password, TOTP enrollment and codes) and the patient's link steps; plus helpers to book
// appointments, read patient links from the development outbox, and listen on /api/events.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { TestServer } from '../helpers/server.js';
import { checkTotp, currentTotp } from '../../src/clinic/staff/totp.js';

export interface Res<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
  setCookies: string[];
}

export class HttpClient {
  readonly cookies = new Map<string, string>();

  constructor(readonly server: TestServer) {}

  get base(): string {
    return this.server.url;
  }

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** JSON in, JSON out. A POST without `body` sends no body and no content type. */
  async req<T = any>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<Res<T>> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (this.cookies.size > 0) headers.cookie = this.cookieHeader();
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.base + path, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
    const setCookies = res.headers.getSetCookie();
    for (const line of setCookies) this.keepCookie(line);
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T, text, headers: res.headers, setCookies };
  }

  get<T = any>(path: string): Promise<Res<T>> {
    return this.req<T>('GET', path);
  }

  post<T = any>(path: string, body?: unknown): Promise<Res<T>> {
    return this.req<T>('POST', path, body);
  }

  patch<T = any>(path: string, body: unknown): Promise<Res<T>> {
    return this.req<T>('PATCH', path, body);
  }

  private keepCookie(line: string): void {
    const [pair, ...attrs] = line.split(';').map((s) => s.trim());
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq);
    const value = pair!.slice(eq + 1);
    const expired = attrs.some((a) => /^max-age=0$/i.test(a) || (/^expires=/i.test(a) && Date.parse(a.slice(8)) < Date.now()));
    if (!value || expired) this.cookies.delete(name);
    else this.cookies.set(name, value);
  }
}

/** TOTP secrets of admins enrolled by these helpers, per server and email. */
const totpSecrets = new Map<string, string>();
const secretKey = (server: TestServer, email: string) => `${server.url}|${email.toLowerCase()}`;

export function totpSecretOf(server: TestServer, email: string): string | undefined {
  return totpSecrets.get(secretKey(server, email));
}

/** A six-digit code that is not valid around `nowMs` for this secret. */
export function wrongTotp(secret: string, nowMs: number): string {
  for (let i = 1; ; i++) {
    const code = String((Number(currentTotp(secret, nowMs)) + 500_000 + i * 7919) % 1_000_000).padStart(6, '0');
    if (![-60_000, 0, 60_000].some((d) => checkTotp(secret, code, nowMs + d))) return code;
  }
}

export class StaffClient extends HttpClient {
  get session(): string | undefined {
    return this.cookies.get('tv_staff');
  }

  login(email: string, password: string): Promise<Res> {
    return this.post('/api/auth/login', { email, password });
  }

  /** Signs in completely: enrolls TOTP on an admin's first login, types the code afterwards. */
  async signIn(email: string, password: string): Promise<this> {
    const res = await this.login(email, password);
    assert.equal(res.status, 200, `login ${email}: ${res.text}`);
    const now = () => this.server.clock.now();
    if (res.body.stage === 'enroll') {
      const enroll = await this.post<{ secret: string; uri: string }>('/api/auth/totp/enroll');
      assert.equal(enroll.status, 200, enroll.text);
      totpSecrets.set(secretKey(this.server, email), enroll.body.secret);
      const confirm = await this.post('/api/auth/totp/confirm', { code: currentTotp(enroll.body.secret, now()) });
      assert.equal(confirm.status, 200, confirm.text);
    } else if (res.body.stage === 'totp') {
      const secret = totpSecretOf(this.server, email);
      assert.ok(secret, `no TOTP secret known for ${email}`);
      // A code works once: move to the next 30-second step so an earlier sign-in's code is not reused.
      this.server.clock.advance(30_000);
      const code = await this.post('/api/auth/totp', { code: currentTotp(secret, now()) });
      assert.equal(code.status, 200, code.text);
    } else {
      assert.equal(res.body.stage, 'active');
    }
    return this;
  }
}

export async function staffClient(server: TestServer, email: string, password: string): Promise<StaffClient> {
  return new StaffClient(server).signIn(email, password);
}

export class PatientClient extends HttpClient {
  get session(): string | undefined {
    return this.cookies.get('tv_patient');
  }

  open(token: string): Promise<Res> {
    return this.post('/api/patient/open', { token });
  }

  verify(token: string, dob: string): Promise<Res> {
    return this.post('/api/patient/verify', { token, dob });
  }
}

/** Opens the link and checks the date of birth; fails the test if either step fails. */
export async function patientClient(server: TestServer, token: string, dob: string): Promise<PatientClient> {
  const p = new PatientClient(server);
  const opened = await p.open(token);
  assert.equal(opened.status, 200, opened.text);
  const verified = await p.verify(token, dob);
  assert.equal(verified.status, 200, verified.text);
  assert.ok(p.session);
  return p;
}

// ---------- outbox ----------

export interface OutboxMessage {
  id: string;
  appointmentId: string | null;
  kind: string;
  to: string;
  body: string;
  status: string;
  createdAt: string;
}

export async function outbox(server: TestServer): Promise<OutboxMessage[]> {
  const res = await fetch(`${server.url}/dev/outbox.json`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { messages: OutboxMessage[] }).messages;
}

/** This appointment's messages, oldest first (optionally of one kind). */
export async function messagesFor(server: TestServer, appointmentId: string, kind?: string): Promise<OutboxMessage[]> {
  const all = (await outbox(server)).filter((m) => m.appointmentId === appointmentId && (!kind || m.kind === kind));
  return all.reverse();
}

export const LINK_IN_BODY = /\/v\/([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])/;

export function tokenIn(body: string): string {
  const m = LINK_IN_BODY.exec(body);
  assert.ok(m, `no patient link in: ${body}`);
  return m[1]!;
}

/** The link token of the newest message of this appointment that carries one. */
export async function linkToken(server: TestServer, appointmentId: string, kind?: string): Promise<string> {
  const withLink = (await messagesFor(server, appointmentId, kind)).filter((m) => LINK_IN_BODY.test(m.body));
  assert.ok(withLink.length > 0, `no link sent for ${appointmentId}`);
  return tokenIn(withLink[withLink.length - 1]!.body);
}

// ---------- appointments ----------

export interface Booked {
  id: string;
  patientName: string;
  patientPhone: string;
  patientDob: string;
  reason: string;
  providerId: string;
  view: any;
}

let counter = 0;

export function newPatient() {
  counter++;
  const tag = randomBytes(3).toString('hex');
  return {
    patientName: `Quenby Ostrander-${tag}`,
    // NANP fictional-style numbers, unique per test run.
    patientPhone: `+1555${String(1_000_000 + ((parseInt(tag, 16) + counter) % 9_000_000)).slice(0, 7)}`,
    patientDob: `19${50 + (counter % 45)}-0${1 + (counter % 9)}-1${counter % 10}`,
    reason: `Recurring migraine ${tag}`,
  };
}

export async function book(staff: StaffClient, providerId: string, overrides: Record<string, unknown> = {}): Promise<Booked> {
  const p = newPatient();
  const input = {
    providerId,
    ...p,
    language: 'en',
    interpreterNeeded: false,
    startsAt: new Date(staff.server.clock.now() + 2 * 3600_000).toISOString(),
    durationMinutes: 30,
    copayCents: 2500,
    ...overrides,
  };
  const res = await staff.post('/api/appointments', input);
  assert.equal(res.status, 201, res.text);
  return {
    id: res.body.id,
    patientName: input.patientName as string,
    patientPhone: input.patientPhone as string,
    patientDob: input.patientDob as string,
    reason: input.reason as string,
    providerId,
    view: res.body,
  };
}

// ---------- live events ----------

/**
 * A patient ready in the waiting room, through the API: booked with the provider five minutes
 * from now, link opened, date of birth verified, intake answered, consent given, checked in.
 */
export async function checkedInPatient(server: TestServer, staff: StaffClient, providerId: string, overrides: Record<string, unknown> & { reason?: string } = {}): Promise<{ visit: Booked; token: string; patient: PatientClient }> {
  const { reason = 'Knee pain follow-up', ...rest } = overrides;
  const visit = await book(staff, providerId, { startsAt: new Date(server.clock.now() + 5 * 60_000).toISOString(), copayCents: 0, ...rest });
  const token = await linkToken(server, visit.id);
  const patient = await patientClient(server, token, visit.patientDob);
  const ok = async (what: string, res: Promise<Res>) => {
    const r = await res;
    if (r.status !== 200) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  };
  await ok('intake', patient.post('/api/patient/intake', { answers: { reason } }));
  const consent = (await ok('me', patient.get('/api/patient/me'))).body.consent.version as string;
  await ok('consent', patient.post('/api/patient/consent', { version: consent }));
  await ok('check-in', patient.post('/api/patient/check-in'));
  return { visit, token, patient };
}

export interface EventSocket {
  messages: any[];
  /** Resolves with the first message (received so far or later) matching `match`. */
  next(match: (m: any) => boolean, what?: string, timeoutMs?: number): Promise<any>;
  closed: Promise<{ code: number }>;
  close(): void;
}

export async function eventSocket(client: HttpClient, as: 'staff' | 'patient' = 'staff'): Promise<EventSocket> {
  const url = client.base.replace(/^http/, 'ws') + '/api/events' + (as === 'patient' ? '?as=patient' : '');
  const ws = new WebSocket(url, { headers: { cookie: client.cookieHeader() } });
  const messages: any[] = [];
  const waiters: Array<{ match: (m: any) => boolean; resolve: (m: any) => void }> = [];
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.match(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const closed = new Promise<{ code: number }>((resolve) => ws.on('close', (code) => resolve({ code })));
  ws.on('error', () => undefined);
  const socket: EventSocket = {
    messages,
    next(match, what = 'an event', timeoutMs = 5000) {
      const seen = messages.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(messages)}`)), timeoutMs);
        waiters.push({
          match,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
    closed,
    close: () => ws.close(),
  };
  const ready = await new Promise<{ type: string; code?: number }>((resolve) => {
    waiters.push({ match: (m) => m.type === 'ready', resolve });
    void closed.then((c) => resolve({ type: 'closed', code: c.code }));
  });
  if (ready.type !== 'ready') throw Object.assign(new Error(`socket closed with ${ready.code}`), { code: ready.code });
  return socket;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Decodes a JWT's payload without checking it. */
export function jwtPayload(token: string): any {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
