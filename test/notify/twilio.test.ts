// The Twilio provider through the real `twilio` client, against a local server that answers like
// api.twilio.com; status callbacks and inbound texts signed the way Twilio signs them
// (twilio.getExpectedTwilioSignature). SQLite and PostgreSQL.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import twilio from 'twilio';
import { eachDatabase, startServer, waitFor, type TestServer } from '../helpers/server.js';
import { startFakeTwilio, twilioMessage, type FakeTwilio } from './fakes.js';

eachDatabase('sms via twilio', (db) => {
  const accountSid = 'AC' + randomBytes(16).toString('hex');
  const authToken = randomBytes(16).toString('hex');
  const from = '+15017122661';
  let fake: FakeTwilio;
  let server: TestServer;
  before(async () => {
    fake = await startFakeTwilio(accountSid);
    server = await startServer(db, {
      env: {
        SMS_PROVIDER: 'twilio',
        MESSAGING_TWILIO_ACCOUNT_SID: accountSid,
        MESSAGING_TWILIO_AUTH_TOKEN: authToken,
        MESSAGING_TWILIO_FROM: from,
        MESSAGING_TWILIO_API_BASE: fake.url,
      },
    });
  });
  after(async () => {
    await server.stop();
    await fake.close();
  });

  const requestsTo = (to: string) => fake.requests.filter((r) => r.params.To === to);

  /** POSTs a form to our server, signed like Twilio does (or with the given signature). */
  const postTwilio = (path: string, params: Record<string, string>, signature?: string) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Twilio-Signature': signature ?? twilio.getExpectedTwilioSignature(authToken, `${server.url}${path}`, params),
      },
      body: new URLSearchParams(params).toString(),
    });

  test('a message goes to the Messages resource; signed status callbacks move it to delivered', async () => {
    const { sms } = server.tv;
    const to = '+15551110001';
    const { id } = await sms.queue({ clinicId: 'c1', appointmentId: 'a1', to, body: 'Your visit: https://x.example/v/abc', kind: 'invite' });
    const sent = await waitFor('handed to Twilio', async () => {
      const m = await sms.get(id);
      return m?.providerMessageId ? m : false;
    });
    const [req] = requestsTo(to);
    assert.ok(req);
    assert.equal(req.method, 'POST');
    assert.equal(req.path, `/2010-04-01/Accounts/${accountSid}/Messages.json`);
    assert.equal(req.authorization, 'Basic ' + Buffer.from(`${accountSid}:${authToken}`).toString('base64'));
    assert.equal(req.params.To, to);
    assert.equal(req.params.From, from);
    assert.equal(req.params.Body, 'Your visit: https://x.example/v/abc');
    assert.equal(req.params.StatusCallback, `${server.url}/sms/status`);
    assert.match(sent.providerMessageId!, /^SM[0-9a-f]{32}$/);
    assert.equal(sent.status, 'sending', "Twilio's 'queued'");
    assert.equal(sent.provider, 'twilio');
    assert.equal(sent.from, from);

    const sid = sent.providerMessageId!;
    const status = (s: string, extra: Record<string, string> = {}) =>
      postTwilio('/sms/status', { AccountSid: accountSid, MessageSid: sid, SmsSid: sid, MessageStatus: s, SmsStatus: s, To: to, From: from, ApiVersion: '2010-04-01', ...extra });
    assert.equal((await status('sent')).status, 204);
    assert.equal((await sms.get(id))!.status, 'sent');
    assert.equal((await status('delivered')).status, 204);
    assert.equal((await sms.get(id))!.status, 'delivered');
    // A late 'sent' (callbacks overtake each other) does not move it back.
    assert.equal((await status('sent')).status, 204);
    assert.equal((await sms.get(id))!.status, 'delivered');
  });

  test('a status callback with a bad signature is refused with 403 and changes nothing', async () => {
    const { sms } = server.tv;
    const { id } = await sms.queue({ clinicId: 'c1', to: '+15551110002', body: 'hi', kind: 'test' });
    const m = await waitFor('handed to Twilio', async () => ((await sms.get(id))?.providerMessageId ? sms.get(id) : false));
    const params = { MessageSid: m!.providerMessageId!, MessageStatus: 'failed', ErrorCode: '30003' };
    const wrongKey = twilio.getExpectedTwilioSignature('f'.repeat(32), `${server.url}/sms/status`, params);
    assert.equal((await postTwilio('/sms/status', params, wrongKey)).status, 403);
    assert.equal((await postTwilio('/sms/status', params, '')).status, 403);
    const otherUrl = twilio.getExpectedTwilioSignature(authToken, `${server.url}/sms/inbound`, params);
    assert.equal((await postTwilio('/sms/status', params, otherUrl)).status, 403);
    assert.equal((await sms.get(id))!.status, 'sending');
    // Signed properly, the failure is recorded with Twilio's error code.
    assert.equal((await postTwilio('/sms/status', params)).status, 204);
    const failed = (await sms.get(id))!;
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error, 'Twilio error 30003');
  });

  test('an invalid number (400, code 21211) fails the message and is not retried', async () => {
    const to = '+15005550001';
    fake.answer = (req) =>
      req.params.To === to
        ? { status: 400, body: { code: 21211, message: `The 'To' number ${to} is not a valid phone number.`, more_info: 'https://www.twilio.com/docs/errors/21211', status: 400 } }
        : { status: 201, body: twilioMessage(req, accountSid) };
    const { sms } = server.tv;
    const { id } = await sms.queue({ clinicId: 'c1', to, body: 'hi', kind: 'test' });
    const failed = await waitFor('failed', async () => ((await sms.get(id))?.status === 'failed' ? sms.get(id) : false));
    assert.match(failed!.error!, /21211/);
    assert.doesNotMatch(failed!.error!, /5005550001/, 'the stored error masks the number');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(requestsTo(to).length, 1, 'not retried');
    assert.equal((await sms.get(id))!.status, 'failed');
  });

  test('an unsubscribed recipient (21610) is recorded as opted out and the message suppressed', async () => {
    const to = '+15551110003';
    fake.answer = (req) =>
      req.params.To === to
        ? { status: 400, body: { code: 21610, message: 'Attempt to send to unsubscribed recipient', status: 400 } }
        : { status: 201, body: twilioMessage(req, accountSid) };
    const { sms } = server.tv;
    const { id } = await sms.queue({ clinicId: 'c1', to, body: 'hi', kind: 'test' });
    await waitFor('suppressed', async () => (await sms.get(id))?.status === 'suppressed');
    assert.equal(await sms.isOptedOut(to), true);
    const next = await sms.queue({ clinicId: 'c1', to, body: 'again', kind: 'test' });
    assert.equal(next.suppressed, true);
    assert.equal(requestsTo(to).length, 1);
  });

  test('a 503 is retried, then the message is sent', async () => {
    const to = '+15551110004';
    let calls = 0;
    fake.answer = (req) => {
      if (req.params.To === to && ++calls === 1) return { status: 503, body: { code: 20503, message: 'Service unavailable', status: 503 } };
      return { status: 201, body: twilioMessage(req, accountSid) };
    };
    const { sms } = server.tv;
    const { id } = await sms.queue({ clinicId: 'c1', to, body: 'retry me', kind: 'test' });
    await waitFor('first attempt failed', async () => (await sms.get(id))?.error?.includes('503'));
    assert.equal((await sms.get(id))!.status, 'queued');
    const sent = await waitFor('sent after retry', async () => ((await sms.get(id))?.status === 'sending' ? sms.get(id) : false), 8000);
    assert.equal(requestsTo(to).length, 2);
    assert.equal(sent!.attempts, 2);
    assert.equal(sent!.error, null);
  });

  test('inbound STOP opts out with a TwiML reply; later messages are suppressed; START opts back in', async () => {
    const { sms } = server.tv;
    const phone = '+15551110005';
    const inbound = (body: string, signature?: string) =>
      postTwilio('/sms/inbound', { AccountSid: accountSid, MessageSid: 'SM' + randomBytes(16).toString('hex'), From: phone, To: from, Body: body, NumMedia: '0' }, signature);

    assert.equal((await inbound('STOP', 'bogus')).status, 403);
    assert.equal(await sms.isOptedOut(phone), false);

    const stop = await inbound(' stop ');
    assert.equal(stop.status, 200);
    assert.match(stop.headers.get('content-type') ?? '', /^text\/xml/);
    assert.match(await stop.text(), /^<\?xml[^>]*\?><Response><Message>You are unsubscribed[^<]*<\/Message><\/Response>$/);
    assert.equal(await sms.isOptedOut(phone), true);

    const before = requestsTo(phone).length;
    const r = await sms.queue({ clinicId: 'c1', to: phone, body: 'reminder', kind: 'reminder' });
    assert.equal(r.suppressed, true);
    assert.equal((await sms.get(r.id))!.status, 'suppressed');

    const help = await inbound('HELP');
    assert.match(await help.text(), /<Message>Televisit: [^<]*Reply STOP to unsubscribe[^<]*<\/Message>/);
    assert.equal(await sms.isOptedOut(phone), true, 'HELP changes nothing');

    const other = await inbound('Running 5 min late, sorry');
    assert.match(await other.text(), /<Response\/>$/);

    const start = await inbound('START');
    assert.match(await start.text(), /<Message>You are resubscribed/);
    assert.equal(await sms.isOptedOut(phone), false);
    const after = await sms.queue({ clinicId: 'c1', to: phone, body: 'welcome back', kind: 'test' });
    assert.equal(after.suppressed, false);
    await waitFor('sent to Twilio', () => requestsTo(phone).length === before + 1);
  });

  test('STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT opt out; UNSTOP and YES opt in', async () => {
    const { sms } = server.tv;
    const phone = '+15551110006';
    for (const [word, optedOut] of [['STOPALL', true], ['UNSTOP', false], ['unsubscribe', true], ['yes', false], ['Cancel', true], ['START', false], ['END', true], ['START', false], ['QUIT', true]] as const) {
      const params = { From: phone, To: from, Body: word };
      const res = await postTwilio('/sms/inbound', params);
      assert.equal(res.status, 200, word);
      assert.equal(await sms.isOptedOut(phone), optedOut, word);
    }
  });

  test('the outbox page and webhook routes do not exist with the Twilio provider', async () => {
    assert.equal((await fetch(`${server.url}/dev/outbox`)).status, 404);
    assert.equal((await fetch(`${server.url}/dev/outbox.json`)).status, 404);
    assert.equal((await fetch(`${server.url}/sms/webhook-status`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).status, 404);
  });
});
