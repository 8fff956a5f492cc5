// Stand-ins for the outside world of SMS: an HTTP server that answers like api.twilio.com's
// Messages resource, and an SMS gateway that receives the webhook provider's signed POSTs and
// checks each signature itself (HMAC computed here, not with our code).
import http from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface TwilioRequest {
  method: string;
  path: string;
  authorization: string;
  params: Record<string, string>;
}

export interface FakeTwilio {
  url: string;
  requests: TwilioRequest[];
  /** Decides the answer to each Messages.json POST; default: 201 like Twilio. */
  answer: (req: TwilioRequest, n: number) => { status: number; body: unknown };
  close(): Promise<void>;
}

export function twilioMessage(req: TwilioRequest, accountSid: string) {
  return {
    sid: 'SM' + randomBytes(16).toString('hex'),
    account_sid: accountSid,
    to: req.params.To,
    from: req.params.From ?? null,
    messaging_service_sid: req.params.MessagingServiceSid ?? null,
    body: req.params.Body,
    status: 'queued',
    num_segments: '1',
    direction: 'outbound-api',
    api_version: '2010-04-01',
    price: null,
    error_code: null,
    error_message: null,
    date_created: new Date().toUTCString(),
    date_updated: new Date().toUTCString(),
    date_sent: null,
    uri: `/2010-04-01/Accounts/${accountSid}/Messages/x.json`,
  };
}

export async function startFakeTwilio(accountSid: string): Promise<FakeTwilio> {
  const fake: FakeTwilio = {
    url: '',
    requests: [],
    answer: (req) => ({ status: 201, body: twilioMessage(req, accountSid) }),
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const r: TwilioRequest = {
        method: req.method ?? '',
        path: (req.url ?? '').split('?')[0]!,
        authorization: String(req.headers.authorization ?? ''),
        params: Object.fromEntries(new URLSearchParams(body)),
      };
      fake.requests.push(r);
      const { status, body: answer } = fake.answer(r, fake.requests.length);
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return fake;
}

export interface GatewayRequest {
  timestamp: string;
  signature: string;
  signatureValid: boolean;
  raw: string;
  json: { id: string; to: string; from: string; body: string; statusCallbackUrl: string };
}

export interface FakeGateway {
  url: string;
  /** Every POST, answered or not. */
  requests: GatewayRequest[];
  /** The ones answered 2xx. */
  accepted: GatewayRequest[];
  status: number;
  close(): Promise<void>;
}

export const hmacHex = (secret: string, data: string) => createHmac('sha256', secret).update(data).digest('hex');

export async function startFakeGateway(secret: string): Promise<FakeGateway> {
  const gw: FakeGateway = { url: '', requests: [], accepted: [], status: 200, close: async () => {} };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const timestamp = String(req.headers['x-televisit-timestamp'] ?? '');
      const signature = String(req.headers['x-televisit-signature'] ?? '');
      const r: GatewayRequest = {
        timestamp,
        signature,
        signatureValid: signature === 'v1=' + hmacHex(secret, `${timestamp}.${raw}`),
        raw,
        json: JSON.parse(raw),
      };
      gw.requests.push(r);
      if (gw.status >= 200 && gw.status < 300) gw.accepted.push(r);
      res.writeHead(gw.status, { 'Content-Type': 'application/json' });
      res.end(gw.status < 300 ? JSON.stringify({ providerMessageId: 'gw-' + gw.accepted.length, status: 'sent' }) : '{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  gw.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/send`;
  gw.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return gw;
}

/** A POST with the webhook signature headers, signed here with node:crypto. */
export async function postSigned(url: string, secret: string, body: unknown, opts: { timestamp?: number; signature?: string | null } = {}) {
  const raw = JSON.stringify(body);
  const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'X-Televisit-Timestamp': ts };
  if (opts.signature !== null) headers['X-Televisit-Signature'] = opts.signature ?? 'v1=' + hmacHex(secret, `${ts}.${raw}`);
  return fetch(url, { method: 'POST', headers, body: raw });
}
