import { createHmac } from 'node:crypto';

/**
 * X-Twilio-Signature: base64 HMAC-SHA1, keyed by the account's auth token, over the full URL
 * followed by each POST parameter's name and value, names sorted. `twilio.validateRequest`
 * checks exactly this. Also used to check signatures on requests Twilio-style senders make to us.
 */
export function twilioSignature(authToken: string, url: string, params: Record<string, string | string[]>): string {
  let data = url;
  for (const name of Object.keys(params).sort()) {
    const value = params[name]!;
    for (const v of Array.isArray(value) ? [...value].sort() : [value]) data += name + v;
  }
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}
