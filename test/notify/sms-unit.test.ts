// Pure parts of SMS: phone numbers, link redaction, configuration, webhook signatures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { ConfigError, loadConfig } from '../../src/config.js';
import { maskPhone, normalizePhone, redactLinks } from '../../src/notify/sms-service.js';
import { redactLinks as outboxRedactLinks } from '../../src/notify/providers/outbox.js';
import { verifyWebhookSignature } from '../../src/notify/providers/webhook.js';
import { classifyTwilioError } from '../../src/notify/providers/twilio.js';
import { SmsPermanentError } from '../../src/notify/sms-provider.js';

test('normalizePhone: E.164 only, North American 10-digit numbers get +1', () => {
  const cases: [string, string | null][] = [
    ['+15551234567', '+15551234567'],
    ['(555) 123-4567', '+15551234567'],
    ['555.123.4567', '+15551234567'],
    ['555 123 4567', '+15551234567'],
    ['1-555-123-4567', '+15551234567'],
    ['+44 20 7946 0958', '+442079460958'],
    ['+49 (30) 1234-5678', '+493012345678'],
    ['  +1 555 123 4567  ', '+15551234567'],
    ['5551234', null], // 7 digits, no country
    ['0555123456', null], // leading 0 is not a North American area code
    ['+0123456789', null],
    ['+1234', null],
    ['+1234567890123456', null], // 16 digits
    ['555-CALL-NOW', null],
    ['', null],
  ];
  for (const [input, expected] of cases) assert.equal(normalizePhone(input), expected, input);
  assert.equal(normalizePhone(undefined), null);
});

test('maskPhone keeps the last four digits only', () => {
  assert.equal(maskPhone('+15551234567'), '…4567');
  assert.equal(maskPhone(''), '');
});

test('redactLinks keeps the first path segment of each link and replaces the rest', () => {
  assert.equal(outboxRedactLinks, redactLinks);
  const token = 'Xk29fLq0-_aZb81mPq7T';
  assert.equal(redactLinks(`Join your visit: https://clinic.example/v/${token}`), 'Join your visit: https://clinic.example/v/…');
  assert.equal(redactLinks(`Link: https://clinic.example:8443/join/${token}?x=1#y. Thanks`), 'Link: https://clinic.example:8443/join/…. Thanks');
  assert.equal(redactLinks(`http://a.example/${token}`), 'http://a.example/…', 'a token as first segment goes too');
  assert.equal(redactLinks('http://a.example/?t=secret'), 'http://a.example/…', 'a token in the query goes');
  assert.equal(redactLinks('see https://clinic.example and https://clinic.example/help'), 'see https://clinic.example and https://clinic.example/help');
  assert.equal(redactLinks('(https://x.example/v/abc123)'), '(https://x.example/v/…)');
  assert.equal(redactLinks('two: https://x.example/a/1 https://y.example/b/2/3'), 'two: https://x.example/a/… https://y.example/b/…');
  assert.equal(redactLinks('no links here'), 'no links here');
});

test('SMS configuration: outbox by default; each provider says what it is missing', () => {
  const base = { DATA_DIR: '/tmp/x' };
  const c = loadConfig(base).sms;
  assert.equal(c.provider, 'outbox');
  assert.equal(c.from, '+15005550006');
  assert.equal(c.outboxPage, true);
  assert.equal(loadConfig({ ...base, NODE_ENV: 'production' }).sms.outboxPage, false);
  assert.equal(loadConfig({ ...base, NODE_ENV: 'production', SMS_OUTBOX_PAGE: '1' }).sms.outboxPage, true);
  assert.equal(loadConfig({ ...base, SMS_OUTBOX_PAGE: '0' }).sms.outboxPage, false);

  const err = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env });
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return e.message;
    }
    assert.fail('expected a ConfigError');
  };
  assert.match(err({ SMS_PROVIDER: 'carrier-pigeon' }), /SMS_PROVIDER must be one of outbox, twilio, webhook/);
  assert.match(
    err({ SMS_PROVIDER: 'twilio' }),
    /SMS_PROVIDER=twilio needs MESSAGING_TWILIO_ACCOUNT_SID, MESSAGING_TWILIO_AUTH_TOKEN, MESSAGING_TWILIO_FROM or MESSAGING_TWILIO_MESSAGING_SERVICE_SID/,
  );
  const sid = 'AC' + 'a'.repeat(32);
  const token = 'b'.repeat(32);
  assert.match(err({ SMS_PROVIDER: 'twilio', MESSAGING_TWILIO_ACCOUNT_SID: sid, MESSAGING_TWILIO_AUTH_TOKEN: token }), /needs MESSAGING_TWILIO_FROM or/);
  assert.match(err({ SMS_PROVIDER: 'twilio', MESSAGING_TWILIO_ACCOUNT_SID: 'ACnope', MESSAGING_TWILIO_AUTH_TOKEN: token, MESSAGING_TWILIO_FROM: '+15550001111' }), /MESSAGING_TWILIO_ACCOUNT_SID must be/);
  assert.match(err({ SMS_PROVIDER: 'twilio', MESSAGING_TWILIO_ACCOUNT_SID: sid, MESSAGING_TWILIO_AUTH_TOKEN: token, MESSAGING_TWILIO_FROM: '555-0001' }), /MESSAGING_TWILIO_FROM must be an E\.164/);
  const tw = loadConfig({ ...base, SMS_PROVIDER: 'twilio', MESSAGING_TWILIO_ACCOUNT_SID: sid, MESSAGING_TWILIO_AUTH_TOKEN: token, MESSAGING_TWILIO_FROM: '+15550001111' }).sms;
  assert.equal(tw.from, '+15550001111');
  assert.equal(tw.outboxPage, false, 'no outbox page with a real provider');
  const mg = 'MG' + 'c'.repeat(32);
  assert.equal(loadConfig({ ...base, SMS_PROVIDER: 'twilio', MESSAGING_TWILIO_ACCOUNT_SID: sid, MESSAGING_TWILIO_AUTH_TOKEN: token, MESSAGING_TWILIO_MESSAGING_SERVICE_SID: mg }).sms.from, mg);

  assert.match(err({ SMS_PROVIDER: 'webhook' }), /SMS_PROVIDER=webhook needs SMS_WEBHOOK_URL and SMS_WEBHOOK_SECRET/);
  assert.match(err({ SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: 'https://gw.example/send' }), /needs SMS_WEBHOOK_SECRET/);
  assert.match(err({ SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: 'ftp://gw.example', SMS_WEBHOOK_SECRET: 'x'.repeat(32) }), /SMS_WEBHOOK_URL must be/);
  assert.match(err({ SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: 'https://gw.example/send', SMS_WEBHOOK_SECRET: 'short' }), /at least 16/);
  assert.match(err({ SMS_FROM: '5551234' }), /SMS_FROM must be an E\.164/);
});

test('webhook signatures: v1 HMAC-SHA256 over "timestamp.body", five minutes of tolerance', () => {
  const secret = 's'.repeat(32);
  const raw = '{"id":"SM1","status":"delivered"}';
  const now = 1_700_000_000_000;
  const ts = String(now / 1000);
  const sig = 'v1=' + createHmac('sha256', secret).update(`${ts}.${raw}`).digest('hex');
  assert.equal(verifyWebhookSignature(secret, ts, sig, raw, now), true);
  assert.equal(verifyWebhookSignature(secret, ts, `v1=deadbeef, ${sig}`, raw, now), true, 'one of several signatures');
  assert.equal(verifyWebhookSignature(secret, ts, sig, raw + ' ', now), false, 'body changed');
  assert.equal(verifyWebhookSignature('t'.repeat(32), ts, sig, raw, now), false, 'other secret');
  assert.equal(verifyWebhookSignature(secret, ts, sig, raw, now + 301_000), false, 'too old');
  assert.equal(verifyWebhookSignature(secret, ts, sig, raw, now - 301_000), false, 'from the future');
  assert.equal(verifyWebhookSignature(secret, ts, sig, raw, now + 299_000), true);
  assert.equal(verifyWebhookSignature(secret, undefined, sig, raw, now), false);
  assert.equal(verifyWebhookSignature(secret, ts, undefined, raw, now), false);
});

test('Twilio errors: listed codes and other 4xx are permanent; 429, 5xx, auth and network errors are retried', () => {
  const rest = (status: number, code?: number) => Object.assign(new Error('x'), { status, code, message: 'The number +15005550001 is invalid' });
  for (const [status, code] of [[400, 21211], [400, 21408], [400, 21610], [400, 21614], [400, 21602]] as const) {
    const e = classifyTwilioError(rest(status, code));
    assert.ok(e instanceof SmsPermanentError, `${code}`);
    assert.equal(e.code, code);
    assert.doesNotMatch(e.message, /5005550001/, 'numbers are masked');
  }
  assert.equal((classifyTwilioError(rest(400, 21610)) as SmsPermanentError).optedOut, true);
  for (const status of [429, 500, 503, 401, 404]) assert.ok(!(classifyTwilioError(rest(status)) instanceof SmsPermanentError), `${status}`);
  assert.ok(!(classifyTwilioError(new TypeError('fetch failed')) instanceof SmsPermanentError));
});
