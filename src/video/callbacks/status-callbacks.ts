// Room status callbacks as Twilio sends them: built inside the transaction that changes the
// room (so an event is recorded exactly when its change commits), numbered per room, and
// delivered in order by the durable job queue, signed with the account's auth token.
import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { Database, RoomsTable } from '../../store/schema.js';
import type { JobQueue } from '../../jobs/job-queue.js';
import { PermanentJobError } from '../../jobs/job-queue.js';
import type { CredentialsService } from '../credentials/credentials-service.js';
import { iso, type Clock } from '../../util/clock.js';
import { assertDelivered, sendSignedWebhook } from './signed-webhook.js';

export const STATUS_CALLBACK_QUEUE = 'video-status-callback';

export type RoomEventName =
  | 'room-created'
  | 'room-ended'
  | 'participant-connected'
  | 'participant-disconnected'
  | 'track-added'
  | 'track-removed'
  | 'track-enabled'
  | 'track-disabled';

interface CallbackJob {
  accountSid: string;
  url: string;
  method: 'POST' | 'GET';
  params: Record<string, string>;
}

export class StatusCallbacks {
  constructor(
    private readonly queue: JobQueue,
    private readonly clock: Clock,
  ) {}

  /** Records one event for a room inside the caller's transaction; no-op without a callback URL. */
  async record(
    trx: Transaction<Database>,
    room: Pick<RoomsTable, 'sid' | 'account_sid' | 'unique_name' | 'type' | 'status_callback' | 'status_callback_method'>,
    event: RoomEventName,
    roomStatus: string,
    extra: Record<string, string | number | undefined> = {},
  ): Promise<void> {
    if (!room.status_callback) return;
    const updated = await trx
      .updateTable('rooms')
      .set((eb) => ({ callback_sequence: eb('callback_sequence', '+', 1) }))
      .where('sid', '=', room.sid)
      .returning('callback_sequence')
      .executeTakeFirstOrThrow();
    const params: Record<string, string> = {
      AccountSid: room.account_sid,
      RoomName: room.unique_name,
      RoomSid: room.sid,
      RoomStatus: roomStatus,
      RoomType: room.type,
      StatusCallbackEvent: event,
      Timestamp: iso(this.clock.now()),
      SequenceNumber: String(updated.callback_sequence - 1),
    };
    for (const [k, v] of Object.entries(extra)) if (v !== undefined) params[k] = String(v);
    const job: CallbackJob = {
      accountSid: room.account_sid,
      url: room.status_callback,
      method: room.status_callback_method === 'GET' ? 'GET' : 'POST',
      params,
    };
    await this.queue.enqueue(STATUS_CALLBACK_QUEUE, `room:${room.sid}`, job, { trx });
  }
}

/** The job handler that sends one callback; a non-2xx answer or a timeout is retried. */
export function callbackDeliverer(credentials: CredentialsService, log: Logger, timeoutMs: number) {
  return async (job: CallbackJob): Promise<void> => {
    const authToken = await credentials.authToken(job.accountSid);
    if (!authToken) throw new PermanentJobError(`account ${job.accountSid} no longer exists`);
    const { status, ms } = await sendSignedWebhook(job, authToken, timeoutMs);
    // The receiver's URL may carry its own secrets in the query: log only its origin.
    log.debug({ event: job.params.StatusCallbackEvent, status, ms, to: new URL(job.url).origin }, 'status callback sent');
    assertDelivered(status);
  };
}
