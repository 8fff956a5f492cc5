// Any SMS gateway behind an HTTP endpoint: POST JSON {id, to, from, body, statusCallbackUrl},
// signed with a shared secret. The gateway reports back to POST /sms/webhook-status, signed the
// same way, with {id, status}. It may answer the send with JSON {providerMessageId?, status?}.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { SmsPermanentError, REPORTABLE_STATUSES, type OutgoingSms, type SmsProvider, type SmsSendResult, type SmsStatus } from '../sms-provider.js';

/** Signatures older or newer than this are rejected (replay protection). */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/** `v1=` + hex HMAC-SHA256(secret, timestamp + "." + rawBody). */
export function webhookSignature(secret: string, timestamp: string, rawBody: string): string {
  return 'v1=' + createHmac('sha256', secret).update(`${timestamp}.${rawBody}`, 'utf8').digest('hex');
}

/** Checks X-Televisit-Timestamp / X-Televisit-Signature over the raw body. */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | undefined,
  signature: string | undefined,
  rawBody: string,
  nowMs: number,
): boolean {
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > WEBHOOK_TOLERANCE_SECONDS) return false;
  const expected = Buffer.from(webhookSignature(secret, timestamp, rawBody));
  // A header may list several signatures (secret rotation): any one valid is enough.
  return signature.split(/[\s,]+/).some((candidate) => {
    const got = Buffer.from(candidate);
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

export class WebhookSmsProvider implements SmsProvider {
  readonly name = 'webhook' as const;

  constructor(
    private readonly config: { url: string; secret: string },
    private readonly timeoutMs: number,
    private readonly now: () => number,
  ) {}

  async send(msg: OutgoingSms): Promise<SmsSendResult> {
    const body = JSON.stringify({ id: msg.messageId, to: msg.to, from: msg.from, body: msg.body, statusCallbackUrl: msg.statusCallbackUrl });
    const timestamp = String(Math.floor(this.now() / 1000));
    const res = await fetch(this.config.url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'Televisit-SMS/1',
        'X-Televisit-Timestamp': timestamp,
        'X-Televisit-Signature': webhookSignature(this.config.secret, timestamp, body),
      },
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
      redirect: 'manual',
    });
    const text = await res.text().catch(() => '');
    if (res.status >= 200 && res.status < 300) {
      let answer: { providerMessageId?: unknown; status?: unknown } = {};
      try {
        answer = text ? (JSON.parse(text) as typeof answer) : {};
      } catch {
        // Any 2xx accepts the message; a body is optional.
      }
      const status = REPORTABLE_STATUSES.includes(answer?.status as SmsStatus) ? (answer.status as SmsStatus) : 'sending';
      const providerMessageId = typeof answer?.providerMessageId === 'string' ? answer.providerMessageId.slice(0, 200) : null;
      return { providerMessageId, status };
    }
    // 4xx means the gateway refuses this message. Retried: 5xx, timeouts, rate limits, and
    // 401/403/404, which mean a configuration an operator can fix (wrong secret or URL).
    if (res.status >= 400 && res.status < 500 && ![401, 403, 404, 408, 409, 429].includes(res.status)) {
      throw new SmsPermanentError(`SMS webhook answered HTTP ${res.status}`, res.status);
    }
    throw new Error(`SMS webhook answered HTTP ${res.status}`);
  }
}
