// HTTP surface of SMS: the provider's status reports and inbound texts (signed, per provider),
// and the development outbox page. Each route exists only with the provider it belongs to.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { SmsConfig } from '../config.js';
import type { Clock } from '../util/clock.js';
import { twilioSignature } from '../video/callbacks/signature.js';
import { REPORTABLE_STATUSES, fromTwilioStatus, type SmsStatus } from './sms-provider.js';
import { normalizePhone } from './phone.js';
import { verifyWebhookSignature } from './providers/webhook.js';
import type { SmsMessage, SmsService } from './sms-service.js';

export interface SmsRoutesOptions {
  config: SmsConfig;
  /** Read per request: the URL Twilio signs is the public one. */
  publicUrl: () => string;
  clock: Clock;
  log: Logger;
}

type FormParams = Record<string, string | string[]>;

const first = (v: unknown): string => (Array.isArray(v) ? String(v[0] ?? '') : typeof v === 'string' ? v : '');

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const escapeXml = escapeHtml;

export async function smsRoutes(app: FastifyInstance, sms: SmsService, opts: SmsRoutesOptions): Promise<void> {
  const { config } = opts;

  if (config.provider === 'twilio' && config.twilio) {
    const authToken = config.twilio.authToken;
    /** X-Twilio-Signature over the public URL of this route (with any query) and the form body. */
    const signed = (req: FastifyRequest, path: string): FormParams | null => {
      const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
      const params = req.body && typeof req.body === 'object' ? (req.body as FormParams) : {};
      const expected = twilioSignature(authToken, opts.publicUrl() + path + query, params);
      const got = req.headers['x-twilio-signature'];
      return typeof got === 'string' && safeEqual(got, expected) ? params : null;
    };

    app.post('/sms/status', async (req, reply) => {
      const params = signed(req, '/sms/status');
      if (!params) return reply.code(403).send({ error: 'invalid X-Twilio-Signature' });
      const sid = first(params.MessageSid);
      const status = fromTwilioStatus(first(params.MessageStatus));
      const code = first(params.ErrorCode);
      if (sid) {
        const known = await sms.recordProviderStatus('twilio', sid, status, code ? `Twilio error ${code}` : null);
        // Unknown: another system's message on the same account, or a report that overtook
        // our recording of the sid. Twilio does not retry either way.
        if (!known) opts.log.debug({ status }, 'sms status for an unknown message');
      }
      return reply.code(204).send();
    });

    app.post('/sms/inbound', async (req, reply) => {
      const params = signed(req, '/sms/inbound');
      if (!params) return reply.code(403).send({ error: 'invalid X-Twilio-Signature' });
      const { reply: text } = await sms.handleInbound(first(params.From), first(params.Body));
      const twiml = text ? `<Response><Message>${escapeXml(text)}</Message></Response>` : '<Response/>';
      return reply.type('text/xml').send(`<?xml version="1.0" encoding="UTF-8"?>${twiml}`);
    });
  }

  if (config.provider === 'webhook' && config.webhook) {
    const secret = config.webhook.secret;
    await app.register(async (scope) => {
      // The signature covers the exact bytes: keep the raw body, parse only once it is verified.
      scope.removeContentTypeParser('application/json');
      scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
      const verified = (req: FastifyRequest, reply: FastifyReply): Record<string, unknown> | null => {
        const raw = typeof req.body === 'string' ? req.body : '';
        const ts = req.headers['x-televisit-timestamp'];
        const sig = req.headers['x-televisit-signature'];
        if (!verifyWebhookSignature(secret, typeof ts === 'string' ? ts : undefined, typeof sig === 'string' ? sig : undefined, raw, opts.clock.now())) {
          void reply.code(403).send({ error: 'invalid or expired X-Televisit-Signature' });
          return null;
        }
        try {
          const parsed: unknown = JSON.parse(raw);
          if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
        } catch {
          // fall through
        }
        void reply.code(400).send({ error: 'body must be a JSON object' });
        return null;
      };

      // {id, status, error?}: id is ours (SM…), status one of sending, sent, delivered, undelivered, failed.
      scope.post('/sms/webhook-status', async (req, reply) => {
        const body = verified(req, reply);
        if (!body) return reply;
        const id = typeof body.id === 'string' ? body.id : '';
        const status = body.status as SmsStatus;
        if (!id || !REPORTABLE_STATUSES.includes(status)) {
          return reply.code(400).send({ error: `id and status (${REPORTABLE_STATUSES.join(', ')}) are required` });
        }
        const error = typeof body.error === 'string' ? body.error.slice(0, 200) : null;
        if (!(await sms.recordStatus(id, status, error))) return reply.code(404).send({ error: 'unknown message id' });
        return reply.code(204).send();
      });

      // {from, body}: an inbound text (STOP/START/HELP). The answer's `reply`, if not null, is
      // the text the gateway should send back.
      scope.post('/sms/webhook-inbound', async (req, reply) => {
        const body = verified(req, reply);
        if (!body) return reply;
        const from = typeof body.from === 'string' ? body.from : '';
        if (!normalizePhone(from)) return reply.code(400).send({ error: 'from must be a phone number' });
        const result = await sms.handleInbound(from, typeof body.body === 'string' ? body.body : '');
        return reply.send(result);
      });
    });
  }

  if (config.provider === 'outbox' && config.outboxPage) {
    // Development only (off in production unless SMS_OUTBOX_PAGE=1): the outbox IS the
    // developer's phone, so it shows bodies WITH their patient links, clickable. That is why it
    // exists only with the outbox provider, where no real patient receives anything.
    app.get('/dev/outbox.json', async (_req, reply) => {
      reply.header('Cache-Control', 'no-store');
      return { messages: await sms.listOutbox(100) };
    });
    app.get('/dev/outbox', async (_req, reply) => {
      const messages = await sms.listOutbox(100);
      return reply
        .header('Cache-Control', 'no-store')
        .header('Referrer-Policy', 'no-referrer')
        .header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'")
        .type('text/html; charset=utf-8')
        .send(outboxPage(messages));
    });
  }

  opts.log.debug({ provider: config.provider, outboxPage: config.provider === 'outbox' && config.outboxPage }, 'sms routes registered');
}

/** Escapes text and turns its http(s) links into anchors. */
function linkify(body: string): string {
  const re = /https?:\/\/[^\s<>"']+/gi;
  let out = '';
  let last = 0;
  for (const m of body.matchAll(re)) {
    let url = m[0];
    const trail = /[.,;:!?)\]]+$/.exec(url)?.[0] ?? '';
    if (trail) url = url.slice(0, -trail.length);
    out += escapeHtml(body.slice(last, m.index));
    out += `<a href="${escapeHtml(url)}" rel="noreferrer">${escapeHtml(url)}</a>`;
    last = m.index! + url.length;
  }
  return out + escapeHtml(body.slice(last));
}

function outboxPage(messages: SmsMessage[]): string {
  const rows = messages
    .map(
      (m) => `<tr>
<td class="t">${escapeHtml(m.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))}</td>
<td>${escapeHtml(m.to)}</td>
<td>${escapeHtml(m.kind)}</td>
<td><span class="s s-${escapeHtml(m.status)}">${escapeHtml(m.status)}</span></td>
<td class="b">${linkify(m.body)}</td>
</tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>SMS outbox · Televisit</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #1f2933; background: #f7f9fb; }
h1 { font-size: 1.25rem; margin: 0 0 .25rem; }
p.note { margin: 0 0 1.25rem; color: #52606d; }
table { border-collapse: collapse; width: 100%; background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
th, td { text-align: left; padding: .5rem .75rem; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
th { font-size: .75rem; text-transform: uppercase; letter-spacing: .04em; color: #7b8794; }
td.t { white-space: nowrap; color: #52606d; font-variant-numeric: tabular-nums; }
td.b { white-space: pre-wrap; word-break: break-word; }
a { color: #0b69a3; }
.s { display: inline-block; padding: 0 .5rem; border-radius: 1rem; font-size: .75rem; background: #e4e7eb; }
.s-delivered, .s-sent { background: #d6f5e3; color: #0e6b3b; }
.s-failed, .s-undelivered { background: #fde2e1; color: #a61b1b; }
.s-suppressed { background: #fff3c4; color: #8d6a00; }
.empty { padding: 2rem; text-align: center; color: #7b8794; }
</style>
</head>
<body>
<h1>SMS outbox</h1>
<p class="note">SMS_PROVIDER=outbox: nothing is sent; the newest ${messages.length} message(s) are shown here instead. <a href="/dev/outbox">Refresh</a></p>
<table>
<thead><tr><th>Time (UTC)</th><th>To</th><th>Kind</th><th>Status</th><th>Message</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="5" class="empty">No messages yet.</td></tr>'}
</tbody>
</table>
</body>
</html>
`;
}
