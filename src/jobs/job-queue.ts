// A durable job queue in the database: status callbacks now, SMS and reminders later.
// Jobs of one group (a room, a phone number) run one at a time in id order; different groups
// run in parallel. A job is claimed with a lease, so a crashed process's jobs are picked up
// again after the lease ends, and a claim is a conditional UPDATE, so two processes never run
// the same job at once.
import type { Logger } from 'pino';
import { sql, type Transaction } from 'kysely';
import type { Db } from '../store/database.js';
import type { Database } from '../store/schema.js';
import { iso, type Clock } from '../util/clock.js';

export interface JobContext {
  id: number;
  attempts: number;
  createdAt: number;
}

/** Thrown by a handler for a failure that retrying cannot fix. */
export class PermanentJobError extends Error {}

export type JobHandler = (payload: any, ctx: JobContext) => Promise<void>;

export interface QueueSettings {
  handler: JobHandler;
  /** Give up (status failed) after this long since the job was created. */
  maxAgeMs: number;
  /** Delay before retry n (1-based). */
  backoffMs?: (attempt: number) => number;
  leaseMs?: number;
  /**
   * Called once when the queue gives up on a job whose handler kept failing (maxAgeMs passed),
   * so the job's owner can record the failure on its own row. Not called for a
   * PermanentJobError: the handler that threw it has already recorded why.
   */
  onGiveUp?: (payload: any, ctx: JobContext, lastError: string) => Promise<void>;
}

const defaultBackoff = (attempt: number): number => Math.min(1000 * 2 ** (attempt - 1), 10 * 60_000);

export class JobQueue {
  private readonly queues = new Map<string, QueueSettings>();
  private readonly running = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private stopped = true;
  private wakeRequested = false;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly concurrency: number,
    private readonly pollMs = 250,
  ) {}

  register(queue: string, settings: QueueSettings): void {
    this.queues.set(queue, settings);
  }

  /** Adds a job; pass the surrounding transaction so the job commits with the change it reports. */
  async enqueue(queue: string, groupKey: string, payload: unknown, opts: { trx?: Transaction<Database>; runAt?: number } = {}): Promise<void> {
    const now = iso(this.clock.now());
    await (opts.trx ?? this.db)
      .insertInto('jobs')
      .values({
        queue,
        group_key: groupKey,
        payload: JSON.stringify(payload),
        status: 'pending',
        attempts: 0,
        run_at: opts.runAt !== undefined ? iso(opts.runAt) : now,
        locked_until: null,
        last_error: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    this.wake();
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const deadline = Date.now() + 5000;
    while ((this.running.size > 0 || this.polling) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /** Ask for a poll soon (called after enqueue and after a job finishes). */
  wake(): void {
    if (this.stopped) return;
    if (this.polling) {
      this.wakeRequested = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), ms);
  }

  private async poll(): Promise<void> {
    if (this.stopped || this.polling) return;
    this.polling = true;
    this.wakeRequested = false;
    try {
      await this.claimAndRun();
    } catch (err) {
      this.log.error({ err }, 'job queue poll failed');
    } finally {
      this.polling = false;
      this.schedule(this.wakeRequested ? 0 : this.pollMs);
    }
  }

  private async claimAndRun(): Promise<void> {
    const free = this.concurrency - this.running.size;
    if (free <= 0) return;
    const now = this.clock.now();
    const nowIso = iso(now);
    // Only the head of each group is eligible: no earlier job of the same group is still open.
    // A running job whose lease ran out counts as open-and-claimable (its process died).
    const heads = await this.db
      .selectFrom('jobs as j')
      .select(['j.id', 'j.queue', 'j.payload', 'j.attempts', 'j.created_at', 'j.status'])
      .where((eb) =>
        eb.or([
          eb.and([eb('j.status', '=', 'pending'), eb('j.run_at', '<=', nowIso)]),
          eb.and([eb('j.status', '=', 'running'), eb('j.locked_until', '<', nowIso)]),
        ]),
      )
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('jobs as k')
              .select(sql.lit(1).as('one'))
              .whereRef('k.group_key', '=', 'j.group_key')
              .whereRef('k.id', '<', 'j.id')
              .where('k.status', 'in', ['pending', 'running']),
          ),
        ),
      )
      .where('j.queue', 'in', [...this.queues.keys()])
      .orderBy('j.id')
      .limit(free)
      .execute();

    for (const job of heads) {
      if (this.running.has(job.id)) continue;
      const settings = this.queues.get(job.queue);
      if (!settings) continue;
      const leaseMs = settings.leaseMs ?? 60_000;
      const claimed = await this.db
        .updateTable('jobs')
        .set({ status: 'running', locked_until: iso(now + leaseMs), attempts: job.attempts + 1, updated_at: nowIso })
        .where('id', '=', job.id)
        .where('attempts', '=', job.attempts)
        .where('status', '=', job.status)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) continue;
      this.running.add(job.id);
      void this.run(job.id, job.queue, settings, job.payload, job.attempts + 1, Date.parse(job.created_at));
    }
  }

  private async run(id: number, queue: string, settings: QueueSettings, payload: string, attempts: number, createdAt: number): Promise<void> {
    try {
      await settings.handler(JSON.parse(payload), { id, attempts, createdAt });
      await this.finish(id, { status: 'done', last_error: null });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const now = this.clock.now();
      const retryAt = now + (settings.backoffMs ?? defaultBackoff)(attempts);
      const permanent = err instanceof PermanentJobError;
      const giveUp = permanent || retryAt - createdAt > settings.maxAgeMs;
      this.log.warn({ queue, jobId: id, attempts, giveUp, error: message }, giveUp ? 'job failed permanently' : 'job failed; will retry');
      if (giveUp && !permanent && settings.onGiveUp) {
        try {
          await settings.onGiveUp(JSON.parse(payload), { id, attempts, createdAt }, message);
        } catch (hookErr) {
          this.log.error({ err: hookErr, queue, jobId: id }, 'job give-up hook failed');
        }
      }
      await this.finish(id, giveUp ? { status: 'failed', last_error: message } : { status: 'pending', last_error: message, run_at: iso(retryAt) });
    } finally {
      this.running.delete(id);
      this.wake();
    }
  }

  private async finish(id: number, set: { status: 'done' | 'failed' | 'pending'; last_error: string | null; run_at?: string }): Promise<void> {
    try {
      await this.db
        .updateTable('jobs')
        .set({ ...set, locked_until: null, updated_at: iso(this.clock.now()) })
        .where('id', '=', id)
        .execute();
    } catch (err) {
      // The lease will expire and the job will run again: at-least-once, never lost.
      this.log.error({ err, jobId: id }, 'could not record job result');
    }
  }

  /** Test and operations helper: counts by status for a queue. */
  async counts(queue: string): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('jobs')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('queue', '=', queue)
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }
}
