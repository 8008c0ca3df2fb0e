import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, ClientBase } from 'pg';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';

/** The advisory lock that makes one replica the leader; any fixed number would do. */
export const LEADER_LOCK_KEY = 0x6b73_7200;

export interface LeaderLockOptions {
  /** Opens a new connection to the state database. */
  readonly connect: () => Promise<Client>;
  /** How often a standby asks for the lock. */
  readonly retryMs: number;
  /** How often the leader checks that its connection, and so its lock, is alive. */
  readonly heartbeatMs: number;
  /** How long a heartbeat may take before the leader counts its lock as lost. */
  readonly heartbeatTimeoutMs: number;
  /**
   * How long a new leader waits before it writes anything. A leader notices a lost lock within
   * `heartbeatMs + heartbeatTimeoutMs` and stops writing at once; the grace must exceed that,
   * so that two leaders never write at the same time.
   */
  readonly graceMs: number;
  readonly logger: Logger;
  readonly signal: AbortSignal;
}

/** This replica is the leader, on the connection that holds the lock. */
export interface Leadership {
  /** The connection holding the lock; the only one the leader writes its state on. */
  readonly client: Client;
  /**
   * Settles (never rejects) when the lock is lost: the connection broke or stopped answering.
   * Never settles after `release`.
   */
  readonly lost: Promise<Error>;
  /** Gives the lock up (closing its connection), so a standby takes over at once. */
  release(): Promise<void>;
}

/**
 * The backend (PostgreSQL pid) that holds the leader lock in `client`'s database; undefined
 * when no replica leads. Advisory locks are per database, and a bigint key shows in `pg_locks`
 * as its high (`classid`) and low (`objid`) 32 bits.
 */
export async function leaderLockHolder(client: ClientBase): Promise<number | undefined> {
  const found = await client.query<{ pid: number }>(
    `SELECT pid FROM pg_locks
       WHERE locktype = 'advisory' AND granted AND classid = 0 AND objid = $1
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [LEADER_LOCK_KEY],
  );
  return found.rows[0]?.pid;
}

/** The leader lock is taken; only a dry run may read beside the leader. */
export class LeaderLockHeldError extends Error {}

/**
 * Waits until this replica holds the leader lock: a PostgreSQL session-level advisory lock,
 * held as long as its connection lives. A leader that dies (SIGKILL, node loss) loses its
 * connection and so the lock; a standby asking every `retryMs` then takes over.
 *
 * Fencing: the leader's connection carries its heartbeats and every state write. When the
 * connection ends or a heartbeat fails, `lost` settles and the leader stops writing; a standby
 * that took the lock waits `graceMs` before it starts, which is longer than that detection.
 * The session's TCP keepalives are short, so that PostgreSQL also notices a leader cut off by
 * the network within seconds, instead of holding its lock for the system default of hours.
 */
export async function acquireLeadership(options: LeaderLockOptions): Promise<Leadership> {
  let announced = false;
  for (;;) {
    options.signal.throwIfAborted();
    let client: Client | undefined;
    try {
      client = await options.connect();
      await client.query(
        'SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3',
      );
      for (;;) {
        const taken = await client.query<{ taken: boolean }>(
          'SELECT pg_try_advisory_lock($1) AS taken',
          [LEADER_LOCK_KEY],
        );
        if (taken.rows[0]?.taken === true) break;
        if (!announced) {
          options.logger.info(
            'standing by: another replica is the leader; taking over when its lock is released',
          );
          announced = true;
        }
        await sleep(options.retryMs, undefined, { signal: options.signal });
      }
      const leadership = watch(client, options);
      options.logger.info(
        { graceMs: options.graceMs },
        'took the leader lock; waiting out the grace period, so that a previous leader has stopped writing',
      );
      const outcome = await Promise.race([
        sleep(options.graceMs, 'ready' as const, { signal: options.signal }),
        leadership.lost,
      ]);
      if (outcome !== 'ready') throw outcome;
      return leadership;
    } catch (error) {
      await client?.end().catch(() => undefined);
      if (options.signal.aborted) throw error;
      options.logger.warn(
        { error: describeError(error) },
        'cannot reach the state database (STATE_URL) to elect a leader; trying again',
      );
      await sleep(options.retryMs, undefined, { signal: options.signal });
    }
  }
}

/**
 * One attempt for a `resync` beside the replicas: takes the lock or refuses at once, never
 * waits (a relay running as leader would race with it).
 */
export async function tryLeaderLock(client: Client): Promise<void> {
  const taken = await client.query<{ taken: boolean }>('SELECT pg_try_advisory_lock($1) AS taken', [
    LEADER_LOCK_KEY,
  ]);
  if (taken.rows[0]?.taken !== true) {
    throw new LeaderLockHeldError(
      'a relay replica is the leader on this STATE_URL: its own full reconciles keep Kestra in line; stop the replicas for a resync by hand, or run `resync --dry-run`, which only reads',
    );
  }
}

/** Heartbeats on the lock's connection; `lost` settles at the first sign it is gone. */
function watch(client: Client, options: LeaderLockOptions): Leadership {
  let settle: (error: Error) => void = () => undefined;
  const lost = new Promise<Error>((resolve) => {
    settle = resolve;
  });
  let over = false;
  const lose = (error: Error): void => {
    if (over) return;
    over = true;
    clearInterval(timer);
    settle(error);
  };
  client.on('error', (error) => {
    lose(new Error(`the leader lock's connection failed: ${describeError(error)}`));
  });
  client.on('end', () => {
    lose(new Error("the leader lock's connection closed"));
  });
  let beating = false;
  const timer = setInterval(() => {
    if (beating) return;
    beating = true;
    const answer = client.query('SELECT 1');
    const deadline = new AbortController();
    const late = sleep(options.heartbeatTimeoutMs, 'late' as const, { signal: deadline.signal });
    Promise.race([answer, late])
      .then((outcome) => {
        if (outcome === 'late') {
          lose(new Error(`no heartbeat answer within ${options.heartbeatTimeoutMs} ms`));
        }
      })
      .catch((error: unknown) => {
        lose(new Error(`a heartbeat failed: ${describeError(error)}`));
      })
      .finally(() => {
        beating = false;
        deadline.abort();
      });
  }, options.heartbeatMs);
  timer.unref();
  return {
    client,
    lost,
    async release() {
      // Giving the lock up is not losing it: `lost` stays unsettled.
      over = true;
      clearInterval(timer);
      await client.end().catch(() => undefined);
    },
  };
}
