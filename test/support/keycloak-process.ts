import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { keycloakBuild, type KeycloakBuild } from './keycloak-build.js';
import { spawnGroup, type GroupProcess } from './process-group.js';

/** The database a server runs on: dev-mem (in memory, gone at stop), or an external PostgreSQL. */
export type KeycloakDatabase =
  { kind: 'dev-mem' } | { kind: 'postgres'; jdbcUrl: string; username: string; password: string };

/** How to start one Keycloak from an unpacked (and built) distribution. */
export interface KeycloakStartOptions {
  /** The unpacked distribution, e.g. from `prepareKeycloak`. */
  home: string;
  /** Keycloak version, e.g. `26.7.3`: selects the bootstrap-admin variables. */
  version: string;
  adminUsername: string;
  adminPassword: string;
  /** Realm JSON files imported at start (`--import-realm`). Default: none. */
  importFiles?: readonly string[];
  /**
   * Run from a private instance directory that links the distribution's large read-only parts,
   * so several servers can share one cached distribution. Default: true. The build step runs
   * with false, because it must write into the distribution itself.
   */
  isolate?: boolean;
  /** Where the server's console output goes. Default: a new file under {@link keycloakLogDir}. */
  logFile?: string;
  /** Give up (and kill the server) after this long. Default: 180 000 ms. */
  startTimeoutMs?: number;
  /** JDK to run with. Default: `KEYCLOAK_JAVA_HOME`, else the inherited `JAVA_HOME`/`java`. */
  javaHome?: string | undefined;
  /**
   * Provider jars installed in the instance's `providers/` (isolated servers only), e.g. the
   * RabbitMQ event listener. Default: none.
   */
  providers?: readonly string[];
  /** Default: dev-mem. */
  database?: KeycloakDatabase;
  /**
   * Extra environment of the server, e.g. the listener's `KK_TO_RMQ_*`. Inherited `KC_*`,
   * `KEYCLOAK_ADMIN*` and `KK_TO_RMQ_*` variables are dropped, so only these reach it.
   */
  env?: Readonly<Record<string, string>>;
}

/** A started server. `stop()` kills its whole process group and removes its instance directory. */
export interface RunningKeycloak {
  baseUrl: string;
  managementPort: number;
  version: string;
  logFile: string;
  /** Milliseconds from spawn until the server answered for every imported realm. */
  startupMs: number;
  stop(): Promise<void>;
}

/** What one start of a {@link KeycloakNode} took. */
export interface KeycloakStartReport {
  /** Milliseconds from spawn until the server answered for every imported realm. */
  startupMs: number;
  /** Whether Keycloak re-augmented itself first (no cached build matched). */
  rebuilt: boolean;
}

/**
 * One Keycloak on fixed ports and its instance directory, which a test can start, stop, kill
 * and start again: the ports, the build and (on PostgreSQL) the data stay.
 */
export interface KeycloakNode {
  readonly baseUrl: string;
  readonly httpPort: number;
  readonly managementPort: number;
  readonly version: string;
  readonly instanceDir: string;
  /** Every start appends to this file. */
  readonly logFile: string;
  /** Whether the server process is alive (started and not stopped, killed or crashed). */
  readonly running: boolean;
  /** Spawns the server and waits until it answers; kills it again when it does not. */
  start(): Promise<KeycloakStartReport>;
  /** SIGTERM, then SIGKILL after 20 s; resolves once the process group is gone. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** stop(), then start() on the same ports. */
  restart(): Promise<KeycloakStartReport>;
  /** Stops the server and removes the instance directory (not the log). */
  cleanup(): Promise<void>;
}

/** {@link KeycloakStartOptions} with the ports a {@link KeycloakNode} keeps. Default: free ones. */
export interface KeycloakNodeOptions extends KeycloakStartOptions {
  httpPort?: number;
  managementPort?: number;
}

/** Where server logs go: `KEYCLOAK_LOG_DIR`, else `<tmp>/keycloak-scim-relay/logs`. */
export function keycloakLogDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.KEYCLOAK_LOG_DIR ?? join(tmpdir(), 'keycloak-scim-relay', 'logs');
}

/** Major version number of a Keycloak version string. */
export function keycloakMajor(version: string): number {
  const major = Number.parseInt(version, 10);
  if (Number.isNaN(major)) throw new Error(`Keycloak version "${version}" has no major number`);
  return major;
}

/** Bootstrap-admin variables: 26 renamed them (the old names still warn, then go away). */
export function bootstrapAdminEnv(
  version: string,
  username: string,
  password: string,
): Record<string, string> {
  return keycloakMajor(version) >= 26
    ? { KC_BOOTSTRAP_ADMIN_USERNAME: username, KC_BOOTSTRAP_ADMIN_PASSWORD: password }
    : { KEYCLOAK_ADMIN: username, KEYCLOAK_ADMIN_PASSWORD: password };
}

/** Last `lines` lines of a log file, for error messages. */
export async function logTail(file: string, lines = 40): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const PORT_CLASH = /address already in use|port\(s\) already bound|BindException/i;

class PortClashError extends Error {}

/** Whether a start failed because a port was taken, so that new ports may help. */
export function isPortClash(error: unknown): boolean {
  return error instanceof PortClashError;
}

/** Starts Keycloak in dev mode on free ports bound to 127.0.0.1 (dev-mem unless told otherwise). */
export async function startKeycloak(options: KeycloakStartOptions): Promise<RunningKeycloak> {
  // Another process can take a "free" port between our probe and Keycloak's bind: retry then,
  // on new ports.
  for (let attempt = 1; ; attempt += 1) {
    const node = await createKeycloakNode(options);
    try {
      const { startupMs } = await node.start();
      return {
        baseUrl: node.baseUrl,
        managementPort: node.managementPort,
        version: node.version,
        logFile: node.logFile,
        startupMs,
        stop: () => node.cleanup(),
      };
    } catch (error) {
      await node.cleanup();
      if (attempt >= 3 || !(error instanceof PortClashError)) throw error;
    }
  }
}

/** The `kc.sh` arguments of a dev-mode start. Database credentials go through the environment. */
export function keycloakArgs(options: {
  httpPort: number;
  managementPort: number;
  database: KeycloakDatabase;
  importRealms: boolean;
}): string[] {
  return [
    'start-dev',
    '--http-host=127.0.0.1',
    `--http-port=${options.httpPort}`,
    `--http-management-port=${options.managementPort}`,
    `--db=${options.database.kind}`,
    ...(options.importRealms ? ['--import-realm'] : []),
  ];
}

/**
 * The server's environment: the inherited one without settings that would change what the tests
 * run against (a developer's KC_DB, say, or a listener pointed elsewhere), then the bootstrap
 * admin, the database credentials and `extra`.
 */
export function keycloakEnv(options: {
  inherited: NodeJS.ProcessEnv;
  version: string;
  adminUsername: string;
  adminPassword: string;
  database: KeycloakDatabase;
  javaHome?: string | undefined;
  extra?: Readonly<Record<string, string>> | undefined;
}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(options.inherited)) {
    if (key.startsWith('KC_') || key.startsWith('KEYCLOAK_ADMIN') || key.startsWith('KK_TO_RMQ_')) {
      continue;
    }
    env[key] = value;
  }
  if (options.javaHome !== undefined && options.javaHome !== '') env.JAVA_HOME = options.javaHome;
  Object.assign(
    env,
    bootstrapAdminEnv(options.version, options.adminUsername, options.adminPassword),
  );
  if (options.database.kind === 'postgres') {
    env.KC_DB_URL = options.database.jdbcUrl;
    env.KC_DB_USERNAME = options.database.username;
    // Under trust authentication there is none; an empty value would still be sent.
    if (options.database.password !== '') env.KC_DB_PASSWORD = options.database.password;
  }
  Object.assign(env, options.extra ?? {});
  return env;
}

/**
 * Prepares a server (its instance directory, its build, its ports) without starting it. An
 * isolated node writes only into its own directory, whatever Keycloak decides to rebuild.
 */
export async function createKeycloakNode(options: KeycloakNodeOptions): Promise<KeycloakNode> {
  const importFiles = options.importFiles ?? [];
  const realmNames = await Promise.all(importFiles.map(realmNameOf));
  const isolate = options.isolate ?? true;
  const providers = options.providers ?? [];
  const database = options.database ?? { kind: 'dev-mem' };
  if (!isolate && (providers.length > 0 || database.kind !== 'dev-mem')) {
    throw new Error('providers and other databases need an isolated instance (isolate: true)');
  }
  const logFile =
    options.logFile ??
    join(
      keycloakLogDir(),
      `keycloak-${options.version}-${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}.log`,
    );
  await mkdir(join(logFile, '..'), { recursive: true });
  const build = isolate
    ? await keycloakBuild(options.home, { db: database.kind, providers })
    : undefined;
  const instanceDir =
    build === undefined ? options.home : await createInstanceDir(options.home, importFiles, build);
  const httpPort = options.httpPort ?? (await freePort());
  const managementPort = options.managementPort ?? (await freePort());
  const baseUrl = `http://127.0.0.1:${httpPort}`;
  const args = keycloakArgs({
    httpPort,
    managementPort,
    database,
    importRealms: importFiles.length > 0,
  });
  const env = keycloakEnv({
    inherited: process.env,
    version: options.version,
    adminUsername: options.adminUsername,
    adminPassword: options.adminPassword,
    database,
    javaHome: options.javaHome ?? process.env.KEYCLOAK_JAVA_HOME,
    extra: options.env,
  });
  const probes = ['master', ...realmNames].map((realm) => `${baseUrl}/realms/${realm}`);
  const timeoutMs = options.startTimeoutMs ?? 180_000;
  const builtMarker = join(instanceDir, 'lib', 'quarkus', 'quarkus-application.dat');

  let server: GroupProcess | undefined;
  let removed = false;

  const stop = async (): Promise<void> => {
    await server?.stop(20_000);
  };

  const start = async (): Promise<KeycloakStartReport> => {
    if (removed) throw new Error(`Keycloak instance ${instanceDir} was cleaned up`);
    if (server !== undefined && !server.exited) throw new Error('Keycloak is running already');
    const builtBefore = await modifiedMs(builtMarker);
    const started = Date.now();
    // kc.sh finds its home from its own path, so the instance's own copy is what runs.
    const current = await spawnGroup(join(instanceDir, 'bin', 'kc.sh'), args, {
      cwd: instanceDir,
      env,
      logFile,
    });
    server = current;
    const deadline = started + timeoutMs;
    for (;;) {
      if (current.exited) {
        const tail = await logTail(logFile);
        await current.stop(0);
        const message = `Keycloak ${options.version} exited during start-up (log: ${logFile}):\n${tail}`;
        throw PORT_CLASH.test(tail) ? new PortClashError(message) : new Error(message);
      }
      if (await allAnswer(probes)) break;
      if (Date.now() > deadline) {
        await current.stop(5_000);
        throw new Error(
          `Keycloak ${options.version} was not ready within ${timeoutMs} ms (log: ${logFile}):\n${await logTail(logFile)}`,
        );
      }
      await sleep(250);
    }
    const startupMs = Date.now() - started;
    const rebuilt = isolate && (await modifiedMs(builtMarker)) !== builtBefore;
    // The first server of a kind re-augments in its own directory; the next ones start from it.
    if (rebuilt && build !== undefined) await build.save(join(instanceDir, 'lib', 'quarkus'));
    return { startupMs, rebuilt };
  };

  return {
    baseUrl,
    httpPort,
    managementPort,
    version: options.version,
    instanceDir,
    logFile,
    get running() {
      return server !== undefined && !server.exited;
    },
    start,
    stop,
    async kill() {
      await server?.kill();
    },
    async restart() {
      await stop();
      return start();
    },
    async cleanup() {
      await stop();
      if (isolate && !removed) await rm(instanceDir, { recursive: true, force: true });
      removed = true;
    },
  };
}

async function modifiedMs(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

async function allAnswer(urls: readonly string[]): Promise<boolean> {
  for (const url of urls) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      if (response.status !== 200) return false;
    } catch {
      return false;
    }
  }
  return true;
}

async function realmNameOf(file: string): Promise<string> {
  const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
  const realm: unknown =
    typeof parsed === 'object' && parsed !== null ? Reflect.get(parsed, 'realm') : undefined;
  if (typeof realm !== 'string' || realm === '') {
    throw new Error(`realm import ${file} has no "realm" name`);
  }
  return realm;
}

/**
 * A private home for one server: its own `bin`, `conf`, `data` (transaction logs, imports),
 * `providers` and built `lib/quarkus`; the distribution's large read-only parts (the jars under
 * `lib/lib`, `themes`) linked. kc.sh finds its home from its own path, so `bin` is copied.
 * `lib/quarkus-run.jar` is copied too: the JVM resolves class-path entries to their real path,
 * and Quarkus re-augments into the directory beside that path, so a linked one would make a
 * server with other providers or another database rewrite the shared distribution's build.
 */
async function createInstanceDir(
  home: string,
  importFiles: readonly string[],
  build: KeycloakBuild,
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'keycloak-instance-'));
  try {
    await cp(join(home, 'bin'), join(dir, 'bin'), { recursive: true });
    await cp(join(home, 'conf'), join(dir, 'conf'), { recursive: true });
    await cp(join(home, 'version.txt'), join(dir, 'version.txt'));
    await symlink(join(home, 'themes'), join(dir, 'themes'), 'dir');
    await mkdir(join(dir, 'lib'));
    for (const entry of await readdir(join(home, 'lib'), { withFileTypes: true })) {
      const source = join(home, 'lib', entry.name);
      const target = join(dir, 'lib', entry.name);
      if (entry.name === 'quarkus') {
        await cp(build.quarkusDir, target, { recursive: true, preserveTimestamps: true });
      } else if (entry.isDirectory()) {
        await symlink(source, target, 'dir');
      } else {
        await cp(source, target, { preserveTimestamps: true });
      }
    }
    await mkdir(join(dir, 'providers'));
    for (const file of build.providerFiles) {
      await symlink(file, join(dir, 'providers', basename(file)));
    }
    const importDir = join(dir, 'data', 'import');
    await mkdir(importDir, { recursive: true });
    for (const file of importFiles) await cp(file, join(importDir, basename(file)));
    return dir;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
