// The one interface every SMS provider implements. A provider sends one message and says what
// became of it; it throws SmsPermanentError when retrying cannot help (invalid number, recipient
// opted out at the carrier) and any other error when a retry may succeed (network, 429, 5xx).
import type { SmsMessagesTable } from '../store/schema.js';

export type SmsStatus = SmsMessagesTable['status'];
export type SmsProviderName = 'outbox' | 'twilio' | 'webhook';

export interface OutgoingSms {
  to: string;
  from: string;
  body: string;
  /** Our id (SM…): providers that can carry it send it along so receivers can deduplicate. */
  messageId: string;
  /** Where the provider reports status changes. */
  statusCallbackUrl: string;
}

export interface SmsSendResult {
  providerMessageId: string | null;
  status: SmsStatus;
}

export interface SmsProvider {
  readonly name: SmsProviderName;
  send(msg: OutgoingSms): Promise<SmsSendResult>;
}

export class SmsPermanentError extends Error {
  constructor(
    message: string,
    readonly code: string | number | null = null,
    /** The provider says the recipient has opted out (Twilio 21610): record it, status suppressed. */
    readonly optedOut = false,
  ) {
    super(message);
    this.name = 'SmsPermanentError';
  }
}

/** Statuses in the order a message moves through them; a late, older report never goes back. */
const RANK: Record<SmsStatus, number> = {
  queued: 0,
  sending: 1,
  sent: 2,
  delivered: 3,
  undelivered: 3,
  failed: 3,
  suppressed: 4,
};

export function statusRank(status: SmsStatus): number {
  return RANK[status];
}

export const REPORTABLE_STATUSES: readonly SmsStatus[] = ['sending', 'sent', 'delivered', 'undelivered', 'failed'];

/** Twilio's message statuses (API responses and status callbacks) in ours. */
export function fromTwilioStatus(status: string | null | undefined): SmsStatus {
  switch (status) {
    case 'sent':
      return 'sent';
    case 'delivered':
    case 'read':
    case 'received':
      return 'delivered';
    case 'undelivered':
      return 'undelivered';
    case 'failed':
    case 'canceled':
      return 'failed';
    default: // queued, accepted, scheduled, sending, partially_delivered, …
      return 'sending';
  }
}
