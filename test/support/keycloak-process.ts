import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, open, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';

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
   * Run from a private instance directory that links the distribution's `lib`, `providers` and
   * `themes`, so several servers can share one cached distribution. Default: true. The build
   * step runs with false, because it must write into the distribution itself.
   */
  isolate?: boolean;
  /** Where the server's console output goes. Default: a new file under {@link keycloakLogDir}. */
  logFile?: string;
  /** Give up (and kill the server) after this long. Default: 180 000 ms. */
  startTimeoutMs?: number;
  /** JDK to run with. Default: `KEYCLOAK_JAVA_HOME`, else the inherited `JAVA_HOME`/`java`. */
  javaHome?: string | undefined;
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

/** Starts Keycloak in dev mode with an in-memory database, on free ports bound to 127.0.0.1. */
export async function startKeycloak(options: KeycloakStartOptions): Promise<RunningKeycloak> {
  const logFile =
    options.logFile ??
    join(keycloakLogDir(), `keycloak-${options.version}-${Date.now()}-${process.pid}.log`);
  await mkdir(join(logFile, '..'), { recursive: true });
  // Another process can take a "free" port between our probe and Keycloak's bind: retry then.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(options, logFile);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortClashError)) throw error;
    }
  }
}

class PortClashError extends Error {}

async function startOnce(options: KeycloakStartOptions, logFile: string): Promise<RunningKeycloak> {
  const importFiles = options.importFiles ?? [];
  const realmNames = await Promise.all(importFiles.map(realmNameOf));
  const isolate = options.isolate ?? true;
  const instanceDir = isolate ? await createInstanceDir(options.home, importFiles) : options.home;
  const httpPort = await freePort();
  const managementPort = await freePort();
  const args = [
    'start-dev',
    '--http-host=127.0.0.1',
    `--http-port=${httpPort}`,
    `--http-management-port=${managementPort}`,
    '--db=dev-mem',
    ...(importFiles.length > 0 ? ['--import-realm'] : []),
  ];
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Inherited KC_* settings (a developer's KC_DB, say) would change what the tests run against.
    if (!key.startsWith('KC_') && !key.startsWith('KEYCLOAK_ADMIN')) env[key] = value;
  }
  const javaHome = options.javaHome ?? process.env.KEYCLOAK_JAVA_HOME;
  if (javaHome !== undefined && javaHome !== '') env.JAVA_HOME = javaHome;
  Object.assign(
    env,
    bootstrapAdminEnv(options.version, options.adminUsername, options.adminPassword),
  );

  const log = await open(logFile, 'a');
  const started = Date.now();
  let child: ChildProcess;
  try {
    // detached: the server gets its own process group, so stop() reaches kc.sh and java alike.
    child = spawn(join(instanceDir, 'bin', 'kc.sh'), args, {
      cwd: instanceDir,
      env,
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
    });
  } finally {
    await log.close();
  }
  const pid = child.pid;
  if (pid === undefined) {
    await removeInstance(isolate, instanceDir);
    throw new Error(`Keycloak ${options.version} could not be spawned from ${options.home}`);
  }
  // An object, not a let: it is set from event callbacks the start-up loop cannot see.
  const lifecycle = { exited: false };
  const exited = new Promise<void>((resolve) => {
    const done = (): void => {
      lifecycle.exited = true;
      resolve();
    };
    child.once('exit', done);
    // A spawn failure (no kc.sh, not executable) emits 'error' and never 'exit'.
    child.once('error', done);
  });
  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  };
  // Last line of defence against orphans when the test runner exits without teardown.
  const onExit = (): void => {
    killGroup('SIGKILL');
  };
  process.once('exit', onExit);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      killGroup('SIGTERM');
      const gone = await Promise.race([
        exited.then(() => true),
        sleep(20_000, false, { ref: false }),
      ]);
      if (!gone) killGroup('SIGKILL');
    }
    // kc.sh execs java, but any helper left in the group goes too.
    killGroup('SIGKILL');
    process.removeListener('exit', onExit);
    await removeInstance(isolate, instanceDir);
  };

  const baseUrl = `http://127.0.0.1:${httpPort}`;
  const timeoutMs = options.startTimeoutMs ?? 180_000;
  const deadline = started + timeoutMs;
  const probes = ['master', ...realmNames].map((realm) => `${baseUrl}/realms/${realm}`);
  for (;;) {
    if (lifecycle.exited) {
      const tail = await logTail(logFile);
      await stop();
      const message = `Keycloak ${options.version} exited during start-up (log: ${logFile}):\n${tail}`;
      throw PORT_CLASH.test(tail) ? new PortClashError(message) : new Error(message);
    }
    if (await allAnswer(probes)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `Keycloak ${options.version} was not ready within ${timeoutMs} ms (log: ${logFile}):\n${await logTail(logFile)}`,
      );
    }
    await sleep(250);
  }
  return {
    baseUrl,
    managementPort,
    version: options.version,
    logFile,
    startupMs: Date.now() - started,
    stop,
  };
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
 * A private home for one server: its own `bin`, `conf` and `data` (transaction logs, imports),
 * the distribution's large read-only parts linked. kc.sh finds its home from its own path, so
 * `bin` is copied, not linked.
 */
async function createInstanceDir(home: string, importFiles: readonly string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'keycloak-instance-'));
  await cp(join(home, 'bin'), join(dir, 'bin'), { recursive: true });
  await cp(join(home, 'conf'), join(dir, 'conf'), { recursive: true });
  await cp(join(home, 'version.txt'), join(dir, 'version.txt'));
  for (const part of ['lib', 'providers', 'themes']) {
    await symlink(join(home, part), join(dir, part), 'dir');
  }
  const importDir = join(dir, 'data', 'import');
  await mkdir(importDir, { recursive: true });
  for (const file of importFiles) await cp(file, join(importDir, basename(file)));
  return dir;
}

async function removeInstance(isolate: boolean, dir: string): Promise<void> {
  if (isolate) await rm(dir, { recursive: true, force: true });
}
