import { hostname } from 'node:os';
import pg from 'pg';
import type { Config } from '../config.js';
import { tryLeaderLock } from '../ha/leader-lock.js';
import type { Logger } from '../logger.js';
import { PostgresStateStore } from '../state/postgres/postgres-state-store.js';
import { StateStore } from '../state/state-store.js';

/** A state store opened for one command, and how to close it with its connection. */
export interface CommandState {
  readonly store: StateStore;
  close(): Promise<void>;
}

/**
 * The state for a command such as `resync`. A command that writes must be the only writer:
 * on SQLite it takes STATE_DIR's lock, on PostgreSQL the leader lock, and it is refused while
 * a relay holds it. `readOnly` (a dry run) reads beside a running relay.
 */
export async function openCommandState(
  config: Config,
  options: {
    readonly readOnly: boolean;
    readonly logger?: Logger;
    /** The command, as `status` names the holder of the leader lock: `parked retry`. */
    readonly command?: string;
  },
): Promise<CommandState> {
  const url = config.state.url;
  if (url === undefined) {
    const store = StateStore.open(config.state.dir, { readOnly: options.readOnly });
    return { store, close: () => store.close() };
  }
  const client = new pg.Client({
    connectionString: url,
    application_name: `keycloak-scim-relay ${options.command ?? 'command'} (${hostname()} pid ${process.pid})`,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    if (!options.readOnly) await tryLeaderLock(client);
    const store = await PostgresStateStore.connect(client, options);
    return {
      store,
      async close() {
        await store.close();
        await client.end();
      },
    };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}
