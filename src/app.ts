// Builds the whole server from its parts: store, event bus, job queue, video service
// (credentials, tokens, rooms, status callbacks, REST). One function, used by main.ts and tests.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import websocket from '@fastify/websocket';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createLogger, requestSerializer } from './log.js';
import { openDatabase, type OpenedDatabase } from './store/database.js';
import { SecretBox } from './util/secret-box.js';
import { systemClock, type Clock } from './util/clock.js';
import type { EventBus } from './realtime/event-bus.js';
import { createEventBus } from './realtime/create-bus.js';
import { JobQueue } from './jobs/job-queue.js';
import { CredentialsService } from './video/credentials/credentials-service.js';
import { bootstrapCredentials, type BootstrapResult } from './video/credentials/bootstrap.js';
import { AccessTokenVerifier } from './video/tokens/access-token.js';
import { RoomService } from './video/rooms/room-service.js';
import { STATUS_CALLBACK_QUEUE, StatusCallbacks, callbackDeliverer } from './video/callbacks/status-callbacks.js';
import { basicAuth, installTwilioErrors } from './video/rest/twilio-http.js';
import { roomsRoutes } from './video/rest/rooms-routes.js';
import { keysRoutes } from './video/rest/keys-routes.js';
import { MAX_FRAME_BYTES, SignalingServer } from './video/signaling/signaling-server.js';
import { SMS_DELIVER_QUEUE, SmsService } from './notify/sms-service.js';
import { createSmsProvider } from './notify/providers/index.js';
import { createClinic, type Clinic } from './clinic/clinic.js';
import { phoneRoomAudio } from './clinic/phone-room-audio.js';
import type { RoomAudioBridge } from './clinic/phone-calls.js';
import { webPages } from './web/web-pages.js';
import { smsRoutes } from './notify/sms-routes.js';
import { StatusCallbackSender, TelephonyService, VOICE_STATUS_CALLBACK_QUEUE } from './telephony/index.js';

export interface TelevisitOptions {
  clock?: Clock;
  logger?: Logger;
  /** PostgreSQL schema to isolate this instance (tests). */
  databaseSchema?: string;
  /** Milliseconds between room timeout sweeps; 0 disables the sweeper (tests call sweep()). */
  sweepIntervalMs?: number;
  jobPollMs?: number;
  /** Puts answered phone legs' audio into the visit room (tests; default none until the bridge lands). */
  roomAudio?: RoomAudioBridge;
}

export interface Televisit {
  app: FastifyInstance;
  config: Config;
  database: OpenedDatabase;
  clock: Clock;
  log: Logger;
  bus: EventBus;
  jobs: JobQueue;
  credentials: CredentialsService;
  tokens: AccessTokenVerifier;
  rooms: RoomService;
  signaling: SignalingServer;
  /** Text messages (SMS_PROVIDER): queue(), opt-outs, status. */
  sms: SmsService;
  clinic: Clinic;
  /** Dial-out through the SIP trunk (SIP_TRUNK_HOST); null when not configured. Started by listen(). */
  telephony: TelephonyService | null;
  bootstrap: BootstrapResult;
  /** Starts background work (job queue, sweeper) and listens on config.host:config.port. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export async function createTelevisit(config: Config, opts: TelevisitOptions = {}): Promise<Televisit> {
  const clock = opts.clock ?? systemClock;
  const log = opts.logger ?? createLogger(config.logLevel);
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    ...(opts.databaseSchema ? { schema: opts.databaseSchema } : {}),
  });
  const { db } = database;
  const box = SecretBox.load(config.secretKey, config.dataDir);
  const bus: EventBus = await createEventBus(config, log.child({ part: 'bus' })).catch(async (err: unknown) => {
    await database.close();
    throw err;
  });
  const jobs = new JobQueue(db, clock, log.child({ part: 'jobs' }), config.callbacks.concurrency, opts.jobPollMs ?? 250);
  const credentials = new CredentialsService(db, box, clock, config.keyCacheSeconds * 1000);
  const bootstrap = await bootstrapCredentials(credentials, config.twilioCredentials);
  const tokens = new AccessTokenVerifier(credentials, clock, config.tokenClockSkewSeconds);
  const callbacks = new StatusCallbacks(jobs, clock);
  const rooms = new RoomService(db, database.dialect, clock, callbacks, bus, config.adHocRooms);
  jobs.register(STATUS_CALLBACK_QUEUE, {
    handler: callbackDeliverer(credentials, log.child({ part: 'callbacks' }), config.callbacks.timeoutMs),
    maxAgeMs: config.callbacks.maxAgeHours * 3600_000,
  });
  const smsLog = log.child({ part: 'sms' });
  const sms = new SmsService(
    db,
    jobs,
    clock,
    createSmsProvider(config.sms, smsLog, clock),
    { from: config.sms.from, maxAgeHours: config.sms.maxAgeHours, timeoutMs: config.sms.timeoutMs, publicUrl: () => config.publicUrl },
    smsLog,
  );
  jobs.register(SMS_DELIVER_QUEUE, sms.queueSettings());
  let telephony: TelephonyService | null = null;
  if (config.sip) {
    const voiceLog = log.child({ part: 'telephony' });
    const voiceCallbacks = new StatusCallbackSender({ authToken: (sid) => credentials.authToken(sid), log: voiceLog, timeoutMs: config.callbacks.timeoutMs, queue: jobs });
    jobs.register(VOICE_STATUS_CALLBACK_QUEUE, voiceCallbacks.queueSettings(config.callbacks.maxAgeHours * 3600_000));
    telephony = new TelephonyService(config.sip, { log: voiceLog, callbacks: voiceCallbacks, bus, defaultAccountSid: bootstrap.defaultAccountSid });
  }
  // Phone legs join rooms through our own signaling endpoint, like any participant.
  const roomAudio = opts.roomAudio ?? (telephony ? phoneRoomAudio(() => config.publicUrl.replace(/^http/, 'ws') + '/signaling', log.child({ part: 'phone-bridge' })) : undefined);
  const clinic = await createClinic({ config, db, box, clock, bus, jobs, credentials, rooms, accountSid: bootstrap.defaultAccountSid, sms, telephony, ...(roomAudio ? { roomAudio } : {}), log: log.child({ part: 'clinic' }) });

  const app = Fastify({
    // Request logs carry the method and path only: no query string (links carry secrets), no headers.
    loggerInstance: log.child({ part: 'http' }, { serializers: { req: requestSerializer } }) as unknown as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    trustProxy: true,
  });
  await app.register(formbody);
  await app.register(websocket, { options: { maxPayload: MAX_FRAME_BYTES } });
  const signaling = new SignalingServer(rooms, tokens, bus, config.ice, log.child({ part: 'signaling' }));
  signaling.register(app);
  installTwilioErrors(app);
  await clinic.register(app);
  await webPages(app, config);
  app.get('/healthz', async () => ({ status: 'ok', database: database.dialect }));
  await smsRoutes(app, sms, { config: config.sms, publicUrl: () => config.publicUrl, clock, log: smsLog });
  await app.register(async (api) => {
    api.addHook('onRequest', basicAuth(credentials));
    roomsRoutes(api, rooms, () => config.publicUrl);
    keysRoutes(api, credentials);
  });

  let sweeper: NodeJS.Timeout | null = null;
  const sweepMs = opts.sweepIntervalMs ?? 2000;

  return {
    app,
    config,
    database,
    clock,
    log,
    bus,
    jobs,
    credentials,
    tokens,
    rooms,
    signaling,
    sms,
    clinic,
    telephony,
    bootstrap,
    async listen() {
      jobs.start();
      await telephony?.start();
      if (sweepMs > 0) {
        sweeper = setInterval(() => {
          rooms.sweep().catch((err: unknown) => log.error({ err }, 'room sweep failed'));
        }, sweepMs);
        sweeper.unref();
      }
      return app.listen({ port: config.port, host: config.host });
    },
    async close() {
      if (sweeper) clearInterval(sweeper);
      await clinic.close();
      await telephony?.stop();
      await signaling.close();
      await app.close();
      await jobs.stop();
      await bus.close();
      await database.close();
    },
  };
}
