import { execFile } from 'node:child_process';
import { access, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { startKeycloak } from './keycloak-process.js';

const run = promisify(execFile);

/** The version the tests use when `KEYCLOAK_VERSION` is not set. */
export const DEFAULT_KEYCLOAK_VERSION = '25.0.6';

/** An unpacked, built Keycloak distribution in the cache. */
export interface PreparedKeycloak {
  version: string;
  /** The distribution's home (has `bin/kc.sh`). */
  home: string;
  /** What this call had to do; all zero when everything was cached. */
  timings: { fetchMs: number; unpackMs: number; buildMs: number };
}

/** Where prepared distributions live: `KEYCLOAK_CACHE_DIR`, else the XDG cache directory. */
export function keycloakCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KEYCLOAK_CACHE_DIR !== undefined && env.KEYCLOAK_CACHE_DIR !== '') {
    return env.KEYCLOAK_CACHE_DIR;
  }
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache');
  return join(base, 'keycloak-scim-relay', 'keycloak');
}

/** The version to test against: `KEYCLOAK_VERSION`, else {@link DEFAULT_KEYCLOAK_VERSION}. */
export function keycloakVersion(env: NodeJS.ProcessEnv = process.env): string {
  const version = env.KEYCLOAK_VERSION;
  if (version === undefined || version === '') return DEFAULT_KEYCLOAK_VERSION;
  if (!/^\d+\.\d+\.\d+$/.test(version)) {
    throw new Error(`KEYCLOAK_VERSION "${version}" is not a version like 26.7.3`);
  }
  return version;
}

const READY_MARKER = '.prepared.json';

/**
 * Makes sure `<cache>/<version>/dist` holds the unpacked distribution with its build step done:
 * fetched through Maven (offline from ~/.m2 when cached), unpacked, started once in dev mode so
 * that later starts skip Quarkus' augmentation. Safe to call from several processes at once.
 */
export async function prepareKeycloak(
  version: string = keycloakVersion(),
  cacheDir: string = keycloakCacheDir(),
  report: (line: string) => void = () => undefined,
): Promise<PreparedKeycloak> {
  const versionDir = join(cacheDir, version);
  const home = join(versionDir, 'dist');
  const timings = { fetchMs: 0, unpackMs: 0, buildMs: 0 };
  if (await exists(join(versionDir, READY_MARKER))) return { version, home, timings };

  await mkdir(versionDir, { recursive: true });
  const release = await acquireLock(join(versionDir, '.lock'));
  try {
    if (await exists(join(versionDir, READY_MARKER))) return { version, home, timings };

    const downloadDir = join(versionDir, 'download');
    const zip = join(downloadDir, `keycloak-quarkus-dist-${version}.zip`);
    let started = Date.now();
    report(`fetching org.keycloak:keycloak-quarkus-dist:${version}:zip through Maven`);
    await run(
      'mvn',
      [
        '-q',
        '-B',
        'dependency:copy',
        `-Dartifact=org.keycloak:keycloak-quarkus-dist:${version}:zip`,
        `-DoutputDirectory=${downloadDir}`,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    timings.fetchMs = Date.now() - started;

    started = Date.now();
    report(`unpacking into ${home}`);
    const staging = join(versionDir, `staging-${process.pid}`);
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    await unzip(zip, staging);
    const [top] = await readdir(staging);
    if (top === undefined) throw new Error(`${zip} unpacked to nothing`);
    await rm(home, { recursive: true, force: true });
    await rename(join(staging, top), home);
    await rm(staging, { recursive: true, force: true });
    timings.unpackMs = Date.now() - started;

    // Keycloak refuses `build` in dev mode; the first start-dev does the augmentation and
    // records it in lib/quarkus, which every later start-dev then reuses.
    started = Date.now();
    report('running the build step (first start in dev mode)');
    const server = await startKeycloak({
      home,
      version,
      adminUsername: 'admin',
      adminPassword: 'admin',
      isolate: false,
      startTimeoutMs: 300_000,
    });
    await server.stop();
    await rm(join(home, 'data'), { recursive: true, force: true });
    timings.buildMs = Date.now() - started;

    await rm(downloadDir, { recursive: true, force: true });
    await writeFile(
      join(versionDir, READY_MARKER),
      `${JSON.stringify({ version, preparedAt: new Date().toISOString(), timings }, null, 2)}\n`,
    );
    return { version, home, timings };
  } finally {
    await release();
  }
}

async function unzip(zip: string, into: string): Promise<void> {
  try {
    await run('unzip', ['-q', zip, '-d', into], { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    if (!isMissingCommand(error)) throw error;
    // No unzip on the machine: the JDK's jar tool always exists where Keycloak can run, but it
    // drops the executable bits.
    await run('jar', ['xf', zip], { cwd: into, maxBuffer: 16 * 1024 * 1024 });
    const [top] = await readdir(into);
    if (top !== undefined) {
      await run('sh', ['-c', 'chmod +x "$1"/bin/*.sh', 'sh', join(into, top)]);
    }
  }
}

function isMissingCommand(error: unknown): boolean {
  return typeof error === 'object' && error !== null && Reflect.get(error, 'code') === 'ENOENT';
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A directory lock (mkdir is atomic) that survives its owner's death: a lock whose recorded pid
 * is gone, or that is older than an hour, is taken over.
 */
async function acquireLock(dir: string): Promise<() => Promise<void>> {
  for (;;) {
    try {
      await mkdir(dir);
      await writeFile(join(dir, 'pid'), String(process.pid));
      return async () => {
        await rm(dir, { recursive: true, force: true });
      };
    } catch (error) {
      if (typeof error !== 'object' || error === null || Reflect.get(error, 'code') !== 'EEXIST') {
        throw error;
      }
    }
    if (await isStaleLock(dir)) {
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    await sleep(1_000);
  }
}

async function isStaleLock(dir: string): Promise<boolean> {
  try {
    const info = await stat(dir);
    if (Date.now() - info.mtimeMs > 60 * 60 * 1000) return true;
    const pid = Number.parseInt(await readFile(join(dir, 'pid'), 'utf8'), 10);
    if (Number.isNaN(pid)) return Date.now() - info.mtimeMs > 10_000;
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // ESRCH: the owner is dead. ENOENT: the lock vanished meanwhile; just try again.
    return typeof error === 'object' && error !== null && Reflect.get(error, 'code') === 'ESRCH';
  }
}
