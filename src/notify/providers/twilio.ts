// Twilio Programmable Messaging through the real `twilio` client. Twilio reports progress to
// POST /sms/status (signed with the messaging account's auth token).
import type { Twilio } from 'twilio';
import type { SmsConfig } from '../../config.js';
import { SmsPermanentError, fromTwilioStatus, type OutgoingSms, type SmsProvider, type SmsSendResult } from '../sms-provider.js';
import { maskPhonesIn } from '../phone.js';

/** Error codes that retrying the same request cannot fix. */
const PERMANENT_CODES = new Set([
  21211, // invalid 'To' number
  21408, // permission to send to this region not enabled
  21610, // recipient replied STOP (unsubscribed)
  21612, // 'To' number not reachable from this 'From'
  21614, // 'To' is not a mobile number
  21617, // body too long
  21602, // body required
]);
/** HTTP statuses worth retrying: rate limits, server trouble, and configuration an operator can fix. */
const RETRY_HTTP = new Set([401, 403, 404, 408, 409, 429]);

type TwilioConfig = NonNullable<SmsConfig['twilio']>;

export class TwilioSmsProvider implements SmsProvider {
  readonly name = 'twilio' as const;
  private client: Twilio | null = null;

  constructor(
    private readonly config: TwilioConfig,
    private readonly timeoutMs: number,
  ) {}

  private async getClient(): Promise<Twilio> {
    if (this.client) return this.client;
    // Loaded on first use, so deployments on another provider do not need the package.
    const { default: twilio } = await import('twilio');
    const client = twilio(this.config.accountSid, this.config.authToken, { timeout: this.timeoutMs, env: {} });
    if (this.config.apiBase) client.api.baseUrl = this.config.apiBase;
    this.client = client;
    return client;
  }

  async send(msg: OutgoingSms): Promise<SmsSendResult> {
    const client = await this.getClient();
    try {
      const created = await client.messages.create({
        to: msg.to,
        body: msg.body,
        statusCallback: msg.statusCallbackUrl,
        ...(this.config.messagingServiceSid ? { messagingServiceSid: this.config.messagingServiceSid } : { from: this.config.from! }),
      });
      return { providerMessageId: created.sid, status: fromTwilioStatus(created.status) };
    } catch (err) {
      throw classifyTwilioError(err);
    }
  }
}

/** A RestException from the client becomes permanent or retryable; its text may quote numbers. */
export function classifyTwilioError(err: unknown): Error {
  const e = err as { status?: unknown; code?: unknown; message?: unknown };
  if (typeof e?.status !== 'number') return err instanceof Error ? err : new Error(String(err));
  const status = e.status;
  const code = typeof e.code === 'number' ? e.code : Number(e.code) || null;
  const text = `Twilio HTTP ${status}${code ? ` error ${code}` : ''}: ${maskPhonesIn(String(e.message ?? '')).slice(0, 200)}`;
  if (code !== null && PERMANENT_CODES.has(code)) return new SmsPermanentError(text, code, code === 21610);
  if (status >= 400 && status < 500 && !RETRY_HTTP.has(status)) return new SmsPermanentError(text, code);
  return new Error(text);
}
