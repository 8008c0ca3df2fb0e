import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRelay, type Relay } from '../../src/app/relay.js';
import { loadConfig } from '../../src/config.js';
import { createLogger, memoryDestination, type MemoryDestination } from '../../src/logger.js';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import type { ProfileName } from '../../packages/scim-server/src/profile.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';
import type { TestStackFacts } from './stack-facts.js';
import { createTestRealm, type TestRealm } from './test-realm.js';

/** A relay running against a fresh realm and its own Kestra-compatible SCIM server. */
export interface RelayHarness {
  readonly realm: TestRealm;
  readonly server: RunningScimServer;
  readonly control: ScimServerControl;
  readonly relay: Relay;
  readonly log: MemoryDestination;
  readonly scimToken: string;
  /** Stops the relay, the server, and deletes the realm and the state directory. */
  close(): Promise<void>;
}

/** How the harness's SCIM server behaves: Kestra's profile, or a plain RFC 7644 server. */
export interface HarnessScim {
  readonly profile: ProfileName;
  /** Generic profile only: the window between a PATCH's read and its write. */
  readonly patchDelayMs?: number;
}

export async function startRelayHarness(
  facts: TestStackFacts,
  options: {
    prefix: string;
    env?: Record<string, string>;
    realm?: TestRealm;
    start?: boolean;
    /** Default: the kestra profile. */
    scim?: HarnessScim;
  },
): Promise<RelayHarness> {
  const realm = options.realm ?? (await createTestRealm(facts, { prefix: options.prefix }));
  const scimToken = `token-${options.prefix}-${Math.random().toString(36).slice(2)}`;
  const profile = options.scim?.profile ?? 'kestra';
  const server = await startScimServer({
    token: scimToken,
    testApi: true,
    profile,
    ...(profile === 'generic' ? { patchDelayMs: options.scim?.patchDelayMs ?? 0 } : {}),
  });
  const stateDir = mkdtempSync(join(tmpdir(), `relay-${options.prefix}-`));
  const config = loadConfig({
    KEYCLOAK_URL: facts.keycloakUrl,
    KEYCLOAK_REALM: realm.name,
    KEYCLOAK_CLIENT_ID: realm.relay.clientId,
    KEYCLOAK_CLIENT_SECRET: realm.relay.clientSecret,
    SCIM_URL: server.baseUrl,
    SCIM_TOKEN: scimToken,
    STATE_DIR: stateDir,
    POLL_INTERVAL_MS: '250',
    RETRY_MIN_DELAY_MS: '100',
    RETRY_MAX_DELAY_MS: '1000',
    LOG_LEVEL: 'debug',
    HTTP_PORT: '0',
    ...options.env,
  });
  const log = memoryDestination();
  const logger = createLogger({ level: config.log.level, secrets: [scimToken], destination: log });
  const relay = await createRelay(config, logger);
  if (options.start !== false) await relay.start();
  return {
    realm,
    server,
    control: new ScimServerControl(server.origin),
    relay,
    log,
    scimToken,
    async close() {
      await relay.stop(10_000);
      await server.close();
      if (options.realm === undefined) await realm.delete();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Retries `assertion` until it passes or `timeoutMs` runs out; then throws its last error. */
export async function eventually<T>(
  assertion: () => Promise<T> | T,
  timeoutMs = 45_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await assertion();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}
