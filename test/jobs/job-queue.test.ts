// The durable job queue on SQLite and PostgreSQL: retry, give-up after maxAgeMs, and the
// give-up hook that lets a job's owner record the failure on its own row.
import '../helpers/unhandled.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { JobQueue, PermanentJobError, type JobContext } from '../../src/jobs/job-queue.js';
import { openDatabase, type OpenedDatabase } from '../../src/store/database.js';
import { OffsetClock } from '../../src/util/clock.js';
import { DATABASES, TEST_DATABASE_URL, waitFor } from '../helpers/server.js';

const HOUR = 3600_000;

for (const kind of DATABASES) {
  describe(`job queue [${kind}]`, () => {
    const clock = new OffsetClock();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'televisit-jobs-'));
    const schema = `t_${randomBytes(6).toString('hex')}`;
    let database: OpenedDatabase;
    let jobs: JobQueue;
    const gaveUp: Array<{ payload: unknown; ctx: JobContext; lastError: string }> = [];
    const attempts = new Map<string, number>();

    before(async () => {
      database = await openDatabase(kind === 'postgres' ? { databaseUrl: TEST_DATABASE_URL, schema, dataDir: dir } : { databaseUrl: null, dataDir: dir });
      jobs = new JobQueue(database.db, clock, pino({ level: 'silent' }), 4, 20);
      jobs.register('flaky', {
        maxAgeMs: HOUR,
        backoffMs: () => 30,
        handler: async (payload: { key: string; jumpMs?: number; permanent?: boolean }) => {
          attempts.set(payload.key, (attempts.get(payload.key) ?? 0) + 1);
          // The clock jumps while the handler runs: the queue's give-up reading comes after it.
          if (payload.jumpMs) clock.advance(payload.jumpMs);
          if (payload.permanent) throw new PermanentJobError('refused for good');
          throw new Error(`attempt ${attempts.get(payload.key)} failed`);
        },
        onGiveUp: async (payload, ctx, lastError) => {
          gaveUp.push({ payload, ctx, lastError });
        },
      });
      jobs.start();
    });
    after(async () => {
      await jobs.stop();
      await database.close();
      fs.rmSync(dir, { recursive: true, force: true });
      if (kind === 'postgres') {
        const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
        await admin.connect();
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.end();
      }
    });

    test('a failing job is retried until maxAgeMs passes, then failed and handed to onGiveUp once', async () => {
      await jobs.enqueue('flaky', 'a', { key: 'a' });
      await waitFor('a few retries', () => (attempts.get('a') ?? 0) >= 3);
      assert.equal(gaveUp.length, 0);
      assert.equal((await jobs.counts('flaky')).failed, undefined);
      clock.advance(2 * HOUR);
      try {
        await waitFor('give-up', () => gaveUp.some((g) => (g.payload as { key: string }).key === 'a'));
        const g = gaveUp.find((x) => (x.payload as { key: string }).key === 'a')!;
        assert.equal(g.ctx.attempts, attempts.get('a'));
        assert.match(g.lastError, /^attempt \d+ failed$/);
        await waitFor('failed row', async () => (await jobs.counts('flaky')).failed === 1);
        const n = attempts.get('a');
        await new Promise((r) => setTimeout(r, 150));
        assert.equal(attempts.get('a'), n, 'no attempt after giving up');
        assert.equal(gaveUp.filter((x) => (x.payload as { key: string }).key === 'a').length, 1);
      } finally {
        clock.advance(-2 * HOUR);
      }
    });

    test('the clock passing maxAgeMs during the attempt still reaches onGiveUp (CI flake of the SMS give-up)', async () => {
      await jobs.enqueue('flaky', 'b', { key: 'b', jumpMs: 2 * HOUR });
      try {
        await waitFor('give-up', () => gaveUp.some((g) => (g.payload as { key: string }).key === 'b'));
        assert.equal(attempts.get('b'), 1);
      } finally {
        clock.advance(-2 * HOUR);
      }
    });

    test('a PermanentJobError fails the job at once without the hook (the handler recorded why)', async () => {
      const before = gaveUp.length;
      await jobs.enqueue('flaky', 'c', { key: 'c', permanent: true });
      await waitFor('failed row', async () => (await jobs.counts('flaky')).failed === 3);
      assert.equal(attempts.get('c'), 1);
      assert.equal(gaveUp.length, before);
    });
  });
}
