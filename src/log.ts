// Structured logs (pino). Nothing secret or identifying goes in: request logs carry the method,
// the path without its query string, the status and the time; credentials are redacted.
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.token',
  '*.secret',
  '*.password',
  '*.authToken',
  '*.apiSecret',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'televisit' } }, destination);
}

/** Fastify request serializer: no query string (links carry secrets), no headers. */
export function requestSerializer(req: { method: string; url: string; id?: string }) {
  return { method: req.method, path: redactPath(req.url.split('?')[0] ?? ''), id: req.id };
}

/** Patient links carry their secret in the path (/v/<secret>): logs keep only the prefix. */
export function redactPath(path: string): string {
  return path.replace(/^\/v\/[^/]+/, '/v/…');
}
