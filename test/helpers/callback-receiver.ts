// A local HTTP server that receives status callbacks and checks each signature with the real
// `twilio.validateRequest`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';

export interface ReceivedCallback {
  params: Record<string, string>;
  signatureValid: boolean;
  method: string;
}

export interface CallbackReceiver {
  url: string;
  received: ReceivedCallback[];
  /** Answer with this status (e.g. 500 to simulate a receiver that is down). */
  status: number;
  delayMs: number;
  close(): Promise<void>;
}

export async function startCallbackReceiver(authToken: string, pathName = '/status'): Promise<CallbackReceiver> {
  const receiver: CallbackReceiver = { url: '', received: [], status: 200, delayMs: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const full = receiver.url.replace(pathName, '') + req.url;
      const params = req.method === 'POST' ? Object.fromEntries(new URLSearchParams(body)) : {};
      const query = Object.fromEntries(new URL(full).searchParams);
      const signatureValid = twilio.validateRequest(authToken, String(req.headers['x-twilio-signature'] ?? ''), full, params);
      const answer = () => {
        if (receiver.status >= 200 && receiver.status < 300) {
          receiver.received.push({ params: req.method === 'POST' ? params : query, signatureValid, method: req.method ?? '' });
        }
        res.statusCode = receiver.status;
        res.end();
      };
      if (receiver.delayMs > 0) setTimeout(answer, receiver.delayMs);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${pathName}`;
  receiver.close = () => new Promise<void>((r) => server.close(() => r()));
  return receiver;
}
