// TelephonyService status events and Programmable Voice style callbacks, end to end: SIPp as
// the trunk, a local HTTP receiver checking order and X-Twilio-Signature.
import '../helpers/unhandled.js';
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import twilio from 'twilio';
import { assertSippSucceeded, killAllSipp, startSipp } from './sipp.js';
import { capture, CREDENTIALS, RTP_RANGE, waitEvent } from './helpers.js';
import { TelephonyService, type CallStatusUpdate } from '../../src/telephony/telephony-service.js';
import { StatusCallbackSender, VOICE_STATUS_CALLBACK_QUEUE } from '../../src/telephony/status-callbacks.js';
import type { SipConfig } from '../../src/config.js';
import { InProcessBus, type BusMessage } from '../../src/realtime/event-bus.js';
import { openDatabase } from '../../src/store/database.js';
import { JobQueue } from '../../src/jobs/job-queue.js';
import { systemClock } from '../../src/util/clock.js';

const ACCOUNT = 'AC' + 'a'.repeat(32);
const AUTH_TOKEN = '0123456789abcdef0123456789abcdef';

interface Received {
  url: string;
  params: Record<string, string>;
  signature: string;
  at: number;
}

async function receiver(answer: (n: number) => number = () => 204): Promise<{ url: string; received: Received[]; attempts: number; close(): Promise<void> }> {
  const received: Received[] = [];
  let attempts = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const status = answer(attempts++);
      if (status < 300) {
        received.push({
          url: `http://127.0.0.1:${(server.address() as { port: number }).port}${req.url}`,
          params: Object.fromEntries(new URLSearchParams(body)),
          signature: String(req.headers['x-twilio-signature'] ?? ''),
          at: Date.now(),
        });
      }
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/voice/status?clinic=1`,
    received,
    get attempts() {
      return attempts;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let service: TelephonyService | null = null;
const closers: Array<() => Promise<void>> = [];

async function startService(trunkPort: number, sender: StatusCallbackSender, bus?: InProcessBus): Promise<TelephonyService> {
  const { logger } = capture();
  const config: SipConfig = {
    trunkHost: '127.0.0.1',
    trunkPort,
    transport: 'udp',
    username: CREDENTIALS.username,
    password: CREDENTIALS.password,
    fromUser: '+15550001111',
    localHost: '127.0.0.1',
    localPort: 0,
    rtpPortRange: RTP_RANGE,
  };
  service = new TelephonyService(config, { log: logger, callbacks: sender, bus, defaultAccountSid: ACCOUNT });
  await service.start();
  return service;
}

function sender(opts: { queue?: JobQueue } = {}): StatusCallbackSender {
  const { logger } = capture();
  return new StatusCallbackSender({ authToken: (sid) => (sid === ACCOUNT ? AUTH_TOKEN : null), log: logger, backoffMs: () => 50, timeoutMs: 2000, ...opts });
}

describe('telephony status events and callbacks', () => {
  afterEach(async () => {
    killAllSipp();
    await service?.stop();
    service = null;
    while (closers.length) await closers.pop()!();
  });
  after(() => killAllSipp());

  it('all four events, in order, signed, with a retried delivery that keeps the order', async () => {
    const sipp = await startSipp('answer-remote-bye.xml');
    // The second POST (ringing) fails once with 503 and is retried before in-progress is sent.
    const rx = await receiver((n) => (n === 1 ? 503 : 204));
    closers.push(rx.close);
    const bus = new InProcessBus();
    const busMessages: BusMessage[] = [];
    bus.subscribe('telephony', (m) => busMessages.push(m));
    const callbacks = sender();
    const svc = await startService(sipp.port, callbacks, bus);
    const updates: CallStatusUpdate[] = [];
    svc.on('status', (u) => updates.push(u));
    const call = svc.dial('+15557654321', {
      statusCallback: rx.url,
      statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
      timeout: 10,
    });
    assert.match(call.sid, /^CA[0-9a-f]{32}$/);
    assert.equal(call.status, 'queued');
    await waitEvent(call.sip, 'ended');
    await callbacks.idle();
    await assertSippSucceeded(sipp);

    assert.deepEqual(updates.map((u) => u.status), ['queued', 'initiated', 'ringing', 'in-progress', 'completed']);
    assert.equal(updates[3]!.answered?.codec, 'PCMA');
    assert.equal(rx.attempts, 5, 'one retry');
    assert.deepEqual(rx.received.map((r) => r.params.CallStatus), ['initiated', 'ringing', 'in-progress', 'completed']);
    assert.deepEqual(rx.received.map((r) => r.params.SequenceNumber), ['0', '1', '2', '3']);
    for (const r of rx.received) {
      assert.ok(twilio.validateRequest(AUTH_TOKEN, r.signature, r.url, r.params), `signature of ${r.params.CallStatus}`);
      assert.equal(r.params.CallSid, call.sid);
      assert.equal(r.params.AccountSid, ACCOUNT);
      assert.equal(r.params.To, '+15557654321');
      assert.equal(r.params.From, '+15550001111');
      assert.equal(r.params.Direction, 'outbound-api');
      assert.equal(r.params.ApiVersion, '2010-04-01');
      assert.match(r.params.Timestamp!, /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    }
    const completed = rx.received[3]!.params;
    assert.equal(completed.CallDuration, '1');
    assert.equal(completed.SipResponseCode, '200');
    assert.equal(rx.received[0]!.params.CallDuration, undefined);
    assert.equal(call.status, 'completed');
    assert.equal(call.duration, 1);
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(busMessages.map((m) => m.status), ['queued', 'initiated', 'ringing', 'in-progress', 'completed']);
  });

  it('busy: only the completed event by default, CallStatus busy with the SIP code', async () => {
    const sipp = await startSipp('busy.xml');
    const rx = await receiver();
    closers.push(rx.close);
    const callbacks = sender();
    const svc = await startService(sipp.port, callbacks);
    const call = svc.dial('+15557654321', { statusCallback: rx.url });
    await waitEvent(call.sip, 'ended');
    await callbacks.idle();
    await assertSippSucceeded(sipp);
    assert.equal(rx.received.length, 1, `one callback: ${JSON.stringify(rx.received.map((r) => r.params))} (${rx.attempts} attempts)`);
    const p = rx.received[0]!.params;
    assert.equal(p.CallStatus, 'busy');
    assert.equal(p.SipResponseCode, '486');
    assert.equal(p.CallDuration, '0');
    assert.equal(p.SequenceNumber, '0');
    assert.ok(twilio.validateRequest(AUTH_TOKEN, rx.received[0]!.signature, rx.received[0]!.url, p));
  });

  it('ring timeout through the service: no-answer, and sendDigits / dial input are validated', async () => {
    const sipp = await startSipp('ring-no-answer.xml');
    const rx = await receiver();
    closers.push(rx.close);
    const callbacks = sender();
    const svc = await startService(sipp.port, callbacks);
    assert.throws(() => svc.dial('+1555\r\nX-Evil: 1'), /may only hold/);
    assert.throws(() => svc.dial('+15557654321', { sendDigits: '12x' }), /sendDigits/);
    assert.throws(() => svc.dial('+15557654321', { statusCallback: 'ftp://example.test/' }), /http/);
    const call = svc.dial('+15557654321', { statusCallback: rx.url, statusCallbackEvent: ['ringing', 'completed'], timeout: 1 });
    await waitEvent(call.sip, 'ended');
    await callbacks.idle();
    await assertSippSucceeded(sipp);
    assert.deepEqual(rx.received.map((r) => r.params.CallStatus), ['ringing', 'no-answer']);
    assert.deepEqual(rx.received.map((r) => r.params.SequenceNumber), ['0', '1']);
    assert.equal(svc.live().length, 0);
  });

  it('durable delivery through the job queue keeps the order of one call', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'televisit-tel-'));
    const database = await openDatabase({ databaseUrl: null, dataDir: dir });
    const { logger } = capture();
    const jobs = new JobQueue(database.db, systemClock, logger, 4, 20);
    closers.push(async () => {
      await jobs.stop();
      await database.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const rx = await receiver((n) => (n === 0 ? 500 : 204));
    closers.push(rx.close);
    const callbacks = sender({ queue: jobs });
    jobs.register(VOICE_STATUS_CALLBACK_QUEUE, { ...callbacks.queueSettings(60_000), backoffMs: () => 50 });
    jobs.start();
    const statuses = ['initiated', 'ringing', 'in-progress', 'completed'];
    for (const [i, status] of statuses.entries()) {
      void callbacks.send({ callSid: 'CA' + 'b'.repeat(32), accountSid: ACCOUNT, url: rx.url, method: 'POST', params: { CallStatus: status, SequenceNumber: String(i) } });
    }
    const deadline = Date.now() + 10_000;
    while (rx.received.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(rx.received.map((r) => r.params.CallStatus), statuses);
    for (const r of rx.received) assert.ok(twilio.validateRequest(AUTH_TOKEN, r.signature, r.url, r.params));
  });
});
