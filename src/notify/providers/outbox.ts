// The embedded default: no SMS leaves the machine. The message is already stored in
// sms_messages, which is the outbox; GET /dev/outbox shows it to the developer (with its links,
// it stands in for the patient's phone). The log line carries the body with its links redacted.
import type { Logger } from 'pino';
import type { OutgoingSms, SmsProvider, SmsSendResult } from '../sms-provider.js';
import { maskPhone } from '../phone.js';
import { redactLinks } from '../redact.js';

export { redactLinks };

export class OutboxSmsProvider implements SmsProvider {
  readonly name = 'outbox' as const;

  constructor(private readonly log: Logger) {}

  async send(msg: OutgoingSms): Promise<SmsSendResult> {
    this.log.info({ messageId: msg.messageId, to: maskPhone(msg.to), body: redactLinks(msg.body) }, 'sms stored in the outbox (not sent: SMS_PROVIDER=outbox)');
    return { providerMessageId: null, status: 'delivered' };
  }
}
