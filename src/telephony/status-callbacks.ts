// Programmable Voice style call status callbacks: form parameters (CallSid, CallStatus,
// Timestamp, SequenceNumber, CallDuration...) POSTed (or GET) to the call's StatusCallback URL,
// signed with X-Twilio-Signature. Callbacks of one call go out one at a time, in order. Without
// a job queue they are delivered from memory with a few retries; with one (`queue`) they are
// stored and delivered by it (register `queueSettings()` under VOICE_STATUS_CALLBACK_QUEUE).
import type { Logger } from 'pino';
import { PermanentJobError, type JobQueue, type QueueSettings } from '../jobs/job-queue.js';
import { assertDelivered, sendSignedWebhook } from '../video/callbacks/signed-webhook.js';

export const VOICE_STATUS_CALLBACK_QUEUE = 'voice-status-callback';

export interface VoiceCallbackJob {
  callSid: string;
  accountSid: string;
  url: string;
  method: 'POST' | 'GET';
  params: Record<string, string>;
}

export interface StatusCallbackSenderOptions {
  /** The auth token that signs callbacks of an account; null = the account is gone (dropped). */
  authToken: (accountSid: string) => Promise<string | null | undefined> | string | null | undefined;
  log: Logger;
  timeoutMs?: number;
  /** In-memory delivery: attempts per callback (default 4) and the delay before retry n. */
  attempts?: number;
  backoffMs?: (attempt: number) => number;
  /** Durable, ordered delivery through the job queue. */
  queue?: JobQueue | null;
}

const defaultBackoff = (attempt: number) => Math.min(500 * 2 ** (attempt - 1), 30_000);

/** Twilio's Timestamp format for voice callbacks: `Tue, 21 Jul 2020 20:09:45 +0000`. */
export function callbackTimestamp(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

export class StatusCallbackSender {
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly options: StatusCallbackSenderOptions) {}

  /** Queues one callback behind the earlier ones of the same call. */
  send(job: VoiceCallbackJob): Promise<void> {
    const previous = this.chains.get(job.callSid) ?? Promise.resolve();
    const queue = this.options.queue;
    const next = previous.then(() => (queue ? queue.enqueue(VOICE_STATUS_CALLBACK_QUEUE, `call:${job.callSid}`, job) : this.deliverWithRetry(job)));
    const settled = next.catch((err: unknown) => {
      this.options.log.warn({ err, callSid: job.callSid }, 'call status callback not delivered');
    });
    this.chains.set(job.callSid, settled);
    void settled.then(() => {
      if (this.chains.get(job.callSid) === settled) this.chains.delete(job.callSid);
    });
    return settled;
  }

  /** Resolves once every callback handed to `send` so far is delivered (or given up). */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  queueSettings(maxAgeMs: number): QueueSettings {
    return {
      handler: (job: VoiceCallbackJob) => this.deliver(job),
      maxAgeMs,
      leaseMs: (this.options.timeoutMs ?? 10_000) + 60_000,
    };
  }

  private async deliverWithRetry(job: VoiceCallbackJob): Promise<void> {
    const attempts = this.options.attempts ?? 4;
    const backoff = this.options.backoffMs ?? defaultBackoff;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deliver(job);
        return;
      } catch (err) {
        if (err instanceof PermanentJobError || attempt >= attempts) throw err;
        await new Promise((r) => setTimeout(r, backoff(attempt)));
      }
    }
  }

  /** One attempt; throws on a non-2xx answer or a timeout. */
  async deliver(job: VoiceCallbackJob): Promise<void> {
    const authToken = await this.options.authToken(job.accountSid);
    if (!authToken) throw new PermanentJobError(`account ${job.accountSid} no longer exists`);
    const { status, ms } = await sendSignedWebhook(job, authToken, this.options.timeoutMs ?? 10_000);
    // The receiver's URL may carry its own secrets in the query: log only its origin.
    this.options.log.debug(
      { callSid: job.callSid, callStatus: job.params.CallStatus, status, ms, to: new URL(job.url).origin },
      'call status callback sent',
    );
    assertDelivered(status);
  }
}
