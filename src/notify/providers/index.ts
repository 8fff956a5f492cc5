import type { Logger } from 'pino';
import type { SmsConfig } from '../../config.js';
import type { Clock } from '../../util/clock.js';
import type { SmsProvider } from '../sms-provider.js';
import { OutboxSmsProvider } from './outbox.js';
import { TwilioSmsProvider } from './twilio.js';
import { WebhookSmsProvider } from './webhook.js';

/** The provider SMS_PROVIDER names, built from its (already validated) configuration. */
export function createSmsProvider(config: SmsConfig, log: Logger, clock: Clock): SmsProvider {
  switch (config.provider) {
    case 'twilio':
      return new TwilioSmsProvider(config.twilio!, config.timeoutMs);
    case 'webhook':
      return new WebhookSmsProvider(config.webhook!, config.timeoutMs, () => clock.now());
    case 'outbox':
      return new OutboxSmsProvider(log);
  }
}
