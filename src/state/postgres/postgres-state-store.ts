import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ClientBase } from 'pg';
import type { Logger } from '../../logger.js';
import { migrateSqlite } from '../sqlite-schema.js';
import { StateStore } from '../state-store.js';
import { ChangeTracker } from './change-tracker.js';
import { migratePostgres } from './pg-schema.js';
import { Replication } from './replication.js';
import { qualified, TABLES, type TableSpec } from './tables.js';

/** Rows read per query while loading, so that a large state never sits in memory at once. */
const LOAD_PAGE = 5_000;

export interface PostgresStateStoreOptions {
  readonly logger?: Logger | undefined;
  /**
   * Load a snapshot and never write back: for `resync --dry-run` beside a running leader.
   * Without it the caller must hold the leader lock on `client`.
   */
  readonly readOnly?: boolean;
}

/**
 * The state kept in PostgreSQL (`STATE_URL`), shared by the replicas of a relay.
 *
 * The relay reads and writes its state synchronously, between the awaits of a reconcile, so
 * that no other work interleaves between a read and the write that depends on it. This store
 * keeps that: the leader loads the state from PostgreSQL into a local SQLite file (a cache in
 * the temporary directory, bounded in memory like the embedded store), works on it exactly as
 * the embedded store does, and replicates every change to PostgreSQL in order, in batches, one
 * transaction per batch (see `Replication`). `durable()` waits for that replication; the AMQP
 * source waits for it before it acks. What the replication had not sent when a leader dies is
 * work the next leader does again: its messages were not acked, its events not checkpointed.
 */
export class PostgresStateStore extends StateStore {
  private constructor(
    db: Database.Database,
    private readonly replication: Replication | undefined,
    private readonly cacheDir: string,
  ) {
    super(db);
    // A cache: PostgreSQL holds the durable copy, so local writes need not wait for the disk.
    db.pragma('synchronous = OFF');
  }

  /** Migrates the schema, loads the state and starts replicating on `client`. */
  static async connect(
    client: ClientBase,
    options: PostgresStateStoreOptions = {},
  ): Promise<PostgresStateStore> {
    if (options.readOnly !== true) await migratePostgres(client);
    const cacheDir = mkdtempSync(join(tmpdir(), 'keycloak-scim-relay-state-'));
    let cache: Database.Database | undefined;
    try {
      cache = new Database(join(cacheDir, 'state.sqlite'));
      // The local tables are the embedded store's; the load fills them before tracking starts.
      migrateSqlite(cache);
      await load(client, cache, options.readOnly === true);
      const replication =
        options.readOnly === true
          ? undefined
          : new Replication(client, new ChangeTracker(cache), options.logger);
      return new PostgresStateStore(cache, replication, cacheDir);
    } catch (error) {
      cache?.close();
      rmSync(cacheDir, { recursive: true, force: true });
      throw error;
    }
  }

  protected override persist(): Promise<void> {
    return this.replication?.durable() ?? Promise.resolve();
  }

  /** Stops replicating at once: the leader lock's connection is gone. */
  halt(reason: Error): void {
    this.replication?.halt(reason);
  }

  override async close(): Promise<void> {
    await this.replication?.stop();
    await super.close();
    rmSync(this.cacheDir, { recursive: true, force: true });
  }
}

/**
 * Copies every table from PostgreSQL into the local cache, page by page in key order, from one
 * snapshot (a read-only dry run may run while the leader writes).
 */
async function load(
  client: ClientBase,
  cache: Database.Database,
  snapshot: boolean,
): Promise<void> {
  await client.query(snapshot ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
  try {
    for (const table of TABLES) await loadTable(client, cache, table);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function loadTable(
  client: ClientBase,
  cache: Database.Database,
  table: TableSpec,
): Promise<void> {
  // bigint comes back as text from node-postgres; these are millisecond times, exact in a double.
  const select = table.columns
    .map((c) => (c.type === 'bigint' ? `${c.name}::float8 AS ${c.name}` : c.name))
    .join(', ');
  const keys = table.key.join(', ');
  const insert = cache.prepare(
    `INSERT OR REPLACE INTO ${table.name} (${table.columns.map((c) => c.name).join(', ')}) VALUES (${table.columns.map(() => '?').join(', ')})`,
  );
  const insertAll = cache.transaction((rows: readonly unknown[][]) => {
    for (const row of rows) insert.run(...row);
  });
  let after: unknown[] | undefined;
  for (;;) {
    const where =
      after === undefined
        ? ''
        : `WHERE (${keys}) > (${table.key.map((_, i) => `$${i + 1}`).join(', ')})`;
    const page = await client.query<unknown[]>({
      text: `SELECT ${select} FROM ${qualified(table)} ${where} ORDER BY ${keys} LIMIT ${LOAD_PAGE}`,
      values: after ?? [],
      rowMode: 'array',
    });
    insertAll(page.rows);
    const last = page.rows.at(-1);
    if (last === undefined || page.rows.length < LOAD_PAGE) return;
    after = table.key.map((key) => last[table.columns.findIndex((c) => c.name === key)]);
  }
}
