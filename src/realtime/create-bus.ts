// Chooses the event bus from the configuration: Redis when REDIS_URL is set (several nodes),
// otherwise in-process (one node).
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { InProcessBus, type EventBus } from './event-bus.js';
import { RedisBus } from './redis-bus.js';

export async function createEventBus(config: Pick<Config, 'redis'>, log: Logger): Promise<EventBus> {
  if (!config.redis.url) return new InProcessBus(log);
  return RedisBus.connect(config.redis.url, config.redis.keyPrefix, log);
}
