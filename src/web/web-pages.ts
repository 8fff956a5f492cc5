// Serves the web pages (built from web/ by scripts/build-web.mjs into dist/public) and the
// unmodified twilio-video browser bundle. Pages get strict security headers: no referrer (patient
// links carry a secret), no framing, camera and microphone for this origin only.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import type { Config } from '../config.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_WEB_DIR = path.resolve(here, '../../dist/public');

const CSP = [
  "default-src 'self'",
  // twilio-video builds a dynamic import() with `new Function` when it loads (for its noise
  // cancellation plugins) and fails to load without 'unsafe-eval'. Scripts still come only from us.
  "script-src 'self' 'unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob: mediastream:",
  "connect-src 'self' ws: wss:",
  'frame-src https://www.youtube-nocookie.com',
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export async function webPages(app: FastifyInstance, config: Config): Promise<void> {
  const dir = config.clinic.webDir ?? DEFAULT_WEB_DIR;
  const twilioVideo = createRequire(import.meta.url).resolve('twilio-video/dist/twilio-video.min.js');

  app.addHook('onSend', async (_req, reply) => {
    void reply.header('referrer-policy', 'no-referrer');
    void reply.header('x-content-type-options', 'nosniff');
  });
  await app.register(fastifyStatic, { root: path.join(dir, 'assets'), prefix: '/assets/', decorateReply: false, maxAge: '1h' });

  // Clinic media (e.g. the waiting-room video) is self-hosted: files in DATA_DIR/media.
  const media = path.join(config.dataDir, 'media');
  fs.mkdirSync(media, { recursive: true });
  await app.register(fastifyStatic, { root: media, prefix: '/media/', decorateReply: false, maxAge: '1h' });

  const page = (name: string) => (_req: unknown, reply: FastifyReply) => {
    const file = path.join(dir, `${name}.html`);
    if (!fs.existsSync(file)) {
      return reply.status(503).type('text/plain').send('The web pages are not built. Run `npm run build`.');
    }
    return reply
      .header('content-security-policy', CSP)
      .header('x-frame-options', 'DENY')
      .header('permissions-policy', 'camera=(self), microphone=(self), display-capture=()')
      .header('cache-control', 'no-store')
      .type('text/html')
      .send(fs.createReadStream(file));
  };
  app.get('/', (_req, reply) => reply.redirect('/staff'));
  app.get('/staff', page('staff'));
  app.get('/staff/*', page('staff'));
  app.get('/v/:token', page('patient'));
  app.get('/g/:token', page('guest'));
  app.get('/vendor/twilio-video.min.js', (_req, reply) =>
    reply.type('application/javascript').header('cache-control', 'public, max-age=3600').send(fs.createReadStream(twilioVideo)),
  );
}
