// What the clinic needs from the notification part: queue one SMS, durably, once per dedupe key.
import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.js';

export interface SmsSender {
  queue(
    input: { clinicId: string; appointmentId?: string | null; to: string; body: string; kind: string; dedupeKey?: string },
    trx?: Transaction<Database>,
  ): Promise<{ id: string; suppressed: boolean }>;
}
