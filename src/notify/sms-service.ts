// Text messages to patients and staff. queue() stores the message and its delivery job in one
// transaction (the caller's, if given), so a message exists exactly when the change that caused
// it commits, and a restart loses nothing. The 'sms.deliver' job hands it to the provider, one
// phone number at a time in order; a retried caller passes a dedupe key and never creates a
// second message. Opted-out numbers (STOP) are never sent to.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Transaction } from 'kysely';
import type { Db } from '../store/database.js';
import type { Database, SmsMessagesTable } from '../store/schema.js';
import { PermanentJobError, type JobContext, type JobQueue, type QueueSettings } from '../jobs/job-queue.js';
import { iso, type Clock } from '../util/clock.js';
import { SmsPermanentError, statusRank, type SmsProvider, type SmsStatus } from './sms-provider.js';
import { isE164, maskPhone, maskPhonesIn, normalizePhone } from './phone.js';
import { redactLinks } from './redact.js';

export { normalizePhone, maskPhone, isE164, redactLinks };
export { SmsPermanentError, type SmsProvider, type SmsStatus };

export const SMS_DELIVER_QUEUE = 'sms.deliver';
export const MAX_SMS_BODY = 1600;

export interface QueueSmsInput {
  clinicId: string;
  appointmentId?: string | null;
  /** E.164 (use normalizePhone on what people type). */
  to: string;
  body: string;
  /** What the message is for, e.g. 'invite', 'reminder'. */
  kind: string;
  /** Idempotency key, unique per clinic: queueing again with it returns the first message. */
  dedupeKey?: string;
}

export interface SmsMessage {
  id: string;
  clinicId: string;
  appointmentId: string | null;
  kind: string;
  to: string;
  from: string;
  body: string;
  status: SmsStatus;
  provider: string;
  providerMessageId: string | null;
  error: string | null;
  dedupeKey: string | null;
  attempts: number;
  createdAt: string;
  updatedAt: string;
  sentAt: string | null;
}

export type InboundAction = 'opt-out' | 'opt-in' | 'help' | 'none';

/** A queue() argument that can never be sent. */
export class SmsValidationError extends Error {}

const STOP_WORDS = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'OPTOUT', 'REVOKE']);
const START_WORDS = new Set(['START', 'UNSTOP', 'YES']);
const HELP_WORDS = new Set(['HELP', 'INFO']);

export const INBOUND_REPLIES = {
  'opt-out': 'You are unsubscribed from Televisit messages and will receive no more. Reply START to resubscribe.',
  'opt-in': 'You are resubscribed to Televisit messages. Reply STOP to unsubscribe.',
  help: 'Televisit: appointment and video visit messages from your clinic. Reply STOP to unsubscribe. Msg & data rates may apply.',
} as const;

const backoffMs = (attempt: number): number => Math.min(1000 * 2 ** (attempt - 1), 10 * 60_000);

export interface SmsServiceOptions {
  /** Sender stored on every message (config.sms.from). */
  from: string;
  maxAgeHours: number;
  timeoutMs: number;
  /** Read on each use: tests set the public URL after listening. */
  publicUrl: () => string;
}

function toMessage(r: SmsMessagesTable): SmsMessage {
  return {
    id: r.id,
    clinicId: r.clinic_id,
    appointmentId: r.appointment_id,
    kind: r.kind,
    to: r.to_number,
    from: r.from_number,
    body: r.body,
    status: r.status,
    provider: r.provider,
    providerMessageId: r.provider_message_id,
    error: r.error,
    dedupeKey: r.dedupe_key,
    attempts: Number(r.attempts),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    sentAt: r.sent_at,
  };
}

/** Error text safe for logs and the error column: no phone numbers, no bodies. */
function errorText(err: unknown): string {
  if (!(err instanceof Error)) return maskPhonesIn(String(err)).slice(0, 300);
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  const detail = cause && typeof cause === 'object' ? ` (${String(cause.code ?? cause.message ?? '')})` : '';
  return maskPhonesIn(`${err.message}${detail}`).slice(0, 300);
}

export class SmsService {
  constructor(
    private readonly db: Db,
    private readonly jobs: JobQueue,
    private readonly clock: Clock,
    readonly provider: SmsProvider,
    private readonly options: SmsServiceOptions,
    private readonly log: Logger,
  ) {}

  /** The settings app.ts registers the 'sms.deliver' queue with. */
  queueSettings(): QueueSettings {
    return {
      handler: (payload: { id: string }, ctx) => this.deliver(payload, ctx),
      maxAgeMs: this.options.maxAgeHours * 3600_000,
      backoffMs,
      leaseMs: this.options.timeoutMs + 60_000,
      // The queue gave up (SMS_MAX_AGE_HOURS passed): the message must not stay 'queued'.
      onGiveUp: (payload: { id: string }, ctx, lastError) =>
        this.setIfQueued(payload.id, { status: 'failed', error: `gave up after ${ctx.attempts} attempts: ${lastError}` }),
    };
  }

  /**
   * Stores a message and its delivery job. Pass the surrounding transaction to commit both with
   * the change that causes them. A message to an opted-out number is stored as 'suppressed' and
   * never sent. With a dedupe key already used by this clinic, returns that message instead.
   */
  async queue(input: QueueSmsInput, trx?: Transaction<Database>): Promise<{ id: string; suppressed: boolean }> {
    const clinicId = String(input.clinicId ?? '');
    if (!clinicId || clinicId.length > 200) throw new SmsValidationError('clinicId is required');
    if (typeof input.to !== 'string' || !isE164(input.to)) throw new SmsValidationError('to must be an E.164 phone number like +15551234567');
    if (typeof input.body !== 'string' || input.body.trim() === '') throw new SmsValidationError('body is required');
    if (input.body.length > MAX_SMS_BODY) throw new SmsValidationError(`body is longer than ${MAX_SMS_BODY} characters`);
    if (typeof input.kind !== 'string' || !input.kind || input.kind.length > 64) throw new SmsValidationError('kind is required (at most 64 characters)');
    if (input.dedupeKey !== undefined && (typeof input.dedupeKey !== 'string' || !input.dedupeKey || input.dedupeKey.length > 200)) {
      throw new SmsValidationError('dedupeKey must be 1 to 200 characters');
    }
    const run = async (t: Transaction<Database>): Promise<{ id: string; suppressed: boolean }> => {
      const now = iso(this.clock.now());
      const suppressed = await this.isOptedOut(input.to, t);
      const id = 'SM' + randomBytes(16).toString('hex');
      const result = await t
        .insertInto('sms_messages')
        .values({
          id,
          clinic_id: clinicId,
          appointment_id: input.appointmentId ?? null,
          kind: input.kind,
          to_number: input.to,
          from_number: this.options.from,
          body: input.body,
          status: suppressed ? 'suppressed' : 'queued',
          provider: this.provider.name,
          provider_message_id: null,
          error: suppressed ? 'recipient has opted out' : null,
          dedupe_key: input.dedupeKey ?? null,
          attempts: 0,
          created_at: now,
          updated_at: now,
          sent_at: null,
        })
        .onConflict((oc) => oc.columns(['clinic_id', 'dedupe_key']).doNothing())
        .executeTakeFirst();
      if (Number(result.numInsertedOrUpdatedRows ?? 0) !== 1) {
        const existing = await t
          .selectFrom('sms_messages')
          .select(['id', 'status'])
          .where('clinic_id', '=', clinicId)
          .where('dedupe_key', '=', input.dedupeKey!)
          .executeTakeFirstOrThrow();
        return { id: existing.id, suppressed: existing.status === 'suppressed' };
      }
      if (!suppressed) await this.jobs.enqueue(SMS_DELIVER_QUEUE, `sms:${input.to}`, { id }, { trx: t });
      this.log.debug({ messageId: id, kind: input.kind, to: maskPhone(input.to), suppressed }, 'sms queued');
      return { id, suppressed };
    };
    return trx ? run(trx) : this.db.transaction().execute(run);
  }

  async get(id: string): Promise<SmsMessage | null> {
    const row = await this.db.selectFrom('sms_messages').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toMessage(row) : null;
  }

  async listForAppointment(appointmentId: string): Promise<SmsMessage[]> {
    const rows = await this.db
      .selectFrom('sms_messages')
      .selectAll()
      .where('appointment_id', '=', appointmentId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toMessage);
  }

  /** Newest first: the development outbox page. */
  async listOutbox(limit = 100): Promise<SmsMessage[]> {
    const n = Math.max(1, Math.min(500, Math.floor(limit)));
    const rows = await this.db
      .selectFrom('sms_messages')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(n)
      .execute();
    return rows.map(toMessage);
  }

  async isOptedOut(phone: string, trx?: Transaction<Database>): Promise<boolean> {
    const normalized = normalizePhone(phone);
    if (!normalized) return false;
    const row = await (trx ?? this.db).selectFrom('sms_opt_outs').select('phone').where('phone', '=', normalized).executeTakeFirst();
    return row !== undefined;
  }

  /** Records an opt-out (STOP); true if the number was not opted out before. */
  async optOut(phone: string): Promise<boolean> {
    const normalized = normalizePhone(phone);
    if (!normalized) throw new SmsValidationError('not a phone number');
    const result = await this.db
      .insertInto('sms_opt_outs')
      .values({ phone: normalized, created_at: iso(this.clock.now()) })
      .onConflict((oc) => oc.column('phone').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /** Removes an opt-out (START); true if the number was opted out. */
  async optIn(phone: string): Promise<boolean> {
    const normalized = normalizePhone(phone);
    if (!normalized) throw new SmsValidationError('not a phone number');
    const result = await this.db.deleteFrom('sms_opt_outs').where('phone', '=', normalized).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** An inbound text: STOP/START/HELP keywords (the whole message, any case) and the reply to send. */
  async handleInbound(from: string, body: string): Promise<{ action: InboundAction; reply: string | null }> {
    const word = String(body ?? '')
      .trim()
      .replace(/[.!]+$/, '')
      .toUpperCase();
    let action: InboundAction = 'none';
    if (STOP_WORDS.has(word)) action = 'opt-out';
    else if (START_WORDS.has(word)) action = 'opt-in';
    else if (HELP_WORDS.has(word)) action = 'help';
    if (action === 'none') return { action, reply: null };
    if (!normalizePhone(from)) return { action: 'none', reply: null };
    if (action === 'opt-out') await this.optOut(from);
    if (action === 'opt-in') await this.optIn(from);
    this.log.info({ from: maskPhone(from), action }, 'sms keyword received');
    return { action, reply: INBOUND_REPLIES[action] };
  }

  /** A provider's status report for our id (webhook provider). Returns false for an unknown id. */
  async recordStatus(id: string, status: SmsStatus, error: string | null = null): Promise<boolean> {
    const row = await this.db.selectFrom('sms_messages').select(['id', 'status']).where('id', '=', id).executeTakeFirst();
    if (!row) return false;
    await this.advance(row.id, status, error);
    return true;
  }

  /** A provider's status report for its own id (Twilio MessageSid). Returns false if unknown. */
  async recordProviderStatus(provider: string, providerMessageId: string, status: SmsStatus, error: string | null = null): Promise<boolean> {
    const row = await this.db
      .selectFrom('sms_messages')
      .select(['id'])
      .where('provider', '=', provider)
      .where('provider_message_id', '=', providerMessageId)
      .executeTakeFirst();
    if (!row) return false;
    await this.advance(row.id, status, error);
    return true;
  }

  /** Moves a message forward only: reports arrive out of order, and an older one changes nothing. */
  private async advance(id: string, status: SmsStatus, error: string | null, trx?: Transaction<Database>): Promise<void> {
    const earlier = (['queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed'] as SmsStatus[]).filter(
      (s) => statusRank(s) < statusRank(status),
    );
    if (earlier.length === 0) return;
    await (trx ?? this.db)
      .updateTable('sms_messages')
      .set({ status, updated_at: iso(this.clock.now()), ...(error ? { error: error.slice(0, 300) } : {}) })
      .where('id', '=', id)
      .where('status', 'in', earlier)
      .execute();
  }

  private async deliver(payload: { id: string }, ctx: JobContext): Promise<void> {
    const row = await this.db.selectFrom('sms_messages').selectAll().where('id', '=', payload.id).executeTakeFirst();
    // Already handed to the provider (a job run again after a crash), or suppressed: nothing to do.
    if (!row || row.status !== 'queued') return;
    const logFields = { messageId: row.id, kind: row.kind, to: maskPhone(row.to_number), provider: this.provider.name };
    if (await this.isOptedOut(row.to_number)) {
      await this.setIfQueued(row.id, { status: 'suppressed', error: 'recipient has opted out' });
      this.log.info(logFields, 'sms suppressed: recipient opted out');
      return;
    }
    await this.db
      .updateTable('sms_messages')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), provider: this.provider.name, updated_at: iso(this.clock.now()) }))
      .where('id', '=', row.id)
      .execute();
    const callbackPath = this.provider.name === 'twilio' ? '/sms/status' : this.provider.name === 'webhook' ? '/sms/webhook-status' : '';
    try {
      const result = await this.provider.send({
        to: row.to_number,
        from: row.from_number,
        body: row.body,
        messageId: row.id,
        statusCallbackUrl: callbackPath ? this.options.publicUrl() + callbackPath : '',
      });
      const now = iso(this.clock.now());
      // The provider's id and the status it reported land together: no reader sees one without the other.
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('sms_messages')
          .set({ provider_message_id: result.providerMessageId, sent_at: now, error: null, updated_at: now })
          .where('id', '=', row.id)
          .execute();
        // A status report may already have moved it further (a fast gateway); only ever forward.
        await this.advance(row.id, result.status, null, trx);
      });
      // The outbox provider logs its own line; one per message is enough.
      this.log[this.provider.name === 'outbox' ? 'debug' : 'info']({ ...logFields, status: result.status, attempt: ctx.attempts }, 'sms handed to provider');
    } catch (err) {
      const text = errorText(err);
      if (err instanceof SmsPermanentError) {
        if (err.optedOut) await this.optOut(row.to_number);
        await this.setIfQueued(row.id, { status: err.optedOut ? 'suppressed' : 'failed', error: text });
        this.log.warn({ ...logFields, code: err.code }, 'sms refused by provider; not retried');
        throw new PermanentJobError(text);
      }
      // Retried by the job queue; when it gives up, onGiveUp marks the message failed.
      await this.setIfQueued(row.id, { error: text });
      throw new Error(text);
    }
  }

  private async setIfQueued(id: string, set: { status?: SmsStatus; error: string }): Promise<void> {
    await this.db
      .updateTable('sms_messages')
      .set({ ...set, updated_at: iso(this.clock.now()) })
      .where('id', '=', id)
      .where('status', '=', 'queued')
      .execute();
  }
}
