import pg from 'pg';
import type { Config } from '../config.js';
import { leaderLockHolder } from '../ha/leader-lock.js';
import { PG_SCHEMA } from '../state/postgres/tables.js';
import { StateDirLock } from '../state/state-dir-lock.js';
import {
  StateStore,
  parkedFromRow,
  type CheckpointRow,
  type ParkedItem,
  type ParkedRow,
} from '../state/state-store.js';
import { probe, type Probe } from './probe.js';

/** What the operator commands read from the relay's state: never the id maps. */
export interface StateSummary {
  readonly checkpoints: readonly CheckpointRow[];
  readonly parkedCount: number;
  /** Oldest first, at most the limit asked for. */
  readonly parked: readonly ParkedItem[];
}

/** Who runs on the state: on SQLite the holder of STATE_DIR's lock, on PostgreSQL the leader. */
export type RelayHolder =
  | { readonly state: 'sqlite'; readonly running: boolean; readonly pid?: number | undefined }
  | { readonly state: 'postgres'; readonly leader: LeaderInfo | undefined };

/** The session that holds the leader lock, as `pg_stat_activity` shows it. */
export interface LeaderInfo {
  /** The backend's pid (PostgreSQL's, not the relay's). */
  readonly pid: number;
  /** `keycloak-scim-relay run (<host> pid <pid>)` for a replica of this version. */
  readonly applicationName?: string | undefined;
  readonly clientAddress?: string | undefined;
  /** When its session began, epoch ms: about when it took the lead. */
  readonly since?: number | undefined;
}

/** Where the state is, as an operator may see it (never the URL, which may hold a password). */
export type StateLocation =
  { readonly kind: 'sqlite'; readonly dir: string } | { readonly kind: 'postgres' };

export function stateLocation(config: Config): StateLocation {
  return config.state.url === undefined
    ? { kind: 'sqlite', dir: config.state.dir }
    : { kind: 'postgres' };
}

const TIMEOUT_MS = 10_000;

/**
 * Reads the checkpoints and parked work, and who runs on the state, without taking a lock
 * and without writing: beside a running relay (SQLite read-only, as `resync --dry-run` opens
 * it; on PostgreSQL a read-only snapshot of two tables, not the whole state a leader loads).
 */
export async function readStateSummary(
  config: Config,
  /** `parkedLimit`: the parked items to read, oldest first; every one when undefined. */
  options: { readonly parkedLimit: number | undefined },
): Promise<{ readonly summary: Probe<StateSummary>; readonly holder: Probe<RelayHolder> }> {
  const url = config.state.url;
  if (url === undefined) {
    const dir = config.state.dir;
    return {
      holder: await probe((): RelayHolder => {
        const lock = StateDirLock.probe(dir);
        return { state: 'sqlite', running: lock.held, pid: lock.pid };
      }),
      summary: await probe(async () => {
        const store = StateStore.open(dir, { readOnly: true });
        try {
          const parked = store.parked();
          return {
            checkpoints: store.checkpointRows(),
            parkedCount: parked.length,
            parked: parked.slice(0, options.parkedLimit ?? parked.length),
          };
        } finally {
          await store.close();
        }
      }),
    };
  }
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: TIMEOUT_MS,
    application_name: 'keycloak-scim-relay status',
  });
  client.on('error', () => undefined);
  const connected = await probe(() => client.connect());
  if (!connected.ok) {
    const failed = { ok: false, error: `cannot reach PostgreSQL: ${connected.error}` } as const;
    await client.end().catch(() => undefined);
    return { summary: failed, holder: failed };
  }
  try {
    const holder = await probe(() => leaderOf(client));
    const summary = await probe(() => summaryFromPostgres(client, options.parkedLimit));
    return { summary, holder };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function leaderOf(client: pg.Client): Promise<RelayHolder> {
  const pid = await leaderLockHolder(client);
  if (pid === undefined) return { state: 'postgres', leader: undefined };
  const found = await client.query<{
    application_name: string | null;
    client_addr: string | null;
    since: number | null;
  }>(
    `SELECT application_name, client_addr::text AS client_addr,
            (extract(epoch FROM backend_start) * 1000)::float8 AS since
       FROM pg_stat_activity WHERE pid = $1`,
    [pid],
  );
  const row = found.rows[0];
  return {
    state: 'postgres',
    leader: {
      pid,
      ...(row?.application_name ? { applicationName: row.application_name } : {}),
      ...(row?.client_addr ? { clientAddress: row.client_addr } : {}),
      ...(typeof row?.since === 'number' ? { since: Math.round(row.since) } : {}),
    },
  };
}

/** The two tables, from one snapshot; a database the relay never used holds nothing yet. */
async function summaryFromPostgres(
  client: pg.Client,
  limit: number | undefined,
): Promise<StateSummary> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const checkpoints = await client.query<{ name: string; value: string; updated_at: number }>(
      `SELECT name, value, updated_at::float8 AS updated_at FROM "${PG_SCHEMA}"."checkpoints" ORDER BY name`,
    );
    const count = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${PG_SCHEMA}"."parked"`,
    );
    const parked = await client.query<ParkedRow>(
      `SELECT key, hint, reason, attempts, first_failed_at::float8 AS first_failed_at,
              last_failed_at::float8 AS last_failed_at
         FROM "${PG_SCHEMA}"."parked" ORDER BY first_failed_at LIMIT $1`,
      // LIMIT NULL is no limit.
      [limit ?? null],
    );
    await client.query('COMMIT');
    return {
      checkpoints: checkpoints.rows.map((row) => ({
        name: row.name,
        value: row.value,
        updatedAt: row.updated_at,
      })),
      parkedCount: count.rows[0]?.n ?? 0,
      parked: parked.rows.map(parkedFromRow),
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    // 3F000: no such schema, 42P01: no such table: no relay has run on this database yet.
    if (
      error instanceof Error &&
      'code' in error &&
      (error.code === '3F000' || error.code === '42P01')
    ) {
      return { checkpoints: [], parkedCount: 0, parked: [] };
    }
    throw error;
  }
}
