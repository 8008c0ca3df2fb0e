import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  acquireLeadership,
  LeaderLockHeldError,
  tryLeaderLock,
  type Leadership,
} from '../../src/ha/leader-lock.js';
import { createLogger } from '../../src/logger.js';
import { migratePostgres } from '../../src/state/postgres/pg-schema.js';
import { PostgresStateStore } from '../../src/state/postgres/postgres-state-store.js';
import { PG_SCHEMA } from '../../src/state/postgres/tables.js';
import type { StateStore } from '../../src/state/state-store.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.js';
import { snapshotOf, stateStoreContract } from '../support/state-store-contract.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase('relay_state');
});
afterAll(async () => {
  await database.drop();
});

const clients = new Set<pg.Client>();
async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: database.url });
  client.on('error', () => undefined);
  await client.connect();
  clients.add(client);
  return client;
}
async function end(client: pg.Client): Promise<void> {
  clients.delete(client);
  await client.end().catch(() => undefined);
}
async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect();
  try {
    return await work(client);
  } finally {
    await end(client);
  }
}

/** The PostgreSQL store: each fresh one starts from an empty schema; reopening reconnects. */
const storeClients = new WeakMap<StateStore, pg.Client>();
stateStoreContract('PostgreSQL (STATE_URL)', {
  async fresh() {
    await admin((client) => client.query(`DROP SCHEMA IF EXISTS "${PG_SCHEMA}" CASCADE`));
    const client = await connect();
    const store = await PostgresStateStore.connect(client);
    storeClients.set(store, client);
    return store;
  },
  async reopen(store) {
    // Everything reached PostgreSQL first: a replication that failed would otherwise only be
    // logged by close(), and the reload below would hide what it left behind.
    await Promise.race([
      store.durable(),
      new Promise((_, reject) =>
        setTimeout(() => {
          reject(new Error('the state changes did not reach PostgreSQL within 10 s'));
        }, 10_000).unref(),
      ),
    ]);
    await store.close();
    const old = storeClients.get(store);
    if (old !== undefined) await end(old);
    const client = await connect();
    const again = await PostgresStateStore.connect(client);
    storeClients.set(again, client);
    return again;
  },
  async cleanup() {
    for (const client of [...clients]) await end(client);
  },
});

const quiet = createLogger({ level: 'silent', secrets: [] });

describe('PostgresStateStore', () => {
  it('has in PostgreSQL, for a reader on another connection, what durable() waited for', async () => {
    await admin((client) => client.query(`DROP SCHEMA IF EXISTS "${PG_SCHEMA}" CASCADE`));
    const leader = await PostgresStateStore.connect(await connect());
    for (let i = 0; i < 500; i++) {
      leader.putUser({ keycloakId: `k${i}`, scimId: `s${i}`, userName: `u${i}` });
    }
    leader.putCheckpoint('poll.admin', 'after-500');
    await leader.durable();
    const readerClient = await connect();
    const reader = await PostgresStateStore.connect(readerClient, { readOnly: true });
    expect(snapshotOf(reader, ['poll.admin'])).toEqual(snapshotOf(leader, ['poll.admin']));
    expect(reader.linkCounts().users).toBe(500);
    await reader.close();
    await end(readerClient);
    await leader.close();
  });

  it('replicates the link a SCIM resource leaves when another entity takes it', async () => {
    await admin((client) => client.query(`DROP SCHEMA IF EXISTS "${PG_SCHEMA}" CASCADE`));
    const leader = await PostgresStateStore.connect(await connect());
    leader.putUser({ keycloakId: 'old-owner', scimId: 'shared', userName: 'ada' });
    leader.putGroup({ keycloakId: 'g-old', scimId: 'sg', displayName: '/x', parentId: undefined });
    await leader.durable();
    leader.putUser({ keycloakId: 'new-owner', scimId: 'shared', userName: 'ada' });
    leader.putGroup({ keycloakId: 'g-new', scimId: 'sg', displayName: '/x', parentId: undefined });
    await leader.durable();
    // Read from PostgreSQL itself: a reload would hide a row the replication left behind.
    const rows = await admin(async (client) => ({
      users: (await client.query(`SELECT keycloak_id FROM "${PG_SCHEMA}".users`)).rows,
      groups: (await client.query(`SELECT keycloak_id FROM "${PG_SCHEMA}".groups`)).rows,
    }));
    expect(rows).toEqual({
      users: [{ keycloak_id: 'new-owner' }],
      groups: [{ keycloak_id: 'g-new' }],
    });
    await leader.close();
  });

  it('never holds a checkpoint ahead of the work it stands for, when the leader is cut off at any moment', async () => {
    const seen: (number | undefined)[] = [];
    for (const cutAfterMs of [0, 50, 120, 250, 400]) {
      await admin((client) => client.query(`DROP SCHEMA IF EXISTS "${PG_SCHEMA}" CASCADE`));
      const client = await connect();
      const store = await PostgresStateStore.connect(client, { logger: quiet });
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]
        ?.pid;
      let written = 0;
      const writing = (async () => {
        for (let i = 0; i < 2_000; i++) {
          // The work, then the checkpoint that says it is done, as the poll source does.
          store.putUser({ keycloakId: `k${i}`, scimId: `s${i}`, userName: `u${i}` });
          store.putCheckpoint('poll', String(i));
          written = i;
          // Acks ask for durability now and then; the timer sends the rest.
          if (i % 100 === 0) store.durable().catch(() => undefined);
          if (i % 5 === 0) await sleep(1);
        }
      })();
      await sleep(cutAfterMs);
      await admin((a) => a.query('SELECT pg_terminate_backend($1)', [pid]));
      await writing;
      store.halt(new Error('cut off'));
      await store.close();
      await end(client);

      const next = await PostgresStateStore.connect(await connect());
      const checkpoint = next.checkpoint('poll');
      const users = new Set(next.users().map((u) => u.keycloakId));
      if (checkpoint !== undefined) {
        for (let i = 0; i <= Number(checkpoint); i++) expect(users.has(`k${i}`)).toBe(true);
      }
      expect(users.size).toBeLessThanOrEqual(written + 1);
      seen.push(checkpoint === undefined ? undefined : Number(checkpoint));
      await next.close();
    }
    // The cuts did land mid-stream: some state was replicated, and not all of it.
    expect(seen.some((c) => c !== undefined && c < 1_999)).toBe(true);
  });

  it('runs its migrations once when replicas start together, and refuses a newer schema', async () => {
    await admin((client) => client.query(`DROP SCHEMA IF EXISTS "${PG_SCHEMA}" CASCADE`));
    const [a, b, c] = await Promise.all([connect(), connect(), connect()]);
    await Promise.all([migratePostgres(a), migratePostgres(b), migratePostgres(c)]);
    const versions = await a.query<{ version: number }>(
      `SELECT version FROM "${PG_SCHEMA}".schema_version`,
    );
    expect(versions.rows).toEqual([{ version: 1 }]);
    await a.query(`UPDATE "${PG_SCHEMA}".schema_version SET version = 99`);
    await expect(PostgresStateStore.connect(b)).rejects.toThrow(
      /STATE_URL\) is from a newer relay \(schema version 99, this relay knows 1\)/,
    );
  });
});

describe('the leader lock', () => {
  const options = (signal: AbortSignal) => ({
    connect,
    retryMs: 100,
    heartbeatMs: 100,
    heartbeatTimeoutMs: 500,
    graceMs: 300,
    logger: quiet,
    signal,
  });

  it('makes one replica the leader; the standby takes over when the leader’s backend is terminated', async () => {
    const stop = new AbortController();
    const first = await acquireLeadership(options(stop.signal));
    let second: Leadership | undefined;
    const waiting = acquireLeadership(options(stop.signal)).then((leadership) => {
      second = leadership;
      return leadership;
    });
    await sleep(600);
    expect(second).toBeUndefined();
    // Nobody else may write beside the leader, not even a resync.
    const resync = await connect();
    await expect(tryLeaderLock(resync)).rejects.toThrow(LeaderLockHeldError);

    const pid = (await first.client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))
      .rows[0]?.pid;
    const cutAt = Date.now();
    await admin((client) => client.query('SELECT pg_terminate_backend($1)', [pid]));
    const reason = await first.lost;
    const fencedAfter = Date.now() - cutAt;
    expect(reason.message).toMatch(/connection/);
    const next = await waiting;
    const tookOverAfter = Date.now() - cutAt;
    // The old leader knew before the new one began: never two writers at once.
    expect(fencedAfter).toBeLessThan(tookOverAfter);
    expect(tookOverAfter).toBeGreaterThanOrEqual(300);
    await next.release();
    await tryLeaderLock(resync);
    await end(resync);
    stop.abort();
  });

  it('hands over at once when the leader releases the lock, and stops waiting when told', async () => {
    const stop = new AbortController();
    const first = await acquireLeadership(options(stop.signal));
    const waiting = acquireLeadership(options(stop.signal));
    await sleep(200);
    await first.release();
    const second = await waiting;
    const standby = new AbortController();
    const third = acquireLeadership(options(standby.signal));
    await sleep(200);
    standby.abort();
    await expect(third).rejects.toThrow();
    await second.release();
    stop.abort();
  });
});
