// Reference adapter for a generic HTTP interpreter service. Every call is one POST of JSON to
// INTERPRETER_SERVICE_URL, signed like the SMS webhook (X-Televisit-Timestamp and
// X-Televisit-Signature: v1=hex(HMAC-SHA256(secret, timestamp + "." + body))):
//   {type:"request", reference, appointmentId, language, mode, callbackUrl, joinLink}
//       → 2xx {requestId, status?, dial?: {to, digits?}}
//   {type:"cancel", requestId} → 2xx
//   {type:"status", requestId} → 2xx {requestId, status, interpreterName?, dial?, message?}
// The service reports to callbackUrl (PUBLIC_URL/api/interpreter-service/callback) with a body of
// the same shape as the status answer, signed the same way with the same secret.
import type { InterpreterServiceConfig } from '../../config.js';
import { verifyWebhookSignature, webhookSignature } from '../../notify/providers/webhook.js';
import { InterpreterServiceError, parseState, type InterpreterRequestInput, type InterpreterService, type InterpreterState } from './interpreter-service.js';

const header = (h: Record<string, string | string[] | undefined>, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

export class HttpInterpreterService implements InterpreterService {
  readonly name = 'http';

  constructor(
    private readonly config: InterpreterServiceConfig,
    private readonly now: () => number,
  ) {}

  async request(input: InterpreterRequestInput): Promise<{ requestId: string; status?: InterpreterState['status']; dial?: InterpreterState['dial'] }> {
    const answer = await this.post({
      type: 'request',
      reference: input.reference ?? null,
      appointmentId: input.appointmentId,
      language: input.language,
      mode: input.mode,
      callbackUrl: input.callback,
      joinLink: input.joinLink ?? null,
    });
    const state = parseState({ status: 'requested', ...(answer as object) });
    if (!state) throw new InterpreterServiceError('the interpreter service answered without a requestId');
    return { requestId: state.requestId, status: state.status, dial: state.dial ?? null };
  }

  async cancel(requestId: string): Promise<void> {
    await this.post({ type: 'cancel', requestId });
  }

  async status(requestId: string): Promise<InterpreterState> {
    const state = parseState(await this.post({ type: 'status', requestId }));
    if (!state) throw new InterpreterServiceError('the interpreter service answered an unreadable status');
    return state;
  }

  verifyCallback(headers: Record<string, string | string[] | undefined>, rawBody: string): InterpreterState | null {
    if (!verifyWebhookSignature(this.config.secret, header(headers, 'x-televisit-timestamp'), header(headers, 'x-televisit-signature'), rawBody, this.now())) return null;
    try {
      return parseState(JSON.parse(rawBody));
    } catch {
      return null;
    }
  }

  private async post(payload: Record<string, unknown>): Promise<unknown> {
    const body = JSON.stringify(payload);
    const timestamp = String(Math.floor(this.now() / 1000));
    let res: Response;
    try {
      res = await fetch(this.config.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'Televisit-Interpreters/1',
          'X-Televisit-Timestamp': timestamp,
          'X-Televisit-Signature': webhookSignature(this.config.secret, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(this.config.timeoutMs),
        redirect: 'manual',
      });
    } catch (err) {
      throw new InterpreterServiceError(`the interpreter service could not be reached (${(err as Error).name})`);
    }
    const text = await res.text().catch(() => '');
    if (res.status < 200 || res.status >= 300) throw new InterpreterServiceError(`the interpreter service answered HTTP ${res.status}`, res.status);
    if (!text) return {};
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new InterpreterServiceError('the interpreter service answered something other than JSON', res.status);
    }
  }
}
