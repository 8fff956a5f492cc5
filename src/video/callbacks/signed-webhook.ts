// Sends one Twilio-style webhook: form parameters (POST body or GET query), signed with
// X-Twilio-Signature, no redirects followed. Shared by room status callbacks and phone-call
// status callbacks; a non-2xx answer or a timeout throws so the caller's job is retried.
import { twilioSignature } from './signature.js';

export interface SignedWebhook {
  url: string;
  method: 'GET' | 'POST';
  params: Record<string, string>;
}

export async function sendSignedWebhook(hook: SignedWebhook, authToken: string, timeoutMs: number): Promise<{ status: number; ms: number }> {
  let url = hook.url;
  let body: string | undefined;
  let signature: string;
  if (hook.method === 'GET') {
    const u = new URL(hook.url);
    for (const [k, v] of Object.entries(hook.params)) u.searchParams.append(k, v);
    url = u.toString();
    signature = twilioSignature(authToken, url, {});
  } else {
    body = new URLSearchParams(hook.params).toString();
    signature = twilioSignature(authToken, url, hook.params);
  }
  const started = Date.now();
  const res = await fetch(url, {
    method: hook.method,
    headers: {
      'X-Twilio-Signature': signature,
      'User-Agent': 'TwilioProxy/1.1 (Televisit)',
      ...(body !== undefined ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
    },
    body,
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'manual',
  });
  await res.arrayBuffer().catch(() => undefined);
  return { status: res.status, ms: Date.now() - started };
}

export function assertDelivered(status: number): void {
  if (status < 200 || status >= 300) throw new Error(`receiver answered HTTP ${status}`);
}
