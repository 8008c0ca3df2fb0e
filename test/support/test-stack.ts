import { readFile } from 'node:fs/promises';
import { startContainerStack } from './container-stack.js';
import { detectDockerEngine } from './docker-engine.js';
import { keycloakVersion, prepareKeycloak } from './keycloak-distribution.js';
import {
  LISTENER_EXCHANGE,
  LISTENER_PROVIDER_ID,
  listenerEnvironment,
  resolveListenerJar,
} from './keycloak-listener.js';
import { startKeycloak } from './keycloak-process.js';
import { DEFAULT_AMQP_URL, ensureLocalRabbitMq } from './rabbitmq-local.js';
import { DEMO_REALM_FILE } from './repo-paths.js';
import type { TestStackFacts } from './stack-facts.js';
import { serverEventListeners, type KeycloakLogin } from './test-realm.js';

/** A running Keycloak + RabbitMQ for e2e tests. */
export interface TestStack {
  facts: TestStackFacts;
  /** Where the Keycloak log is (local runtime only). */
  keycloakLog: string | undefined;
  /** Milliseconds spent preparing and starting Keycloak, for the start-up report. */
  timings: { prepareMs: number; startMs: number };
  stop(): Promise<void>;
}

/** Test admin of the master realm; these servers are throwaway and bound to 127.0.0.1. */
const ADMIN_USERNAME = 'admin';
const ADMIN_PASSWORD = 'admin';
const ADMIN = { adminUsername: ADMIN_USERNAME, adminPassword: ADMIN_PASSWORD };

/** Fails when the server did not load the listener jar it was given (`where`: its log). */
async function requireListener(login: KeycloakLogin, where: string): Promise<void> {
  const listeners = await serverEventListeners(login);
  if (!listeners.includes(LISTENER_PROVIDER_ID)) {
    throw new Error(
      `Keycloak did not load the ${LISTENER_PROVIDER_ID} listener from its providers ` +
        `(it has ${listeners.join(', ')}); see ${where}`,
    );
  }
}

/**
 * Starts the stack the e2e tests run against. With a reachable Docker engine (unless
 * `KEYCLOAK_TEST_RUNTIME=local`) it comes from testcontainers; otherwise Keycloak runs from the
 * cached Maven distribution and RabbitMQ is the machine's own. `KEYCLOAK_VERSION` selects the
 * Keycloak version; `AMQP_URL` points at another broker. Keycloak always runs the real RabbitMQ
 * event listener, pointed at that broker (its jar: see `resolveListenerJar`); a stack whose
 * server does not load it fails to start rather than run the AMQP suites without it.
 */
export async function startTestStack(
  env: NodeJS.ProcessEnv = process.env,
  report: (line: string) => void = () => undefined,
): Promise<TestStack> {
  const version = keycloakVersion(env);
  const demoRealm = await realmName(DEMO_REALM_FILE);
  const configuredAmqp =
    env.AMQP_URL !== undefined && env.AMQP_URL !== '' ? env.AMQP_URL : undefined;
  const engine = await detectDockerEngine(env);
  if (env.KEYCLOAK_TEST_RUNTIME === 'docker' && !engine.reachable) {
    throw new Error(`KEYCLOAK_TEST_RUNTIME=docker, but no Docker engine answers: ${engine.reason}`);
  }
  const listenerJar = await resolveListenerJar({ env, report });
  report(`RabbitMQ event listener: ${listenerJar.path} (${listenerJar.source})`);

  if (engine.reachable) {
    report(`Docker engine at ${engine.endpoint}: Keycloak ${version} from testcontainers`);
    const started = Date.now();
    const stack = await startContainerStack({
      version,
      adminUsername: ADMIN_USERNAME,
      adminPassword: ADMIN_PASSWORD,
      importFiles: [DEMO_REALM_FILE],
      readinessRealm: demoRealm,
      amqpUrl: configuredAmqp,
      listenerJar: listenerJar.path,
    });
    try {
      await requireListener({ ...ADMIN, keycloakUrl: stack.keycloakUrl }, 'the Keycloak container');
    } catch (error) {
      await stack.stop();
      throw error;
    }
    return {
      facts: {
        keycloakUrl: stack.keycloakUrl,
        keycloakVersion: version,
        adminUsername: ADMIN_USERNAME,
        adminPassword: ADMIN_PASSWORD,
        demoRealm,
        amqpUrl: stack.amqpUrl,
        realListener: true,
        listenerExchange: LISTENER_EXCHANGE,
        runtime: 'docker',
      },
      keycloakLog: undefined,
      timings: { prepareMs: 0, startMs: Date.now() - started },
      stop: () => stack.stop(),
    };
  }

  report(`no Docker engine (${engine.reason}): Keycloak ${version} from the Maven distribution`);
  const amqpUrl = configuredAmqp ?? DEFAULT_AMQP_URL;
  const preparing = Date.now();
  // RabbitMQ boots while Keycloak is prepared and started: both take seconds.
  const rabbit = ensureLocalRabbitMq(amqpUrl);
  try {
    const prepared = await prepareKeycloak(version, undefined, report);
    const prepareMs = Date.now() - preparing;
    const server = await startKeycloak({
      home: prepared.home,
      version,
      adminUsername: ADMIN_USERNAME,
      adminPassword: ADMIN_PASSWORD,
      importFiles: [DEMO_REALM_FILE],
      providers: [listenerJar.path],
      env: listenerEnvironment(amqpUrl),
    });
    try {
      await requireListener({ ...ADMIN, keycloakUrl: server.baseUrl }, server.logFile);
      await rabbit;
    } catch (error) {
      await server.stop();
      throw error;
    }
    return {
      facts: {
        keycloakUrl: server.baseUrl,
        keycloakVersion: version,
        adminUsername: ADMIN_USERNAME,
        adminPassword: ADMIN_PASSWORD,
        demoRealm,
        amqpUrl,
        realListener: true,
        listenerExchange: LISTENER_EXCHANGE,
        runtime: 'local',
      },
      keycloakLog: server.logFile,
      timings: { prepareMs, startMs: server.startupMs },
      stop: () => server.stop(),
    };
  } catch (error) {
    // Do not leave the RabbitMQ wait dangling as an unhandled rejection.
    await rabbit.catch(() => undefined);
    throw error;
  }
}

async function realmName(file: string): Promise<string> {
  const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
  const realm: unknown =
    typeof parsed === 'object' && parsed !== null ? Reflect.get(parsed, 'realm') : undefined;
  if (typeof realm !== 'string') throw new Error(`${file} has no "realm" name`);
  return realm;
}
