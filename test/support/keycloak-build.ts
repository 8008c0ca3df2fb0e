import { createHash, randomUUID } from 'node:crypto';
import { access, copyFile, cp, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Keycloak's build-time choices the tests vary. `start-dev` re-augments the server (Quarkus'
 * build step, ~10 s) whenever they differ from the build it finds in `lib/quarkus`, and writes
 * the result there; this module keeps one built `lib/quarkus` per choice, so that only the first
 * server of a kind pays for it.
 */
export interface KeycloakBuildSpec {
  /** `--db`: dev-mem is what the prepared distribution is built for. */
  db: 'dev-mem' | 'postgres';
  /** Provider jars to install in the server's `providers/`. */
  providers: readonly string[];
}

/** A provider jar as the build key sees it: its file name (Keycloak records it) and content. */
export interface ProviderDigest {
  name: string;
  sha256: string;
}

/** The key of the prepared distribution's own build: dev-mem, no providers. */
export const DEFAULT_BUILD_KEY = 'default';

/**
 * A build's cache key: {@link DEFAULT_BUILD_KEY} for the distribution's own build, else a digest
 * of the database and the providers' names and contents (in any order).
 */
export function buildKey(
  db: KeycloakBuildSpec['db'],
  providers: readonly ProviderDigest[],
): string {
  if (db === 'dev-mem' && providers.length === 0) return DEFAULT_BUILD_KEY;
  const sorted = [...providers].sort((a, b) => a.name.localeCompare(b.name));
  const digest = createHash('sha256')
    .update(JSON.stringify({ db, providers: sorted }))
    .digest('hex');
  return `${db}-${digest.slice(0, 16)}`;
}

/** Where the builds of the distribution at `home` are kept: beside it, never inside it. */
export function buildCacheDir(home: string): string {
  return join(dirname(home), 'builds');
}

/** One build of a distribution, ready to be installed into an instance directory. */
export interface KeycloakBuild {
  key: string;
  /**
   * The provider jars to link into an instance: copies owned by the cache, because Keycloak
   * records each provider's modification time in its build and re-augments when it changes.
   */
  providerFiles: readonly string[];
  /** The `lib/quarkus` an instance starts from. */
  quarkusDir: string;
  /** Whether {@link quarkusDir} holds this build; if not, the first start re-augments. */
  ready: boolean;
  /**
   * Keeps an instance's re-augmented `lib/quarkus` as this build for the instances after it. A
   * no-op for the default build: the shared distribution is only ever written by its preparation.
   */
  save(instanceQuarkusDir: string): Promise<void>;
}

/** The build of `home` for `spec`, its providers copied into the cache on first use. */
export async function keycloakBuild(home: string, spec: KeycloakBuildSpec): Promise<KeycloakBuild> {
  const digests = await Promise.all(
    spec.providers.map(async (file) => ({ name: basename(file), sha256: await fileSha256(file) })),
  );
  const names = new Set(digests.map((digest) => digest.name));
  if (names.size !== digests.length) {
    throw new Error(`two provider jars share a file name: ${spec.providers.join(', ')}`);
  }
  const key = buildKey(spec.db, digests);
  if (key === DEFAULT_BUILD_KEY) {
    return {
      key,
      providerFiles: [],
      quarkusDir: join(home, 'lib', 'quarkus'),
      ready: true,
      save: () => Promise.resolve(),
    };
  }

  const dir = join(buildCacheDir(home), key);
  const providersDir = join(dir, 'providers');
  if (!(await exists(providersDir))) {
    await mkdir(dir, { recursive: true });
    await publishDir(providersDir, async (staging) => {
      await mkdir(staging);
      for (const file of spec.providers) await copyFile(file, join(staging, basename(file)));
    });
  }
  const quarkusDir = join(dir, 'quarkus');
  return {
    key,
    providerFiles: digests.map((digest) => join(providersDir, digest.name)),
    quarkusDir: (await exists(quarkusDir)) ? quarkusDir : join(home, 'lib', 'quarkus'),
    ready: await exists(quarkusDir),
    save: async (instanceQuarkusDir) => {
      await publishDir(
        quarkusDir,
        async (staging) => {
          await cp(instanceQuarkusDir, staging, { recursive: true, preserveTimestamps: true });
        },
        { replace: true },
      );
    },
  };
}

/**
 * Fills a staging directory beside `target` and renames it into place, so that a reader never
 * sees half a directory, and parallel runs that race to fill the same target leave one whole.
 */
async function publishDir(
  target: string,
  fill: (staging: string) => Promise<void>,
  options: { replace?: boolean } = {},
): Promise<void> {
  const staging = `${target}.staging-${process.pid}-${randomUUID().slice(0, 8)}`;
  const trash = `${target}.trash-${process.pid}-${randomUUID().slice(0, 8)}`;
  try {
    await fill(staging);
    if (options.replace === true && (await exists(target))) {
      await rename(target, trash).catch(() => undefined);
    }
    try {
      await rename(staging, target);
    } catch (error) {
      // Another run published the same thing first: theirs is as good as ours.
      if (!isCode(error, 'ENOTEMPTY') && !isCode(error, 'EEXIST')) throw error;
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
    await rm(trash, { recursive: true, force: true });
  }
}

/** sha256 of a file's content, hex. */
export async function fileSha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && Reflect.get(error, 'code') === code;
}
