import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRelay, type Relay } from '../src/app/relay.js';
import { loadConfig } from '../src/config.js';
import pino from 'pino';
import { createLogger } from '../src/logger.js';
import type { TestStackFacts } from '../test/support/stack-facts.js';
import { createTestRealm, type TestRealm } from '../test/support/test-realm.js';
import type { ScimServerProcess } from './scim-server-process.js';

/** A relay in this process, on a fresh realm, writing to a SCIM server in another process. */
export interface BenchRelay {
  readonly realm: TestRealm;
  readonly relay: Relay;
  /** Stops the relay, deletes the realm and the state directory. */
  close(): Promise<void>;
}

export async function startBenchRelay(
  facts: TestStackFacts,
  scim: ScimServerProcess,
  options: { readonly prefix: string; readonly env: Record<string, string> },
): Promise<BenchRelay> {
  const realm = await createTestRealm(facts, { prefix: options.prefix });
  const stateDir = mkdtempSync(join(tmpdir(), `relay-${options.prefix}-`));
  const config = loadConfig({
    KEYCLOAK_URL: facts.keycloakUrl,
    KEYCLOAK_REALM: realm.name,
    KEYCLOAK_CLIENT_ID: realm.relay.clientId,
    KEYCLOAK_CLIENT_SECRET: realm.relay.clientSecret,
    SCIM_URL: scim.baseUrl,
    SCIM_TOKEN: scim.token,
    STATE_DIR: stateDir,
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    ...options.env,
  });
  // Warnings go to stderr, beside the bench's progress: stdout carries the JSON report alone.
  const logger = createLogger({
    level: config.log.level,
    secrets: [scim.token],
    destination: pino.destination({ dest: 2, sync: true }),
  });
  const relay = await createRelay(config, logger);
  await relay.start();
  return {
    realm,
    relay,
    async close() {
      await relay.stop(10_000);
      await realm.delete().catch(() => undefined);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
