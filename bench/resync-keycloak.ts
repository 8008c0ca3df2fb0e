import pg from 'pg';
import { keycloakVersion, prepareKeycloak } from '../test/support/keycloak-distribution.js';
import { createKeycloakNode, type KeycloakNode } from '../test/support/keycloak-process.js';
import {
  jdbcUrlOf,
  postgresAdminUrl,
  testDatabaseName,
  withClient,
} from '../test/support/postgres-database.js';

/** A Keycloak on a database of its own, copied from the seeded cache. */
export interface BenchKeycloak {
  readonly url: string;
  readonly version: string;
  readonly logFile: string;
  /** Stops Keycloak and drops its copy of the database; the cache stays. */
  close(): Promise<void>;
}

export interface CachedKeycloakOptions {
  /** Names the cached database: one per seed shape (and seed format). */
  readonly cacheKey: string;
  /** Drop the cached database first and seed again. */
  readonly reseed: boolean;
  /** Fills a fresh Keycloak (on the database being cached) with the realm. */
  readonly seed: (keycloakUrl: string) => Promise<void>;
  readonly report: (line: string) => void;
}

/**
 * Keycloak on PostgreSQL with the bench realm in it. The first run for a seed shape seeds a
 * database and keeps it, under a name made of the key, on the machine's PostgreSQL; every run
 * then starts Keycloak on a copy (`CREATE DATABASE ... TEMPLATE`), so a run never changes what
 * the next one starts from, and copying a few hundred MB takes seconds where seeding takes
 * minutes. The seeded database only gets its final name once Keycloak has stopped cleanly on
 * it: an interrupted seed leaves no cache behind, only a `_seeding` database, which the next run
 * goes on filling (seeding skips what is there), unless told to reseed.
 */
export async function startCachedKeycloak(
  options: CachedKeycloakOptions,
): Promise<{ keycloak: BenchKeycloak; seeded: boolean; seedSeconds: number }> {
  const adminUrl = postgresAdminUrl();
  const version = keycloakVersion();
  const cache = testDatabaseName(`kcbench_${version}_${options.cacheKey}`, 'cache');
  const seeding = `${cache.slice(0, 55)}_seeding`;
  if (options.reseed) await dropDatabase(adminUrl, cache);
  let seedSeconds = 0;
  const seeded = !(await databaseExists(adminUrl, cache));
  if (seeded) {
    const started = performance.now();
    if (options.reseed) await dropDatabase(adminUrl, seeding);
    if (!(await databaseExists(adminUrl, seeding))) {
      await sql(adminUrl, `CREATE DATABASE ${pg.escapeIdentifier(seeding)}`);
    }
    const node = await startNode(adminUrl, seeding, version);
    const analyze = keepAnalyzing(adminUrl, seeding);
    try {
      options.report(`seeding Keycloak ${version} at ${node.baseUrl} into database ${seeding}`);
      await options.seed(node.baseUrl);
    } finally {
      await analyze.stop();
      await node.cleanup();
    }
    await sql(
      adminUrl,
      `ALTER DATABASE ${pg.escapeIdentifier(seeding)} RENAME TO ${pg.escapeIdentifier(cache)}`,
    );
    seedSeconds = Math.round(performance.now() - started) / 1000;
    options.report(`seeded and cached as database ${cache} in ${seedSeconds} s`);
  }
  const started = performance.now();
  const copy = testDatabaseName('kcbench_run');
  await sql(
    adminUrl,
    `CREATE DATABASE ${pg.escapeIdentifier(copy)} TEMPLATE ${pg.escapeIdentifier(cache)}`,
  );
  let node: KeycloakNode;
  try {
    node = await startNode(adminUrl, copy, version);
  } catch (error) {
    await dropDatabase(adminUrl, copy);
    throw error;
  }
  if (!seeded) seedSeconds = Math.round(performance.now() - started) / 1000;
  options.report(
    `Keycloak ${version} at ${node.baseUrl} on database ${copy} (copy of ${cache}), ready in ${Math.round(performance.now() - started) / 1000} s`,
  );
  return {
    seeded,
    seedSeconds,
    keycloak: {
      url: node.baseUrl,
      version,
      logFile: node.logFile,
      async close() {
        try {
          await node.cleanup();
        } finally {
          await dropDatabase(adminUrl, copy);
        }
      },
    },
  };
}

async function startNode(
  adminUrl: string,
  database: string,
  version: string,
): Promise<KeycloakNode> {
  const prepared = await prepareKeycloak(version);
  const server = new URL(adminUrl);
  const node = await createKeycloakNode({
    home: prepared.home,
    version,
    adminUsername: 'admin',
    adminPassword: 'admin',
    database: {
      kind: 'postgres',
      jdbcUrl: jdbcUrlOf(adminUrl, database),
      username: decodeURIComponent(server.username),
      password: decodeURIComponent(server.password),
    },
    startTimeoutMs: 600_000,
  });
  try {
    await node.start();
  } catch (error) {
    await node.cleanup();
    throw error;
  }
  return node;
}

/** How often a seed refreshes the planner's statistics of the database it fills. */
const ANALYZE_EVERY_MS = 20_000;

/**
 * Runs ANALYZE on the database being seeded every {@link ANALYZE_EVERY_MS}, and once more at the
 * end, so the cache and every copy of it start with statistics that match what they hold.
 * Without it, a PostgreSQL that runs no autovacuum (this machine's does not) plans Keycloak's
 * lookup of a user by username or email from the statistics of an empty table, through the
 * index on (realm, service account link), which reads every user of the realm: each imported
 * user then costs a scan of all the users before it, and the 100,000-user seed slowed from 140
 * to 60 users/s by 40,000.
 */
function keepAnalyzing(adminUrl: string, database: string): { stop(): Promise<void> } {
  const url = new URL(adminUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => sql(url.href, 'ANALYZE').catch(() => undefined));
  }, ANALYZE_EVERY_MS);
  return {
    async stop() {
      clearInterval(timer);
      await running;
      await sql(url.href, 'ANALYZE');
    },
  };
}

async function sql(adminUrl: string, statement: string): Promise<void> {
  await withClient(adminUrl, async (client) => {
    await client.query(statement);
  });
}

async function databaseExists(adminUrl: string, name: string): Promise<boolean> {
  return withClient(adminUrl, async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return found.rowCount === 1;
  });
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  // WITH (FORCE): a Keycloak killed mid-run may still hold connections server-side.
  await sql(adminUrl, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
}
