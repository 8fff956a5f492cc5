// The event bus across nodes: Redis PUBLISH/SUBSCRIBE on two connections (a connection in
// subscriber mode can run nothing else). Channels are prefixed so several deployments can share
// one Redis. Each process holds at most one Redis subscription per channel, however many local
// handlers listen on it; the last handler to leave unsubscribes. ioredis reconnects by itself and
// re-subscribes the channels of the subscriber connection (`autoResubscribe`).
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { BusMessage, EventBus } from './event-bus.js';

type Handler = (message: BusMessage) => void;
/** One subscribe() call: an object of its own, so the same function may subscribe twice. */
interface Subscription {
  handler: Handler;
}

export const DEFAULT_KEY_PREFIX = 'televisit:';
/** How long connect() waits for Redis before giving up. */
const CONNECT_TIMEOUT_MS = 5000;

/** The URL with any password masked, for messages and logs. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid Redis URL)';
  }
}

export class RedisBus implements EventBus {
  /** Local handlers by full (prefixed) Redis channel. */
  private readonly subscriptions = new Map<string, Set<Subscription>>();
  /** Settles once every SUBSCRIBE/UNSUBSCRIBE sent so far has been answered (never rejects). */
  private subscribeBarrier: Promise<void> = Promise.resolve();
  /** Settles once the previous publish has been handed to the connection: keeps publish order. */
  private publishTail: Promise<void> = Promise.resolve();
  private closed = false;

  /**
   * Use connect(): it waits for both connections and fails clearly when Redis is unreachable.
   * The two connections must not be shared with anything else.
   */
  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    readonly keyPrefix: string,
    private readonly log: Logger,
    /** CLIENT SETNAME of the two connections (visible in CLIENT LIST). */
    readonly clientNames: { publisher: string; subscriber: string } = { publisher: '', subscriber: '' },
  ) {
    subscriber.on('message', (channel: string, payload: string) => this.dispatch(channel, payload));
  }

  static async connect(url: string, keyPrefix: string = DEFAULT_KEY_PREFIX, log: Logger): Promise<RedisBus> {
    const id = `${process.pid}-${randomBytes(4).toString('hex')}`;
    const clientNames = { publisher: `televisit-bus-pub-${id}`, subscriber: `televisit-bus-sub-${id}` };
    const shown = redactRedisUrl(url);
    const options: RedisOptions = {
      lazyConnect: true,
      connectTimeout: CONNECT_TIMEOUT_MS,
      autoResubscribe: true,
      enableReadyCheck: true,
    };
    // A publish waits through a short outage, then fails; a subscription waits for Redis forever.
    const publisher = new Redis(url, { ...options, connectionName: clientNames.publisher, maxRetriesPerRequest: 20 });
    const subscriber = new Redis(url, { ...options, connectionName: clientNames.subscriber, maxRetriesPerRequest: null });

    let lastError: Error | null = null;
    const ready = (conn: Redis, role: string) => {
      let wasReady = false;
      conn.on('error', (err: Error) => {
        lastError = err;
        if (wasReady) log.warn({ err, role }, 'redis bus connection error');
      });
      conn.on('ready', () => {
        if (wasReady) log.info({ role }, 'redis bus reconnected');
        wasReady = true;
      });
      conn.on('reconnecting', (delayMs: number) => {
        if (wasReady) log.debug({ role, delayMs }, 'redis bus reconnecting');
      });
      return conn.connect();
    };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    });
    try {
      await Promise.race([Promise.all([ready(publisher, 'publisher'), ready(subscriber, 'subscriber')]), deadline]);
    } catch (err) {
      publisher.disconnect();
      subscriber.disconnect();
      const cause = (lastError as Error | null) ?? (err as Error);
      throw new Error(`Redis at ${shown} is unreachable: ${cause.message}`, { cause });
    } finally {
      clearTimeout(timer);
    }
    log.info({ url: shown, keyPrefix }, 'redis event bus connected');
    return new RedisBus(publisher, subscriber, keyPrefix, log, clientNames);
  }

  async publish(channel: string, message: BusMessage): Promise<void> {
    if (this.closed) throw new Error('event bus is closed');
    const payload = JSON.stringify(message);
    // A subscribe() made on this node before this publish must see it: wait until Redis has
    // answered pending SUBSCRIBEs, and hand publishes to the connection in call order.
    const barrier = this.subscribeBarrier;
    let sent!: Promise<number>;
    const handedOver = this.publishTail.then(() => barrier).then(() => {
      sent = this.publisher.publish(this.keyPrefix + channel, payload);
    });
    this.publishTail = handedOver.catch(() => undefined);
    await handedOver;
    await sent;
  }

  subscribe(channel: string, handler: Handler): () => void {
    if (this.closed) throw new Error('event bus is closed');
    const full = this.keyPrefix + channel;
    const subscription: Subscription = { handler };
    let set = this.subscriptions.get(full);
    if (!set) {
      set = new Set();
      this.subscriptions.set(full, set);
      this.track('SUBSCRIBE', full, this.subscriber.subscribe(full));
    }
    set.add(subscription);
    return () => {
      const current = this.subscriptions.get(full);
      if (!current || !current.delete(subscription)) return;
      if (current.size > 0) return;
      this.subscriptions.delete(full);
      if (!this.closed) this.track('UNSUBSCRIBE', full, this.subscriber.unsubscribe(full));
    };
  }

  /** Resolves once Redis has answered every SUBSCRIBE/UNSUBSCRIBE made so far by this process. */
  async whenSubscribed(): Promise<void> {
    await this.subscribeBarrier;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subscriptions.clear();
    await Promise.all([quit(this.publisher), quit(this.subscriber)]);
  }

  /** Commands on one connection are answered in order, so chaining keeps the barrier monotonic. */
  private track(command: string, channel: string, reply: Promise<unknown>): void {
    const settled = reply.then(
      () => undefined,
      (err: unknown) => {
        if (!this.closed) this.log.error({ err, channel }, `redis bus ${command} failed`);
      },
    );
    this.subscribeBarrier = this.subscribeBarrier.then(() => settled);
  }

  private dispatch(channel: string, payload: string): void {
    const set = this.subscriptions.get(channel);
    if (!set || set.size === 0) return;
    let message: BusMessage;
    try {
      const parsed: unknown = JSON.parse(payload);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || typeof (parsed as BusMessage).type !== 'string') {
        throw new Error('not an object with a string "type"');
      }
      message = parsed as BusMessage;
    } catch (err) {
      // Not the error itself: JSON.parse quotes the payload, which may carry personal data.
      const reason = err instanceof SyntaxError ? 'invalid JSON' : (err as Error).message;
      this.log.warn({ channel, bytes: payload.length, reason }, 'dropped a malformed event bus message');
      return;
    }
    // A snapshot: handlers may unsubscribe (or subscribe others) while being called.
    for (const { handler } of [...set]) {
      try {
        handler(message);
      } catch (err) {
        this.log.error({ err, channel }, 'event bus handler threw');
      }
    }
  }
}

/** QUIT lets queued publishes go out; fall back to dropping the socket if Redis does not answer. */
async function quit(conn: Redis): Promise<void> {
  if (conn.status === 'end') return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      conn.quit(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('quit timed out')), 1000);
      }),
    ]);
  } catch {
    // Nothing to do: disconnect below.
  } finally {
    clearTimeout(timer);
    conn.disconnect();
  }
}
