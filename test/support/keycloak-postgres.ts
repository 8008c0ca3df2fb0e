import { keycloakVersion, prepareKeycloak } from './keycloak-distribution.js';
import { listenerEnvironment, resolveListenerJar } from './keycloak-listener.js';
import {
  createKeycloakNode,
  isPortClash,
  type KeycloakNode,
  type KeycloakStartReport,
} from './keycloak-process.js';
import { createTestDatabase, postgresAdminUrl, type TestDatabase } from './postgres-database.js';
import { DEMO_REALM_FILE } from './repo-paths.js';
import type { KeycloakLogin } from './test-realm.js';

export interface KeycloakOnPostgresOptions {
  /** Default: `KEYCLOAK_VERSION`, else 25.0.6. */
  version?: string;
  /** Default: admin / admin. */
  adminUsername?: string;
  adminPassword?: string;
  /** Realm files imported at the first start. Default: the demo realm. */
  importFiles?: readonly string[];
  /**
   * Run the real RabbitMQ event listener, publishing to the broker of this URL (a private
   * `RabbitMqNode`'s, say). Default: no listener.
   */
  listenerAmqpUrl?: string;
  /** Start of the database's name. Default: `keycloak`. */
  databasePrefix?: string;
  /** The PostgreSQL server to create the database on. Default: {@link postgresAdminUrl}. */
  postgresUrl?: string;
  /** Per start. Default: 180 000 ms. */
  startTimeoutMs?: number;
  report?: (line: string) => void;
}

/**
 * A Keycloak of the test's own on a fresh PostgreSQL database: its users, groups and realms
 * survive `stop()`/`kill()` and `start()`/`restart()`, on the same ports, so a test can take
 * Keycloak away under the relay and bring it back. `keycloakUrl` and the admin login make it a
 * {@link KeycloakLogin} for `masterAdminClient` and `createTestRealm`.
 */
export interface KeycloakOnPostgres extends KeycloakLogin {
  readonly version: string;
  readonly database: TestDatabase;
  readonly node: KeycloakNode;
  readonly logFile: string;
  readonly running: boolean;
  start(): Promise<KeycloakStartReport>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<KeycloakStartReport>;
  /** Stops Keycloak, removes its instance directory and drops its database. */
  cleanup(): Promise<void>;
}

/**
 * Creates the database and starts Keycloak on it, in dev mode with `--db=postgres` from its own
 * instance directory. The first server of a version re-augments for PostgreSQL (about 10 s)
 * and leaves that build in the cache beside the distribution, which itself stays as prepared.
 */
export async function startKeycloakOnPostgres(
  options: KeycloakOnPostgresOptions = {},
): Promise<KeycloakOnPostgres> {
  const version = options.version ?? keycloakVersion();
  const adminUsername = options.adminUsername ?? 'admin';
  const adminPassword = options.adminPassword ?? 'admin';
  const prepared = await prepareKeycloak(version, undefined, options.report);
  const listenerJar =
    options.listenerAmqpUrl === undefined
      ? undefined
      : await resolveListenerJar({ report: options.report ?? (() => undefined) });
  const database = await createTestDatabase(
    options.databasePrefix ?? 'keycloak',
    options.postgresUrl ?? postgresAdminUrl(),
  );
  try {
    // A port taken between the probe and Keycloak's bind: new ports for the first start only.
    for (let attempt = 1; ; attempt += 1) {
      const node = await createKeycloakNode({
        home: prepared.home,
        version,
        adminUsername,
        adminPassword,
        importFiles: options.importFiles ?? [DEMO_REALM_FILE],
        database: {
          kind: 'postgres',
          jdbcUrl: database.jdbcUrl,
          username: database.username,
          password: database.password,
        },
        ...(listenerJar === undefined || options.listenerAmqpUrl === undefined
          ? {}
          : {
              providers: [listenerJar.path],
              env: listenerEnvironment(options.listenerAmqpUrl),
            }),
        ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
      });
      try {
        const first = await node.start();
        options.report?.(
          `Keycloak ${version} on PostgreSQL database ${database.name} at ${node.baseUrl}, ` +
            `started in ${first.startupMs} ms${first.rebuilt ? ' (with its build)' : ''}`,
        );
        return wrap(node, database, { version, adminUsername, adminPassword });
      } catch (error) {
        await node.cleanup();
        if (attempt >= 3 || !isPortClash(error)) throw error;
      }
    }
  } catch (error) {
    await database.drop().catch(() => undefined);
    throw error;
  }
}

function wrap(
  node: KeycloakNode,
  database: TestDatabase,
  login: { version: string; adminUsername: string; adminPassword: string },
): KeycloakOnPostgres {
  let cleaned = false;
  return {
    keycloakUrl: node.baseUrl,
    adminUsername: login.adminUsername,
    adminPassword: login.adminPassword,
    version: login.version,
    database,
    node,
    logFile: node.logFile,
    get running() {
      return node.running;
    },
    start: () => node.start(),
    stop: () => node.stop(),
    kill: () => node.kill(),
    restart: () => node.restart(),
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      try {
        await node.cleanup();
      } finally {
        await database.drop();
      }
    },
  };
}
