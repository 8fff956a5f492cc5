// The event bus contract, run against the in-process bus and the Redis bus, then what only the
// Redis bus does: several nodes, prefixes, malformed payloads, reconnects, refcounted SUBSCRIBE.
// Redis at REDIS_URL (default redis://127.0.0.1:6379); every test uses a random key prefix.
import { startServer, waitFor } from '../helpers/server.js';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createLogger } from '../../src/log.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { InProcessBus, type BusMessage, type EventBus } from '../../src/realtime/event-bus.js';
import { RedisBus } from '../../src/realtime/redis-bus.js';
import { createEventBus } from '../../src/realtime/create-bus.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const randomPrefix = () => `tvtest:${randomBytes(6).toString('hex')}:`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A logger whose lines are kept, to check what was logged. */
function capturingLogger(): { log: Logger; lines: () => Array<{ msg: string; level: number }> } {
  const raw: string[] = [];
  const log = createLogger('debug', { write: (line: string) => void raw.push(line) });
  return { log, lines: () => raw.map((l) => JSON.parse(l) as { msg: string; level: number }) };
}

function collect(bus: EventBus, channel: string): { got: BusMessage[]; off: () => void } {
  const got: BusMessage[] = [];
  const off = bus.subscribe(channel, (m) => got.push(m));
  return { got, off };
}

interface Made {
  bus: EventBus;
  lines: () => Array<{ msg: string; level: number }>;
}

/** Waits until subscriptions made so far are in effect (immediate in-process). */
async function subscribed(bus: EventBus): Promise<void> {
  if (bus instanceof RedisBus) await bus.whenSubscribed();
}

const kinds: Array<{ name: string; make: () => Promise<Made> }> = [
  {
    name: 'InProcessBus',
    async make() {
      const { log, lines } = capturingLogger();
      return { bus: new InProcessBus(log), lines };
    },
  },
  {
    name: 'RedisBus',
    async make() {
      const { log, lines } = capturingLogger();
      return { bus: await RedisBus.connect(REDIS_URL, randomPrefix(), log), lines };
    },
  },
];

for (const kind of kinds) {
  describe(`EventBus contract [${kind.name}]`, () => {
    let made: Made;
    let bus: EventBus;
    before(async () => {
      made = await kind.make();
      bus = made.bus;
    });
    after(async () => {
      await bus.close();
    });

    it('delivers a published message to a subscriber, asynchronously', async () => {
      const { got, off } = collect(bus, 'basic');
      const pending = bus.publish('basic', { type: 'hello', n: 1, nested: { a: [1, 2] } });
      assert.equal(got.length, 0, 'not delivered inside publish()');
      await pending;
      await waitFor('delivery', () => got.length === 1);
      assert.deepEqual(got[0], { type: 'hello', n: 1, nested: { a: [1, 2] } });
      off();
    });

    it('delivers to every handler on the channel, including one function subscribed twice', async () => {
      const a = collect(bus, 'many');
      const b = collect(bus, 'many');
      const twice: BusMessage[] = [];
      const h = (m: BusMessage) => twice.push(m);
      const off1 = bus.subscribe('many', h);
      const off2 = bus.subscribe('many', h);
      await subscribed(bus);
      await bus.publish('many', { type: 'x' });
      await waitFor('all handlers', () => a.got.length === 1 && b.got.length === 1 && twice.length === 2);
      off1();
      await bus.publish('many', { type: 'y' });
      await waitFor('second', () => a.got.length === 2 && twice.length === 3);
      for (const off of [a.off, b.off, off2]) off();
    });

    it('stops delivering to a handler after unsubscribe, and unsubscribing twice is harmless', async () => {
      const gone = collect(bus, 'unsub');
      const stays = collect(bus, 'unsub');
      await subscribed(bus);
      await bus.publish('unsub', { type: 'one' });
      await waitFor('first', () => gone.got.length === 1 && stays.got.length === 1);
      gone.off();
      gone.off();
      await bus.publish('unsub', { type: 'two' });
      await waitFor('second', () => stays.got.length === 2);
      await sleep(30);
      assert.deepEqual(gone.got.map((m) => m.type), ['one']);
      stays.off();
      stays.off();
      // Everyone left: a later subscriber still works (the channel is subscribed again).
      const again = collect(bus, 'unsub');
      await subscribed(bus);
      await bus.publish('unsub', { type: 'three' });
      await waitFor('again', () => again.got.length === 1);
      again.off();
    });

    it('keeps channels apart', async () => {
      const a = collect(bus, 'room:A');
      const b = collect(bus, 'room:B');
      await subscribed(bus);
      await bus.publish('room:A', { type: 'for-a' });
      await bus.publish('room:C', { type: 'for-nobody' });
      await bus.publish('room:B', { type: 'for-b' });
      await waitFor('b', () => b.got.length === 1);
      await sleep(30);
      assert.deepEqual(a.got.map((m) => m.type), ['for-a']);
      assert.deepEqual(b.got.map((m) => m.type), ['for-b']);
      a.off();
      b.off();
    });

    it('hands subscribers a copy: changing the published object afterwards changes nothing', async () => {
      const { got, off } = collect(bus, 'copy');
      await subscribed(bus);
      const original = { type: 'copy', list: [1], inner: { v: 'before' } };
      const pending = bus.publish('copy', original);
      original.list.push(2);
      original.inner.v = 'after';
      await pending;
      await waitFor('copy', () => got.length === 1);
      assert.notEqual(got[0], original);
      assert.deepEqual(got[0], { type: 'copy', list: [1], inner: { v: 'before' } });
      off();
    });

    it('a handler that throws does not stop the others, and is logged', async () => {
      const before = collect(bus, 'throws');
      const offBad = bus.subscribe('throws', () => {
        throw new Error('handler bug');
      });
      const afterIt = collect(bus, 'throws');
      await subscribed(bus);
      await bus.publish('throws', { type: 'a' });
      await bus.publish('throws', { type: 'b' });
      await waitFor('both', () => before.got.length === 2 && afterIt.got.length === 2);
      await waitFor('logged', () => made.lines().filter((l) => l.msg === 'event bus handler threw').length >= 2);
      offBad();
      before.off();
      afterIt.off();
    });

    it('delivers the messages of one channel in publish order', async () => {
      const { got, off } = collect(bus, 'order');
      await subscribed(bus);
      await Promise.all(Array.from({ length: 200 }, (_, i) => bus.publish('order', { type: 'n', i })));
      await waitFor('all 200', () => got.length === 200);
      assert.deepEqual(got.map((m) => m.i), Array.from({ length: 200 }, (_, i) => i));
      off();
    });

    it('a publish right after subscribe() on the same bus reaches the new subscriber', async () => {
      const subs = Array.from({ length: 50 }, (_, i) => collect(bus, `fresh:${i}`));
      await Promise.all(subs.map((_, i) => bus.publish(`fresh:${i}`, { type: 'first', i })));
      await waitFor('all first', () => subs.every((s) => s.got.length === 1));
      for (const s of subs) s.off();
    });
  });
}

describe('RedisBus', () => {
  let raw: Redis;
  const buses: EventBus[] = [];
  const open = async (prefix: string, log?: Logger) => {
    const bus = await RedisBus.connect(REDIS_URL, prefix, log ?? createLogger('silent'));
    buses.push(bus);
    return bus;
  };
  before(async () => {
    raw = new Redis(REDIS_URL, { lazyConnect: true });
    await raw.connect();
  });
  after(async () => {
    await Promise.all(buses.map((b) => b.close()));
    await raw.quit();
  });
  const numsub = async (channel: string) => {
    const reply = (await raw.pubsub('NUMSUB', channel)) as [string, number];
    return Number(reply[1]);
  };

  it('two nodes see each other’s messages', async () => {
    const prefix = randomPrefix();
    const nodeA = await open(prefix);
    const nodeB = await open(prefix);
    const onA = collect(nodeA, 'room:RM1');
    const onB = collect(nodeB, 'room:RM1');
    await nodeA.whenSubscribed();
    await nodeB.whenSubscribed();
    await nodeA.publish('room:RM1', { type: 'from-a' });
    await nodeB.publish('room:RM1', { type: 'from-b' });
    await waitFor('both on both', () => onA.got.length === 2 && onB.got.length === 2);
    assert.deepEqual(new Set(onA.got.map((m) => m.type)), new Set(['from-a', 'from-b']));
    assert.deepEqual(new Set(onB.got.map((m) => m.type)), new Set(['from-a', 'from-b']));
  });

  it('two prefixes (deployments) do not see each other', async () => {
    const one = await open(randomPrefix());
    const two = await open(randomPrefix());
    const onOne = collect(one, 'shared');
    const onTwo = collect(two, 'shared');
    await one.whenSubscribed();
    await two.whenSubscribed();
    await one.publish('shared', { type: 'one' });
    await two.publish('shared', { type: 'two' });
    await waitFor('own messages', () => onOne.got.length === 1 && onTwo.got.length === 1);
    await sleep(100);
    assert.deepEqual(onOne.got.map((m) => m.type), ['one']);
    assert.deepEqual(onTwo.got.map((m) => m.type), ['two']);
  });

  it('uses one Redis subscription per channel per process, and unsubscribes when the last handler leaves', async () => {
    const prefix = randomPrefix();
    const bus = await open(prefix);
    const channel = `${prefix}counted`;
    const offs = [1, 2, 3].map(() => bus.subscribe('counted', () => {}));
    await bus.whenSubscribed();
    assert.equal(await numsub(channel), 1);
    offs[0]!();
    offs[1]!();
    await bus.whenSubscribed();
    assert.equal(await numsub(channel), 1);
    const other = await open(prefix);
    const offOther = other.subscribe('counted', () => {});
    await other.whenSubscribed();
    assert.equal(await numsub(channel), 2, 'one per process (bus)');
    offs[2]!();
    offOther();
    await bus.whenSubscribed();
    await other.whenSubscribed();
    assert.equal(await numsub(channel), 0);
  });

  it('drops malformed payloads with a warning and keeps delivering', async () => {
    const prefix = randomPrefix();
    const { log, lines } = capturingLogger();
    const bus = await open(prefix, log);
    const { got } = collect(bus, 'dirty');
    await bus.whenSubscribed();
    for (const bad of ['not json{', '[1,2]', '"a string"', 'null', '{"no":"type"}', '{"type":42}']) {
      await raw.publish(`${prefix}dirty`, bad);
    }
    await raw.publish(`${prefix}dirty`, JSON.stringify({ type: 'fine', ok: true }));
    await waitFor('the good one', () => got.length === 1);
    assert.deepEqual(got, [{ type: 'fine', ok: true }]);
    const warnings = lines().filter((l) => l.msg === 'dropped a malformed event bus message');
    assert.equal(warnings.length, 6);
    assert.ok(warnings.every((w) => w.level === 40));
    // Nothing of the payload itself goes to the log.
    assert.ok(!JSON.stringify(lines()).includes('not json{'));
  });

  it('resubscribes after its subscriber connection is killed (CLIENT KILL)', async () => {
    const prefix = randomPrefix();
    const bus = (await open(prefix)) as RedisBus;
    const sender = await open(prefix);
    const { got } = collect(bus, 'survives');
    await bus.whenSubscribed();
    const clientId = async (name: string) => {
      const list = (await raw.client('LIST')) as string;
      const line = list.split('\n').find((l) => l.includes(` name=${name} `));
      return line ? /(?:^|\s)id=(\d+)/.exec(line)?.[1] : undefined;
    };
    const before = await clientId(bus.clientNames.subscriber);
    assert.ok(before, 'subscriber connection is named');
    assert.equal(await raw.client('KILL', 'ID', before), 1);
    let n = 0;
    await waitFor(
      'a message after the kill',
      async () => {
        await sender.publish('survives', { type: 'after-kill', n: n++ });
        await sleep(50);
        return got.length > 0;
      },
      10_000,
    );
    const afterId = await clientId(bus.clientNames.subscriber);
    assert.ok(afterId && afterId !== before, 'a new subscriber connection');
    assert.equal(await numsub(`${prefix}survives`), 1, 'subscribed once again, not twice');
    // The publisher connection recovers the same way: a publish after its kill still goes out.
    const pubId = await clientId(bus.clientNames.publisher);
    assert.ok(pubId);
    await raw.client('KILL', 'ID', pubId);
    const count = got.length;
    await bus.publish('survives', { type: 'after-publisher-kill' });
    await waitFor('publish after publisher kill', () => got.length > count && got.at(-1)?.type === 'after-publisher-kill');
  });

  it('connect() to a closed port fails quickly and clearly, without leaking a reconnect loop', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const started = Date.now();
    await assert.rejects(RedisBus.connect(`redis://user:hunter2secret@127.0.0.1:${port}`, randomPrefix(), createLogger('silent')), (err: Error) => {
      assert.match(err.message, new RegExp(`^Redis at redis://user:\\*\\*\\*@127\\.0\\.0\\.1:${port}/? is unreachable: .*ECONNREFUSED`));
      assert.ok(!err.message.includes('hunter2secret'));
      return true;
    });
    assert.ok(Date.now() - started < 6000);
  });

  it('refuses to publish or subscribe once closed', async () => {
    const bus = await RedisBus.connect(REDIS_URL, randomPrefix(), createLogger('silent'));
    await bus.close();
    await bus.close();
    await assert.rejects(bus.publish('x', { type: 'late' }), /closed/);
    assert.throws(() => bus.subscribe('x', () => {}), /closed/);
  });
});

describe('createEventBus and configuration', () => {
  it('is in-process without REDIS_URL, Redis with it', async () => {
    const base = { PORT: '0', DATA_DIR: '/tmp/televisit-bus-config' };
    const plain = loadConfig(base);
    assert.deepEqual(plain.redis, { url: null, keyPrefix: 'televisit:' });
    const inProcess = await createEventBus(plain, createLogger('silent'));
    assert.ok(inProcess instanceof InProcessBus);
    await inProcess.close();

    const prefix = randomPrefix();
    const withRedis = loadConfig({ ...base, REDIS_URL, REDIS_KEY_PREFIX: prefix });
    assert.deepEqual(withRedis.redis, { url: REDIS_URL, keyPrefix: prefix });
    const redis = await createEventBus(withRedis, createLogger('silent'));
    assert.ok(redis instanceof RedisBus);
    assert.equal(redis.keyPrefix, prefix);
    await redis.close();
  });

  it('rejects a REDIS_URL that is not redis:// or rediss://', () => {
    assert.throws(() => loadConfig({ REDIS_URL: 'http://127.0.0.1:6379' }), ConfigError);
    assert.throws(() => loadConfig({ REDIS_URL: 'not a url' }), ConfigError);
    assert.equal(loadConfig({ REDIS_URL: 'rediss://cache.internal:6380' }).redis.url, 'rediss://cache.internal:6380');
  });
});

describe('two full servers on PostgreSQL + Redis', () => {
  it('an event published on one node reaches subscribers on the other', async () => {
    const env = { REDIS_URL, REDIS_KEY_PREFIX: randomPrefix() };
    const one = await startServer('postgres', { env });
    const two = await startServer('postgres', { env });
    try {
      assert.ok(one.tv.bus instanceof RedisBus);
      assert.ok(two.tv.bus instanceof RedisBus);
      const onTwo = collect(two.tv.bus, 'room:RM00000000000000000000000000000001');
      await (two.tv.bus as RedisBus).whenSubscribed();
      await one.tv.bus.publish('room:RM00000000000000000000000000000001', { type: 'room-completed', roomSid: 'RM00000000000000000000000000000001' });
      await waitFor('event on node two', () => onTwo.got.length === 1);
      assert.deepEqual(onTwo.got[0], { type: 'room-completed', roomSid: 'RM00000000000000000000000000000001' });
      onTwo.off();
    } finally {
      await one.stop();
      await two.stop();
    }
  });
});
