import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keycloakVersion, prepareKeycloak } from '../../test/support/keycloak-distribution.js';
import { LISTENER_PROVIDER_ID, listenerEnvironment } from '../../test/support/keycloak-listener.js';
import { createKeycloakNode, isPortClash } from '../../test/support/keycloak-process.js';
import type { GroupProcess } from '../../test/support/process-group.js';
import { REPO_ROOT } from '../../test/support/repo-paths.js';
import { serverEventListeners } from '../../test/support/test-realm.js';
import {
  redacted,
  startDemoBroker,
  type DemoBroker,
  type DemoBrokerChoice,
} from './demo-broker.js';
import { findDemoListenerJar, type DemoListenerJar } from './demo-listener.js';
import { PREFERRED_PORTS, choosePort } from './demo-ports.js';
import { followJsonLog, startTsProcess, waitForHttp200 } from './demo-process.js';
import { writeDemoRealm } from './demo-realm.js';

/** How to run the demo. Every field has a default that suits `npm run demo`. */
export interface DemoOptions {
  /** Parent of the run's directory (logs, relay state, a private RabbitMQ). Default `<repo>/.demo`. */
  baseDir?: string;
  /** Default: `KEYCLOAK_VERSION`, else 25.0.6 (as the tests and docker-compose.yml). */
  keycloakVersion?: string;
  /**
   * `preferred`: Keycloak on 8080, the SCIM server on 8880 and the relay on 9464, as in
   * docker-compose.yml, each where free (else a free port). `free`: free ports only.
   */
  ports?: 'preferred' | 'free';
  /** Default `auto`: see {@link DemoBrokerChoice}. */
  broker?: DemoBrokerChoice;
  /** The environment read for `KEYCLOAK_*` inputs and inherited by the children. */
  env?: NodeJS.ProcessEnv;
  /** Progress lines while starting and stopping. */
  report?: (line: string) => void;
  /** The relay's log messages (info and above), as they are written. */
  onRelayLog?: (message: string, level: number) => void;
  /** Aborting it during the start stops what was started and rejects. */
  signal?: AbortSignal;
}

/** A running demo: where everything is, and how to stop it. */
export interface RunningDemo {
  /** `amqp` when Keycloak publishes through the listener to RabbitMQ, else `poll`. */
  mode: 'amqp' | 'poll';
  /** Why this mode, in a few words. */
  modeReason: string;
  runDir: string;
  keycloak: {
    version: string;
    url: string;
    adminConsoleUrl: string;
    adminUsername: string;
    adminPassword: string;
    realm: string;
    logFile: string;
    listenerJar: DemoListenerJar | undefined;
  };
  scimServer: { pageUrl: string; scimUrl: string; logFile: string };
  relay: {
    healthzUrl: string;
    readyzUrl: string;
    metricsUrl: string;
    logFile: string;
    stateDir: string;
    /** The relay's RabbitMQ queue (AMQP mode). */
    queue: string | undefined;
  };
  broker: { kind: 'shared' | 'private' | 'none'; url: string | undefined };
  /** Milliseconds from the call to everything being ready. */
  startupMs: number;
  /** Stops everything the demo started (and only that), in reverse order; idempotent. */
  stop(): Promise<void>;
}

/** Keycloak's bootstrap admin in the demo, as in docker-compose.yml (loopback only). */
export const DEMO_ADMIN = { username: 'admin', password: 'admin' } as const;

/** The demo's tenant and integration on the SCIM server, as in docker-compose.yml. */
const TENANT = 'main';
const INTEGRATION = 'demo';

/**
 * Starts the demo: Keycloak from the Maven distribution (fetched and built once, cached) with
 * the demo realm; RabbitMQ (shared or private) and the real listener when available; the
 * project's SCIM server with its web page; and the relay (`run`) in AMQP mode where the listener
 * publishes, in poll mode otherwise. Children run in process groups of their own, logging into
 * `<run dir>/logs/`.
 */
export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const started = Date.now();
  const env = options.env ?? process.env;
  const report = options.report ?? (() => undefined);
  const signal = options.signal;
  const version = options.keycloakVersion ?? keycloakVersion(env);
  const baseDir = options.baseDir ?? join(REPO_ROOT, '.demo');
  await mkdir(baseDir, { recursive: true });
  const runDir = await mkdtemp(join(baseDir, 'run-'));
  const logDir = join(runDir, 'logs');
  const stateDir = join(runDir, 'state');
  await mkdir(logDir, { recursive: true });
  const runId = runDir.slice(runDir.lastIndexOf('-') + 1);
  report(`run directory ${runDir}`);

  const cleanups: { name: string; run: () => Promise<void> }[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const cleanup of cleanups.reverse()) {
        report(`stopping ${cleanup.name}`);
        try {
          await cleanup.run();
        } catch (error) {
          report(`stopping ${cleanup.name} failed: ${messageOf(error)}`);
        }
      }
      await rm(stateDir, { recursive: true, force: true });
      await rm(join(runDir, 'scim-token'), { force: true });
    })();
    return stopping;
  };
  const preferred = (port: number): number | undefined =>
    options.ports === 'free' ? undefined : port;
  const queues: string[] = [];
  let brokering: Promise<DemoBroker> | undefined;

  try {
    // The download and build (minutes, once) and the broker (seconds) are independent.
    report(`Keycloak ${version}: preparing the Maven distribution (cached after the first run)`);
    const preparing = prepareKeycloak(version, undefined, report);
    preparing.catch(() => undefined);
    // Without the listener nothing would publish: no broker then, and the relay polls.
    const listenerJar = options.broker === 'none' ? undefined : await findDemoListenerJar(env);
    const choice = listenerJar === undefined ? 'none' : (options.broker ?? 'auto');
    brokering = startDemoBroker({ choice, baseDir: runDir, report });
    brokering.then(
      (broker) => {
        if (broker.kind === 'none') return;
        cleanups.push({ name: `RabbitMQ (${broker.kind})`, run: () => broker.stop(queues) });
      },
      () => undefined,
    );
    const [prepared, broker] = await abortable(Promise.all([preparing, brokering]), signal);

    const amqpUrl = broker.kind === 'none' ? undefined : broker.url;
    const modeReason =
      options.broker !== 'none' && listenerJar === undefined
        ? `no ${LISTENER_PROVIDER_ID} listener jar found (../shared/vendor/keycloak-to-rabbit/, test/vendor/keycloak-to-rabbit/ or KEYCLOAK_LISTENER_JAR)`
        : broker.kind === 'none'
          ? broker.reason
          : `Keycloak publishes through ${listenerJar?.path ?? '?'} to RabbitMQ (${broker.kind}) at ${redacted(broker.url)}`;
    report(amqpUrl === undefined ? `poll mode: ${modeReason}` : `AMQP mode: ${modeReason}`);
    const realm = await writeDemoRealm(runDir, amqpUrl !== undefined);

    // The SCIM server starts while Keycloak does.
    const scimToken = randomBytes(24).toString('base64url');
    const tokenFile = join(runDir, 'scim-token');
    await writeFile(tokenFile, `${scimToken}\n`, { mode: 0o600 });
    const scimPort = await choosePort(preferred(PREFERRED_PORTS.scimServer));
    const scimLog = join(logDir, 'scim-server.log');
    const scimArgs = ['--host', '127.0.0.1', '--port', String(scimPort), '--token-file', tokenFile];
    const scim = await startTsProcess(
      'packages/scim-server/src/main.ts',
      [...scimArgs, '--tenant', TENANT, '--integration', INTEGRATION, '--web'],
      { env: childEnv(env), logFile: scimLog },
    );
    cleanups.push({ name: 'the SCIM server', run: () => scim.stop(10_000) });
    const pageUrl = `http://127.0.0.1:${scimPort}/`;
    const scimReady = waitForHttp200(pageUrl, {
      child: scim,
      logFile: scimLog,
      name: 'the SCIM server',
      timeoutMs: 120_000,
      signal,
    });
    scimReady.catch(() => undefined);

    const keycloakLog = join(logDir, 'keycloak.log');
    report(
      `Keycloak ${version}: starting in dev mode with the demo realm` +
        (amqpUrl === undefined ? '' : ` and the ${LISTENER_PROVIDER_ID} listener`),
    );
    let keycloakPort = await choosePort(preferred(PREFERRED_PORTS.keycloak));
    let keycloakUrl: string | undefined;
    for (let attempt = 1; keycloakUrl === undefined; attempt += 1) {
      const node = await createKeycloakNode({
        home: prepared.home,
        version,
        adminUsername: DEMO_ADMIN.username,
        adminPassword: DEMO_ADMIN.password,
        importFiles: [realm.importFile],
        providers: amqpUrl === undefined || listenerJar === undefined ? [] : [listenerJar.path],
        env: amqpUrl === undefined ? {} : listenerEnvironment(amqpUrl),
        logFile: keycloakLog,
        httpPort: keycloakPort,
        startTimeoutMs: 300_000,
      });
      const cleanup = { name: `Keycloak ${version}`, run: () => node.cleanup() };
      cleanups.push(cleanup);
      const starting = node.start();
      starting.catch(() => undefined);
      try {
        const { startupMs, rebuilt } = await abortable(starting, signal);
        report(
          `Keycloak ${version}: ready at ${node.baseUrl} in ${startupMs} ms` +
            (rebuilt ? ' (built itself for the listener first; kept for the next runs)' : ''),
        );
        keycloakUrl = node.baseUrl;
      } catch (error) {
        if (!isPortClash(error) || attempt >= 3) throw error;
        cleanups.splice(cleanups.indexOf(cleanup), 1);
        await node.cleanup();
        keycloakPort = await choosePort(undefined);
      }
    }
    if (amqpUrl !== undefined) {
      const login = {
        keycloakUrl,
        adminUsername: DEMO_ADMIN.username,
        adminPassword: DEMO_ADMIN.password,
      };
      const listeners = await serverEventListeners(login);
      if (!listeners.includes(LISTENER_PROVIDER_ID)) {
        throw new Error(
          `Keycloak did not load the ${LISTENER_PROVIDER_ID} listener from its providers ` +
            `(it has ${listeners.join(', ')}); see ${keycloakLog}`,
        );
      }
    }
    await scimReady;
    report(`SCIM server: ready at ${pageUrl}`);

    const relayPort = await choosePort(preferred(PREFERRED_PORTS.relay));
    const relayLog = join(logDir, 'relay.log');
    const queue = broker.kind === 'shared' ? `keycloak-scim-relay.demo-${runId}` : undefined;
    if (amqpUrl !== undefined && queue !== undefined) queues.push(queue, `${queue}.dead-letter`);
    const relayEnv: NodeJS.ProcessEnv = {
      ...childEnv(env),
      KEYCLOAK_URL: keycloakUrl,
      KEYCLOAK_REALM: realm.name,
      KEYCLOAK_CLIENT_ID: realm.clientId,
      KEYCLOAK_CLIENT_SECRET: realm.clientSecret,
      SCIM_URL: `http://127.0.0.1:${scimPort}/api/v1/${TENANT}/integrations/${INTEGRATION}/scim/v2`,
      SCIM_TOKEN_FILE: tokenFile,
      STATE_DIR: stateDir,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(relayPort),
      LOG_LEVEL: 'info',
      // As in the compose demo: what no event announces is caught within a minute.
      RESYNC_INTERVAL_MS: '60000',
      ...(amqpUrl === undefined
        ? { SOURCE: 'poll', POLL_INTERVAL_MS: '2000' }
        : {
            SOURCE: 'amqp',
            AMQP_URL: amqpUrl,
            ...(queue === undefined ? {} : { AMQP_QUEUE: queue }),
          }),
    };
    report(`relay: starting (run, ${amqpUrl === undefined ? 'poll' : 'AMQP'} mode)`);
    const relay: GroupProcess = await startTsProcess('src/cli.ts', ['run'], {
      env: relayEnv,
      logFile: relayLog,
    });
    const onRelayLog = options.onRelayLog;
    const unfollow = onRelayLog === undefined ? undefined : followJsonLog(relayLog, onRelayLog);
    // The relay ends its own work in flight on SIGTERM, within 30 s.
    cleanups.push({
      name: 'the relay',
      run: async () => {
        await relay.stop(35_000);
        await unfollow?.();
      },
    });
    const relayBase = `http://127.0.0.1:${relayPort}`;
    await waitForHttp200(`${relayBase}/readyz`, {
      child: relay,
      logFile: relayLog,
      name: 'the relay',
      timeoutMs: 180_000,
      signal,
    });
    report('relay: ready');

    return {
      mode: amqpUrl === undefined ? 'poll' : 'amqp',
      modeReason,
      runDir,
      keycloak: {
        version,
        url: keycloakUrl,
        adminConsoleUrl: `${keycloakUrl}/admin/master/console/#/${realm.name}`,
        adminUsername: DEMO_ADMIN.username,
        adminPassword: DEMO_ADMIN.password,
        realm: realm.name,
        logFile: keycloakLog,
        listenerJar: amqpUrl === undefined ? undefined : listenerJar,
      },
      scimServer: {
        pageUrl,
        scimUrl: relayEnv.SCIM_URL ?? '',
        logFile: scimLog,
      },
      relay: {
        healthzUrl: `${relayBase}/healthz`,
        readyzUrl: `${relayBase}/readyz`,
        metricsUrl: `${relayBase}/metrics`,
        logFile: relayLog,
        stateDir,
        queue: amqpUrl === undefined ? undefined : (queue ?? `keycloak-scim-relay.${realm.name}`),
      },
      broker: {
        kind: broker.kind,
        url: broker.kind === 'none' ? undefined : redacted(broker.url),
      },
      startupMs: Date.now() - started,
      stop,
    };
  } catch (error) {
    // The broker may still be starting when something else failed: let it settle, so that its
    // cleanup is registered before the unwinding.
    await brokering?.catch(() => undefined);
    await stop();
    throw error;
  }
}

/**
 * The children's environment: the inherited one without the relay's own settings, which a
 * developer may have exported for another Keycloak (the README's "From source" section), and
 * without Keycloak's and the listener's, which the demo sets itself.
 */
export function childEnv(inherited: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const relaySettings =
    /^(KEYCLOAK_|SCIM_|AMQP_|STATE_|RETRY_|POLL_|BACKSTOP_|RESYNC_|SCOPE_|EVENT_SETTLE_|KC_|KK_TO_RMQ_)/;
  const single = new Set([
    'SOURCE',
    'CONFIG_FILE',
    'USERNAME_SOURCE',
    'GROUP_NAME_SOURCE',
    'USER_DELETE_MODE',
    'MEMBERSHIP_MODE',
    'CONCURRENCY',
    'LOG_LEVEL',
    'HTTP_HOST',
    'HTTP_PORT',
  ]);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(inherited)) {
    if (relaySettings.test(key) || single.has(key)) continue;
    env[key] = value;
  }
  return env;
}

/** `promise`, or a rejection as soon as `signal` aborts. */
async function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
