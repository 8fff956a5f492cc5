// All configuration comes from the environment, read once here. Every variable is
// documented in README.md and .env.example; defaults are the embedded single-process setup.
import { isIPv4 } from 'node:net';
import path from 'node:path';

export interface AdHocRoomDefaults {
  type: RoomTypeName;
  maxParticipants: number | null;
  videoCodecs: string[];
  statusCallback: string | null;
  statusCallbackMethod: 'POST' | 'GET';
  emptyRoomTimeout: number;
  unusedRoomTimeout: number;
}

export type RoomTypeName = 'group' | 'group-small' | 'peer-to-peer' | 'go';

export interface TwilioCredentialsFromEnv {
  accountSid: string;
  authToken: string;
  apiKey: string;
  apiSecret: string;
}

export interface Config {
  port: number;
  host: string;
  publicUrl: string;
  dataDir: string;
  databaseUrl: string | null;
  /** 32-byte key encrypting secrets at rest; from SECRET_KEY or DATA_DIR/secret.key. */
  secretKey: string | null;
  logLevel: string;
  twilioCredentials: TwilioCredentialsFromEnv | null;
  adHocRooms: AdHocRoomDefaults;
  /** Seconds a verified API key secret may be served from memory before the store is asked again. */
  keyCacheSeconds: number;
  /** Allowed clock skew in seconds when checking token exp/nbf. */
  tokenClockSkewSeconds: number;
  callbacks: { timeoutMs: number; concurrency: number; maxAgeHours: number };
  ice: IceConfig;
  sms: SmsConfig;
  /** Redis for the event bus between nodes; without a URL the bus is in-process. */
  redis: { url: string | null; keyPrefix: string };
  clinic: ClinicConfig;
  /** SIP trunk for dialing out (an interpreter by phone); null without SIP_TRUNK_HOST. */
  sip: SipConfig | null;
  /** An interpreter service reached over HTTP (signed JSON); null without INTERPRETER_SERVICE_URL. */
  interpreterService: InterpreterServiceConfig | null;
}

export interface InterpreterServiceConfig {
  url: string;
  /** Signs our requests and checks the service's status callbacks (HMAC-SHA256). */
  secret: string;
  timeoutMs: number;
}

export interface SipConfig {
  trunkHost: string;
  trunkPort: number;
  transport: 'udp';
  /** Digest credentials answering the trunk's 401/407 challenges; null = IP-authenticated trunk. */
  username: string | null;
  password: string | null;
  /** User part of From: the caller id the trunk shows (default SIP_USERNAME, else `televisit`). */
  fromUser: string;
  /** Address the SIP socket binds and announces (Via, Contact, SDP). */
  localHost: string;
  /** 0 = a random free port. */
  localPort: number;
  rtpPortRange: [number, number];
  /** Programmable-Voice-style status callbacks of the visit's phone legs (SIP_STATUS_CALLBACK_URL); none when unset. */
  statusCallbackUrl?: string | null;
}

export interface ClinicConfig {
  /** Time zone of the demo clinic created on first run (IANA name). */
  timeZone: string;
  /** Create the demo clinic and its three logins on an empty database. */
  demoClinic: boolean;
  /** Lifetime of visit access tokens handed to the web pages. */
  visitTokenTtlSeconds: number;
  /** Where the built web pages are (default: dist/web beside the code). */
  webDir: string | null;
}

export type SmsProviderName = 'outbox' | 'twilio' | 'webhook';

export interface SmsConfig {
  provider: SmsProviderName;
  /** The sender stored on every message: SMS_FROM, or the Twilio number / messaging service. */
  from: string;
  /** Per-attempt timeout of a provider call. */
  timeoutMs: number;
  /** A message the provider keeps refusing is given up (status failed) after this long. */
  maxAgeHours: number;
  /** GET /dev/outbox(.json): outbox provider only, off in production unless SMS_OUTBOX_PAGE=1. */
  outboxPage: boolean;
  twilio: {
    accountSid: string;
    authToken: string;
    from: string | null;
    messagingServiceSid: string | null;
    /** Base URL of the 2010 API instead of https://api.twilio.com (tests, proxies). */
    apiBase: string | null;
  } | null;
  webhook: { url: string; secret: string } | null;
}

export interface IceConfig {
  /** Addresses announced to clients as host candidates. */
  hostAddresses: string[];
  /** When set, only remote candidates on these addresses are tried (loopback-only setups). */
  allowedRemoteAddresses: string[];
  portRange: [number, number] | null;
  tcp: boolean;
  /** STUN and TURN servers handed to clients in `iced`. */
  stunUrls: string[];
  turnUrls: string[];
  /** coturn `static-auth-secret`: TURN credentials are minted per client, time-limited. */
  turnSecret: string | null;
  turnCredentialTtlSeconds: number;
  /** How long a participant whose signaling socket dropped may take to resume (`sync`). */
  sessionTimeoutSeconds: number;
}

export class ConfigError extends Error {}

function list(env: Env, name: string, fallback: string[]): string[] {
  const raw = env[name];
  if (raw === undefined) return fallback;
  return raw.split(',').map((x) => x.trim()).filter(Boolean);
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || host.startsWith('127.');

function iceConfig(env: Env, host: string): IceConfig {
  const loopbackDefault = isLoopback(host) ? ['127.0.0.1'] : [];
  const min = env.ICE_PORT_MIN ? int(env, 'ICE_PORT_MIN', 0, 1024, 65535) : null;
  const max = env.ICE_PORT_MAX ? int(env, 'ICE_PORT_MAX', 0, 1024, 65535) : null;
  if ((min === null) !== (max === null) || (min !== null && max !== null && min >= max)) {
    throw new ConfigError('ICE_PORT_MIN and ICE_PORT_MAX must be set together, MIN below MAX');
  }
  const turnUrls = list(env, 'TURN_URLS', []);
  const turnSecret = env.TURN_SECRET || null;
  if (turnUrls.length > 0 && !turnSecret) throw new ConfigError('TURN_URLS needs TURN_SECRET (coturn static-auth-secret)');
  for (const u of [...list(env, 'STUN_URLS', []), ...turnUrls]) {
    if (!/^(stun|stuns|turn|turns):/.test(u)) throw new ConfigError(`not a STUN/TURN URL: ${u}`);
  }
  return {
    hostAddresses: list(env, 'ICE_HOST_ADDRESSES', loopbackDefault),
    allowedRemoteAddresses: list(env, 'ICE_ALLOWED_REMOTE_ADDRESSES', loopbackDefault),
    portRange: min !== null && max !== null ? [min, max] : null,
    tcp: (env.ICE_TCP ?? 'true') !== 'false',
    stunUrls: list(env, 'STUN_URLS', []),
    turnUrls,
    turnSecret,
    turnCredentialTtlSeconds: int(env, 'TURN_CREDENTIAL_TTL_SECONDS', 3600, 60, 86400),
    sessionTimeoutSeconds: int(env, 'SIGNALING_SESSION_TIMEOUT_SECONDS', 30, 1, 600),
  };
}

type Env = Record<string, string | undefined>;

function sipConfig(env: Env): SipConfig | null {
  const trunkHost = env.SIP_TRUNK_HOST || null;
  if (trunkHost === null) return null;
  if (!/^[A-Za-z0-9.-]+$/.test(trunkHost)) throw new ConfigError(`SIP_TRUNK_HOST must be a host name or IPv4 address, got "${trunkHost}"`);
  const username = env.SIP_USERNAME || null;
  const password = env.SIP_PASSWORD || null;
  if ((username === null) !== (password === null)) throw new ConfigError('SIP_USERNAME and SIP_PASSWORD must be set together');
  const fromUser = env.SIP_FROM_USER || username || 'televisit';
  if (!/^\+?[A-Za-z0-9*._-]{1,64}$/.test(fromUser)) throw new ConfigError(`SIP_FROM_USER may only hold letters, digits, +, *, ., _ and -, got "${fromUser}"`);
  const localHost = env.SIP_LOCAL_HOST || '127.0.0.1';
  if (!isIPv4(localHost) || localHost === '0.0.0.0') {
    throw new ConfigError(`SIP_LOCAL_HOST must be the IPv4 address the trunk reaches this server at, got "${localHost}"`);
  }
  const rtpMin = int(env, 'SIP_RTP_PORT_MIN', 10000, 1024, 65534);
  const rtpMax = int(env, 'SIP_RTP_PORT_MAX', 20000, 1025, 65535);
  if (rtpMin >= rtpMax) throw new ConfigError('SIP_RTP_PORT_MIN must be below SIP_RTP_PORT_MAX');
  const statusCallbackUrl = env.SIP_STATUS_CALLBACK_URL || null;
  if (statusCallbackUrl !== null && !httpUrl(statusCallbackUrl)) throw new ConfigError('SIP_STATUS_CALLBACK_URL must be an absolute http(s) URL');
  return {
    trunkHost,
    trunkPort: int(env, 'SIP_TRUNK_PORT', 5060, 1, 65535),
    transport: oneOf(env, 'SIP_TRUNK_TRANSPORT', ['udp'] as const, 'udp'),
    username,
    password,
    fromUser,
    localHost,
    localPort: int(env, 'SIP_LOCAL_PORT', 5060, 0, 65535),
    rtpPortRange: [rtpMin, rtpMax],
    statusCallbackUrl,
  };
}

function httpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

function interpreterServiceConfig(env: Env): InterpreterServiceConfig | null {
  const url = env.INTERPRETER_SERVICE_URL || null;
  const secret = env.INTERPRETER_SERVICE_SECRET || null;
  if (url === null && secret === null) return null;
  if (url === null || secret === null) throw new ConfigError('INTERPRETER_SERVICE_URL and INTERPRETER_SERVICE_SECRET must be set together');
  if (!httpUrl(url)) throw new ConfigError('INTERPRETER_SERVICE_URL must be an absolute http(s) URL');
  if (secret.length < 16) throw new ConfigError('INTERPRETER_SERVICE_SECRET must be at least 16 characters');
  return { url, secret, timeoutMs: int(env, 'INTERPRETER_SERVICE_TIMEOUT_MS', 10_000, 100, 60_000) };
}

function redisConfig(env: Env): Config['redis'] {
  const url = env.REDIS_URL || null;
  if (url !== null) {
    let protocol: string;
    try {
      protocol = new URL(url).protocol;
    } catch {
      throw new ConfigError('REDIS_URL must be a redis:// or rediss:// URL');
    }
    if (protocol !== 'redis:' && protocol !== 'rediss:') throw new ConfigError('REDIS_URL must be a redis:// or rediss:// URL');
  }
  return { url, keyPrefix: env.REDIS_KEY_PREFIX || 'televisit:' };
}

function timeZone(name: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return name;
  } catch {
    throw new ConfigError(`CLINIC_TIME_ZONE must be an IANA time zone such as America/New_York, got "${name}"`);
  }
}

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function twilioCredentials(env: Env): TwilioCredentialsFromEnv | null {
  const names = ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_API_KEY', 'TWILIO_API_SECRET'] as const;
  const present = names.filter((n) => env[n]);
  if (present.length === 0) return null;
  if (present.length !== names.length) {
    const missing = names.filter((n) => !env[n]);
    throw new ConfigError(`Set all four Twilio credentials or none; missing ${missing.join(', ')}`);
  }
  const creds = {
    accountSid: env.TWILIO_ACCOUNT_SID!,
    authToken: env.TWILIO_AUTH_TOKEN!,
    apiKey: env.TWILIO_API_KEY!,
    apiSecret: env.TWILIO_API_SECRET!,
  };
  if (!/^AC[0-9a-f]{32}$/.test(creds.accountSid)) throw new ConfigError('TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits');
  if (!/^SK[0-9a-f]{32}$/.test(creds.apiKey)) throw new ConfigError('TWILIO_API_KEY must be SK followed by 32 hex digits');
  if (creds.authToken.length < 16) throw new ConfigError('TWILIO_AUTH_TOKEN is too short');
  if (creds.apiSecret.length < 16) throw new ConfigError('TWILIO_API_SECRET is too short');
  return creds;
}

const E164 = /^\+[1-9]\d{6,14}$/;

function smsConfig(env: Env): SmsConfig {
  const provider = oneOf(env, 'SMS_PROVIDER', ['outbox', 'twilio', 'webhook'] as const, 'outbox');
  const smsFrom = env.SMS_FROM || null;
  if (smsFrom !== null && !E164.test(smsFrom)) throw new ConfigError(`SMS_FROM must be an E.164 number like +15551234567, got "${smsFrom}"`);
  const flag = (env.SMS_OUTBOX_PAGE ?? '').toLowerCase();
  const outboxPage =
    provider === 'outbox' && (flag === '1' || flag === 'true' || (flag === '' && env.NODE_ENV !== 'production'));
  const common = {
    timeoutMs: int(env, 'SMS_TIMEOUT_MS', 15_000, 100, 120_000),
    maxAgeHours: int(env, 'SMS_MAX_AGE_HOURS', 24, 1, 24 * 14),
    outboxPage,
  };
  if (provider === 'twilio') {
    const accountSid = env.MESSAGING_TWILIO_ACCOUNT_SID || '';
    const authToken = env.MESSAGING_TWILIO_AUTH_TOKEN || '';
    const from = env.MESSAGING_TWILIO_FROM || null;
    const messagingServiceSid = env.MESSAGING_TWILIO_MESSAGING_SERVICE_SID || null;
    const missing = [
      ...(accountSid ? [] : ['MESSAGING_TWILIO_ACCOUNT_SID']),
      ...(authToken ? [] : ['MESSAGING_TWILIO_AUTH_TOKEN']),
      ...(from || messagingServiceSid ? [] : ['MESSAGING_TWILIO_FROM or MESSAGING_TWILIO_MESSAGING_SERVICE_SID']),
    ];
    if (missing.length > 0) throw new ConfigError(`SMS_PROVIDER=twilio needs ${missing.join(', ')}`);
    if (!/^AC[0-9a-f]{32}$/.test(accountSid)) throw new ConfigError('MESSAGING_TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits');
    if (authToken.length < 16) throw new ConfigError('MESSAGING_TWILIO_AUTH_TOKEN is too short');
    if (from !== null && !E164.test(from)) throw new ConfigError(`MESSAGING_TWILIO_FROM must be an E.164 number like +15551234567, got "${from}"`);
    if (messagingServiceSid !== null && !/^MG[0-9a-f]{32}$/.test(messagingServiceSid)) {
      throw new ConfigError('MESSAGING_TWILIO_MESSAGING_SERVICE_SID must be MG followed by 32 hex digits');
    }
    const apiBase = (env.MESSAGING_TWILIO_API_BASE || '').replace(/\/+$/, '') || null;
    if (apiBase !== null && !/^https?:\/\/[^/]+$/.test(apiBase)) {
      throw new ConfigError(`MESSAGING_TWILIO_API_BASE must be an origin like https://api.twilio.com, got "${apiBase}"`);
    }
    return {
      provider,
      ...common,
      // A messaging service picks the sender itself; otherwise the number sends.
      from: messagingServiceSid ?? from!,
      twilio: { accountSid, authToken, from, messagingServiceSid, apiBase },
      webhook: null,
    };
  }
  if (provider === 'webhook') {
    const url = env.SMS_WEBHOOK_URL || '';
    const secret = env.SMS_WEBHOOK_SECRET || '';
    const missing = [...(url ? [] : ['SMS_WEBHOOK_URL']), ...(secret ? [] : ['SMS_WEBHOOK_SECRET'])];
    if (missing.length > 0) throw new ConfigError(`SMS_PROVIDER=webhook needs ${missing.join(' and ')}`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError('SMS_WEBHOOK_URL must be an absolute http(s) URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError('SMS_WEBHOOK_URL must be an absolute http(s) URL');
    if (secret.length < 16) throw new ConfigError('SMS_WEBHOOK_SECRET must be at least 16 characters');
    // Without SMS_FROM the gateway sends from its own number (`from` is then empty).
    return { provider, ...common, from: smsFrom ?? '', twilio: null, webhook: { url, secret } };
  }
  return { provider, ...common, from: smsFrom ?? '+15005550006', twilio: null, webhook: null };
}

export function loadConfig(env: Env = process.env): Config {
  const port = int(env, 'PORT', 3000, 0, 65535);
  const host = env.HOST || '127.0.0.1';
  const publicUrl = (env.PUBLIC_URL || `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`).replace(/\/+$/, '');
  try {
    new URL(publicUrl);
  } catch {
    throw new ConfigError(`PUBLIC_URL must be an absolute URL, got "${publicUrl}"`);
  }
  const codecs = (env.AD_HOC_VIDEO_CODECS || 'VP8').split(',').map((c) => c.trim().toUpperCase()).filter(Boolean);
  for (const c of codecs) if (c !== 'VP8' && c !== 'H264') throw new ConfigError(`AD_HOC_VIDEO_CODECS: unknown codec ${c}`);
  return {
    port,
    host,
    publicUrl,
    dataDir: path.resolve(env.DATA_DIR || './data'),
    databaseUrl: env.DATABASE_URL || null,
    secretKey: env.SECRET_KEY || null,
    logLevel: env.LOG_LEVEL || 'info',
    twilioCredentials: twilioCredentials(env),
    adHocRooms: {
      type: oneOf(env, 'AD_HOC_ROOM_TYPE', ['group', 'group-small', 'peer-to-peer', 'go'] as const, 'group'),
      maxParticipants: env.AD_HOC_MAX_PARTICIPANTS ? int(env, 'AD_HOC_MAX_PARTICIPANTS', 50, 1, 50) : null,
      videoCodecs: codecs,
      statusCallback: env.AD_HOC_STATUS_CALLBACK || null,
      statusCallbackMethod: oneOf(env, 'AD_HOC_STATUS_CALLBACK_METHOD', ['POST', 'GET'] as const, 'POST'),
      emptyRoomTimeout: int(env, 'AD_HOC_EMPTY_ROOM_TIMEOUT', 5, 1, 1440),
      unusedRoomTimeout: int(env, 'AD_HOC_UNUSED_ROOM_TIMEOUT', 5, 1, 1440),
    },
    keyCacheSeconds: int(env, 'KEY_CACHE_SECONDS', 5, 0, 300),
    tokenClockSkewSeconds: int(env, 'TOKEN_CLOCK_SKEW_SECONDS', 30, 0, 300),
    callbacks: {
      timeoutMs: int(env, 'CALLBACK_TIMEOUT_MS', 10_000, 100, 60_000),
      concurrency: int(env, 'CALLBACK_CONCURRENCY', 16, 1, 256),
      maxAgeHours: int(env, 'CALLBACK_MAX_AGE_HOURS', 24, 1, 24 * 14),
    },
    ice: iceConfig(env, host),
    sms: smsConfig(env),
    redis: redisConfig(env),
    clinic: {
      timeZone: timeZone(env.CLINIC_TIME_ZONE || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'),
      demoClinic: (env.DEMO_CLINIC ?? '1') !== '0',
      visitTokenTtlSeconds: int(env, 'VISIT_TOKEN_TTL_SECONDS', 3600, 300, 4 * 3600),
      webDir: env.WEB_DIR ? path.resolve(env.WEB_DIR) : null,
    },
    sip: sipConfig(env),
    interpreterService: interpreterServiceConfig(env),
  };
}
