// A local interpreter service speaking the generic HTTP protocol of
// src/clinic/interpreters/http-interpreter-service.ts (a node:http server on 127.0.0.1). It
// checks the signature of every call, and "sends an interpreter": for a video request it opens
// the guest link through the guest API (open → ready), so the interpreter waits to be let in;
// for a phone request it reports a number for Televisit to dial. It reports back signed.
import http from 'node:http';
import { verifyWebhookSignature, webhookSignature } from '../../src/notify/providers/webhook.js';

export interface FakeRequest {
  requestId: string;
  body: Record<string, any>;
  status: string;
  interpreterName: string;
  /** The guest session cookie the fake interpreter holds (video). */
  guestCookie: string | null;
  guestState: string | null;
}

export interface FakeInterpreterService {
  url: string;
  /** Every call received, in order, with whether its signature checked out. */
  calls: Array<{ type: string; body: Record<string, any>; signed: boolean }>;
  requests: Map<string, FakeRequest>;
  /** Sends a signed status report to the request's callback URL; returns the HTTP status. */
  report(requestId: string, state: Record<string, unknown>, opts?: { secret?: string; timestamp?: number }): Promise<number>;
  /** The next request is refused with this HTTP status. */
  refuseNext(status: number): void;
  close(): Promise<void>;
}

export async function startFakeInterpreterService(opts: { secret: string; dialNumber?: string; interpreterName?: string }): Promise<FakeInterpreterService> {
  const calls: FakeInterpreterService['calls'] = [];
  const requests = new Map<string, FakeRequest>();
  let refuse: number | null = null;
  let n = 0;
  // Closing the service stops its interpreters mid-way too (no request left hanging on the server).
  const stopped = new AbortController();
  const signal = stopped.signal;

  const report: FakeInterpreterService['report'] = async (requestId, state, o = {}) => {
    const r = requests.get(requestId)!;
    const body = JSON.stringify({ requestId, reference: r.body.reference, ...state });
    const ts = String(Math.floor((o.timestamp ?? Date.now()) / 1000));
    const res = await fetch(r.body.callbackUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-televisit-timestamp': ts, 'x-televisit-signature': webhookSignature(o.secret ?? opts.secret, ts, body) },
      body,
      signal,
    });
    await res.arrayBuffer();
    if (res.status < 300 && typeof state.status === 'string') r.status = state.status;
    return res.status;
  };

  /** The interpreter opens the link in "their browser": a guest session, then ready (→ waiting). */
  async function sendInterpreter(r: FakeRequest): Promise<void> {
    const link = new URL(r.body.joinLink as string);
    const token = link.pathname.split('/g/')[1]!;
    const opened = await fetch(`${link.origin}/api/guest/open`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }), signal });
    if (opened.status !== 200) throw new Error(`guest open answered ${opened.status}`);
    const cookie = opened.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('tv_guest='))!;
    r.guestCookie = cookie;
    const ready = await fetch(`${link.origin}/api/guest/ready`, { method: 'POST', headers: { cookie }, signal });
    if (ready.status !== 200) throw new Error(`guest ready answered ${ready.status}`);
    r.guestState = ((await ready.json()) as { state: string }).state;
  }

  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const ts = req.headers['x-televisit-timestamp'];
      const sig = req.headers['x-televisit-signature'];
      const signed = verifyWebhookSignature(opts.secret, typeof ts === 'string' ? ts : undefined, typeof sig === 'string' ? sig : undefined, raw, Date.now());
      let body: Record<string, any> = {};
      try {
        body = JSON.parse(raw) as Record<string, any>;
      } catch {
        // recorded as is
      }
      calls.push({ type: String(body.type), body, signed });
      const answer = (status: number, json?: unknown) => {
        res.statusCode = status;
        if (json !== undefined) res.setHeader('content-type', 'application/json');
        res.end(json !== undefined ? JSON.stringify(json) : undefined);
      };
      if (!signed) return answer(401, { error: 'bad signature' });
      if (body.type === 'request') {
        if (refuse !== null) {
          const status = refuse;
          refuse = null;
          return answer(status, { error: 'no interpreter available' });
        }
        const requestId = `FIS-${++n}`;
        const r: FakeRequest = { requestId, body, status: 'accepted', interpreterName: opts.interpreterName ?? 'Lucía Fernández', guestCookie: null, guestState: null };
        requests.set(requestId, r);
        answer(201, { requestId, status: 'accepted' });
        // An interpreter is on the way.
        setTimeout(() => {
          void (async () => {
            if (body.mode === 'video') {
              await report(requestId, { status: 'connecting', interpreterName: r.interpreterName });
              await sendInterpreter(r);
            } else {
              await report(requestId, { status: 'accepted', interpreterName: r.interpreterName, dial: { to: opts.dialNumber, digits: 'w1' } });
            }
          })().catch((err: unknown) => {
            if (!signal.aborted) console.error('fake interpreter service:', err);
          });
        }, 20);
        return;
      }
      const r = requests.get(String(body.requestId));
      if (!r) return answer(404, { error: 'unknown request' });
      if (body.type === 'cancel') {
        r.status = 'canceled';
        return answer(200, {});
      }
      if (body.type === 'status') return answer(200, { requestId: r.requestId, status: r.status, interpreterName: r.interpreterName });
      return answer(400, { error: 'unknown type' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/interpreters`,
    calls,
    requests,
    report,
    refuseNext: (status) => (refuse = status),
    close: () => {
      stopped.abort();
      return new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    },
  };
}
