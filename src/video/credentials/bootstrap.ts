// First-start credentials. With TWILIO_* set, that account and key exist with exactly those
// values so an existing Twilio app works unchanged. Without them, a development account and
// key are created once and their secrets returned to be printed once (never logged).
import type { TwilioCredentialsFromEnv } from '../../config.js';
import type { CredentialsService } from './credentials-service.js';

export interface BootstrapResult {
  /** The account ad-hoc defaults and the CLI use when none is named. */
  defaultAccountSid: string;
  /** Present only on the very first start without TWILIO_*: print it once. */
  createdDevCredentials?: { accountSid: string; authToken: string; apiKey: string; apiSecret: string };
}

export async function bootstrapCredentials(
  credentials: CredentialsService,
  fromEnv: TwilioCredentialsFromEnv | null,
): Promise<BootstrapResult> {
  if (fromEnv) {
    await credentials.upsertAccount(fromEnv.accountSid, fromEnv.authToken, 'Migrated Twilio account');
    await credentials.upsertKey(fromEnv.accountSid, fromEnv.apiKey, fromEnv.apiSecret, 'Migrated Twilio API key');
    return { defaultAccountSid: fromEnv.accountSid };
  }
  const accounts = await credentials.listAccounts();
  if (accounts.length > 0) return { defaultAccountSid: accounts[0]!.sid };
  const account = await credentials.createAccount('Development account');
  const key = await credentials.createKey(account.sid, 'Development key');
  return {
    defaultAccountSid: account.sid,
    createdDevCredentials: { accountSid: account.sid, authToken: account.authToken, apiKey: key.sid, apiSecret: key.secret },
  };
}

export function formatDevCredentials(c: NonNullable<BootstrapResult['createdDevCredentials']>): string {
  return [
    '',
    '  Televisit created a development account. These secrets are shown only this once:',
    '',
    `    TWILIO_ACCOUNT_SID=${c.accountSid}`,
    `    TWILIO_AUTH_TOKEN=${c.authToken}`,
    `    TWILIO_API_KEY=${c.apiKey}`,
    `    TWILIO_API_SECRET=${c.apiSecret}`,
    '',
    '  Put them in your app\'s environment (and keep them out of version control).',
    '',
  ].join('\n');
}
