import type { ClientBase } from 'pg';
import { describeError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { ChangeSet, ChangeTracker, TableChanges } from './change-tracker.js';
import { qualified } from './tables.js';

/** The replication ended: its connection is gone (leadership lost) or the store closed. */
export class ReplicationStoppedError extends Error {}

/** How often changes are sent when nobody waits for them. */
const FLUSH_EVERY_MS = 100;
/** Rows per statement: large batches, without query texts or parameter lists that explode. */
const ROWS_PER_STATEMENT = 2_000;
const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5_000;

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * Sends the local store's changes to PostgreSQL, collection by collection, each in one
 * transaction, in order. Runs on the leader's own connection, the one that holds the leader
 * lock: a replica that lost the lock has lost that connection too, so it can no longer write
 * (fencing by construction, no check-then-write race).
 */
export class Replication {
  private readonly timer: NodeJS.Timeout;
  private waiting: Waiter[] = [];
  private running: Promise<void> | undefined;
  private stopped: Error | undefined;
  private failures = 0;

  constructor(
    private readonly client: ClientBase,
    private readonly tracker: ChangeTracker,
    private readonly logger: Logger | undefined,
  ) {
    this.timer = setInterval(() => {
      if (this.tracker.pending()) this.kick();
    }, FLUSH_EVERY_MS);
    this.timer.unref();
  }

  /** Resolves once every change made before the call is in PostgreSQL. */
  durable(): Promise<void> {
    if (this.stopped !== undefined) return Promise.reject(this.stopped);
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.kick();
    });
  }

  /** Sends what is left, then stops; later changes stay local. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (this.stopped === undefined) {
      await this.durable().catch((error: unknown) => {
        this.logger?.warn(
          { error: describeError(error) },
          'the last state changes could not reach PostgreSQL; the next leader redoes their work',
        );
      });
    }
    this.halt(new ReplicationStoppedError('the state store is closed'));
  }

  /** Stops at once: the connection is gone, nothing more can be written. */
  halt(reason: Error): void {
    clearInterval(this.timer);
    this.stopped ??= reason;
    for (const waiter of this.waiting.splice(0)) waiter.reject(this.stopped);
  }

  private halted(): boolean {
    return this.stopped !== undefined;
  }

  private kick(): void {
    if (this.running !== undefined) return;
    this.running = this.loop().finally(() => {
      this.running = undefined;
      // A waiter that came while the loop was returning would otherwise wait for the timer.
      if (this.stopped === undefined && this.waiting.length > 0) this.kick();
    });
  }

  private async loop(): Promise<void> {
    while (this.stopped === undefined && (this.waiting.length > 0 || this.tracker.pending())) {
      const waiters = this.waiting.splice(0);
      const changes = this.tracker.collect();
      try {
        await this.send(changes);
        this.failures = 0;
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        this.tracker.restore(changes);
        this.waiting.unshift(...waiters);
        // halt() may have come during the send.
        if (this.halted()) break;
        this.failures++;
        this.logger?.warn(
          { error: describeError(error), attempt: this.failures },
          'could not write the state to PostgreSQL; trying again',
        );
        const pause = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
    if (this.stopped !== undefined) {
      for (const waiter of this.waiting.splice(0)) waiter.reject(this.stopped);
    }
  }

  private async send(changes: ChangeSet): Promise<void> {
    if (changes.keys.length === 0) return;
    await this.client.query('BEGIN');
    try {
      for (const table of changes.tables) await this.sendTable(table);
      await this.client.query('COMMIT');
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  private async sendTable({ table, upserts, deletes }: TableChanges): Promise<void> {
    const name = qualified(table);
    const keyList = table.key.join(', ');
    for (let at = 0; at < deletes.length; at += ROWS_PER_STATEMENT) {
      const batch = deletes.slice(at, at + ROWS_PER_STATEMENT);
      const arrays = table.key.map((_, i) => batch.map((key) => key[i]));
      await this.client.query(
        `DELETE FROM ${name} WHERE (${keyList}) IN (SELECT * FROM unnest(${table.key.map((_, i) => `$${i + 1}::text[]`).join(', ')}))`,
        arrays,
      );
    }
    const columns = table.columns.map((c) => c.name);
    const others = columns.filter((c) => !table.key.includes(c));
    const onConflict =
      others.length === 0
        ? 'DO NOTHING'
        : `DO UPDATE SET ${others.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`;
    for (let at = 0; at < upserts.length; at += ROWS_PER_STATEMENT) {
      const batch = upserts.slice(at, at + ROWS_PER_STATEMENT);
      const arrays = table.columns.map((_, i) => batch.map((row) => row[i] ?? null));
      await this.client.query(
        `INSERT INTO ${name} (${columns.join(', ')}) SELECT * FROM unnest(${table.columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ')}) ON CONFLICT (${keyList}) ${onConflict}`,
        arrays,
      );
    }
  }
}
