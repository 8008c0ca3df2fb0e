import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * The PostgreSQL server the tests create their databases on: `TEST_POSTGRES_URL`, else the
 * machine's on 127.0.0.1:5432 as `postgres` (trust authentication).
 */
export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export function postgresAdminUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.TEST_POSTGRES_URL;
  return url !== undefined && url !== '' ? url : DEFAULT_POSTGRES_URL;
}

/** A database a test created, and how to reach it. */
export interface TestDatabase {
  name: string;
  host: string;
  port: number;
  username: string;
  password: string;
  /** For Keycloak's `KC_DB_URL`. */
  jdbcUrl: string;
  /** For node-postgres or psql. */
  url: string;
  /** Drops the database, closing whatever connections are still open to it. */
  drop(): Promise<void>;
}

/**
 * A fresh database name: `<prefix>_<random>`, lower case, at most 63 bytes (PostgreSQL's limit),
 * only characters that need no quoting.
 */
export function testDatabaseName(
  prefix: string,
  random: string = randomBytes(4).toString('hex'),
): string {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .replace(/^[^a-z_]+/, '');
  const name = `${clean === '' ? 'test' : clean}_${random}`;
  if (name.length > 63) return `${clean.slice(0, 62 - random.length)}_${random}`;
  return name;
}

/** The JDBC URL of `database` on the server of `adminUrl`. */
export function jdbcUrlOf(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  const port = url.port === '' ? '5432' : url.port;
  return `jdbc:postgresql://${url.hostname}:${port}/${database}`;
}

/** Creates an empty database on the test PostgreSQL server. */
export async function createTestDatabase(
  prefix: string,
  adminUrl: string = postgresAdminUrl(),
): Promise<TestDatabase> {
  const name = testDatabaseName(prefix);
  await withClient(adminUrl, async (client) => {
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  });
  const server = new URL(adminUrl);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    host: server.hostname,
    port: server.port === '' ? 5432 : Number(server.port),
    username: decodeURIComponent(server.username),
    password: decodeURIComponent(server.password),
    jdbcUrl: jdbcUrlOf(adminUrl, name),
    url: url.toString(),
    async drop() {
      await withClient(adminUrl, async (client) => {
        // WITH (FORCE): a Keycloak killed by a test may still hold connections server-side.
        await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      });
    },
  };
}

/** Runs `work` with a connected client, and always closes it. */
export async function withClient<T>(
  url: string,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
