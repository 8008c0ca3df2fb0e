import { createHash } from 'node:crypto';
import { access, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { keycloakCacheDir } from './keycloak-distribution.js';
import { REPO_ROOT } from './repo-paths.js';

/** The id a realm lists in its `eventsListeners` to have its events published to RabbitMQ. */
export const LISTENER_PROVIDER_ID = 'keycloak-to-rabbitmq';

/** Where the listener publishes while `KK_TO_RMQ_EXCHANGE` is left at its default. */
export const LISTENER_EXCHANGE = 'amq.topic';

/** The listener release the tests run against (aznamier/keycloak-event-listener-rabbitmq). */
export const LISTENER_VERSION = '3.0.5';
export const LISTENER_JAR_NAME = `keycloak-to-rabbit-${LISTENER_VERSION}.jar`;
export const LISTENER_RELEASE_URL = `https://github.com/aznamier/keycloak-event-listener-rabbitmq/releases/download/${LISTENER_VERSION}/${LISTENER_JAR_NAME}`;

/**
 * The copy built from the upstream tag for machines that cannot download GitHub release files.
 * It is not byte-identical to the release jar, so neither is pinned by checksum by default.
 */
export const VENDORED_LISTENER_JAR = join(
  REPO_ROOT,
  'test',
  'vendor',
  'keycloak-to-rabbit',
  LISTENER_JAR_NAME,
);

/** A listener jar on disk, and which of the sources in {@link resolveListenerJar} gave it. */
export interface ListenerJar {
  path: string;
  source: 'setting' | 'vendored' | 'cache' | 'download';
}

/** Where a downloaded release jar is kept: beside the cached Keycloak distributions. */
export function listenerCachePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(keycloakCacheDir(env), 'providers', LISTENER_JAR_NAME);
}

/** How to make the listener available, for the error raised when no source has it. */
export function listenerJarHelp(cachePath: string): string {
  return [
    `The e2e stack runs Keycloak with the RabbitMQ event listener (${LISTENER_JAR_NAME}), and found none.`,
    'Provide it in one of these ways:',
    `  - set KEYCLOAK_LISTENER_JAR to the path of ${LISTENER_JAR_NAME};`,
    `  - put the jar at ${cachePath};`,
    `  - let the tests download it from ${LISTENER_RELEASE_URL}`,
    '    (needs access to github.com and its release-asset host).',
  ].join('\n');
}

export interface ResolveListenerJarOptions {
  env?: NodeJS.ProcessEnv;
  /** Default: {@link VENDORED_LISTENER_JAR}. */
  vendoredPath?: string;
  /** Default: {@link listenerCachePath}. */
  cachePath?: string;
  /** Default: {@link LISTENER_RELEASE_URL}. */
  releaseUrl?: string;
  fetch?: typeof fetch;
  report?: (line: string) => void;
}

/**
 * The listener jar for the test Keycloak, from the first source that has it:
 * `KEYCLOAK_LISTENER_JAR` (which must then exist: a wrong setting is an error, not a fallback),
 * the vendored copy, a release jar downloaded earlier into the cache, and last the pinned
 * release download (`KEYCLOAK_LISTENER_JAR_SHA256` checks it when set). Never `undefined`: a
 * machine without any of them fails with {@link listenerJarHelp}.
 */
export async function resolveListenerJar(
  options: ResolveListenerJarOptions = {},
): Promise<ListenerJar> {
  const env = options.env ?? process.env;
  const configured = env.KEYCLOAK_LISTENER_JAR;
  if (configured !== undefined && configured !== '') {
    const problem = await jarProblem(configured);
    if (problem !== undefined) {
      throw new Error(`KEYCLOAK_LISTENER_JAR=${configured}: ${problem}`);
    }
    return { path: configured, source: 'setting' };
  }
  const vendored = options.vendoredPath ?? VENDORED_LISTENER_JAR;
  if ((await jarProblem(vendored)) === undefined) return { path: vendored, source: 'vendored' };
  const cachePath = options.cachePath ?? listenerCachePath(env);
  if ((await jarProblem(cachePath)) === undefined) return { path: cachePath, source: 'cache' };

  const url = options.releaseUrl ?? LISTENER_RELEASE_URL;
  options.report?.(`downloading the RabbitMQ event listener from ${url}`);
  try {
    await download(url, cachePath, env.KEYCLOAK_LISTENER_JAR_SHA256, options.fetch ?? fetch);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${listenerJarHelp(cachePath)}\nThe download failed: ${reason}`, {
      cause: error,
    });
  }
  return { path: cachePath, source: 'download' };
}

/** Why `path` is not a usable jar, or `undefined` when it is one. */
async function jarProblem(path: string): Promise<string | undefined> {
  try {
    await access(path);
  } catch {
    return 'no such file';
  }
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    await handle.read(head, 0, 2, 0);
    // A jar is a zip archive: an HTML error page saved under the jar's name is not one, and
    // Keycloak would fail far later with a far less helpful message.
    return head.toString('latin1') === 'PK' ? undefined : 'not a jar (no zip header)';
  } finally {
    await handle.close();
  }
}

async function download(
  url: string,
  target: string,
  sha256: string | undefined,
  fetchImpl: typeof fetch,
): Promise<void> {
  const response = await fetchImpl(url, {
    redirect: 'follow',
    signal: AbortSignal.timeout(120_000),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status} from ${url}`);
  const body = Buffer.from(await response.arrayBuffer());
  if (body.subarray(0, 2).toString('latin1') !== 'PK') {
    throw new Error(`${url} did not answer with a jar (no zip header)`);
  }
  if (sha256 !== undefined && sha256 !== '') {
    const actual = createHash('sha256').update(body).digest('hex');
    if (actual !== sha256.toLowerCase()) {
      throw new Error(`${url} has sha256 ${actual}, KEYCLOAK_LISTENER_JAR_SHA256 wants ${sha256}`);
    }
  }
  await mkdir(dirname(target), { recursive: true });
  // Written aside and renamed, so a parallel run never sees half a jar.
  const part = `${target}.${process.pid}.part`;
  try {
    await writeFile(part, body);
    await rename(part, target);
  } finally {
    await rm(part, { force: true });
  }
}

/**
 * The `KK_TO_RMQ_*` settings that point the listener at the broker of `amqpUrl`. The vhost is
 * always set: left unset, the listener asks for the empty vhost, is refused, and drops every
 * event. The exchange is the listener's default, written out so the tests can rely on it.
 */
export function listenerEnvironment(amqpUrl: string): Record<string, string> {
  const url = new URL(amqpUrl);
  if (url.protocol !== 'amqp:') {
    throw new Error(`the test listener speaks plain amqp:// only, not ${url.protocol}//`);
  }
  // As amqplib reads the URL: no path, or just "/", is the default vhost "/".
  const vhost = decodeURIComponent(url.pathname.replace(/^\//, ''));
  return {
    KK_TO_RMQ_URL: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    KK_TO_RMQ_PORT: url.port === '' ? '5672' : url.port,
    KK_TO_RMQ_VHOST: vhost === '' ? '/' : vhost,
    KK_TO_RMQ_USERNAME: url.username === '' ? 'guest' : decodeURIComponent(url.username),
    KK_TO_RMQ_PASSWORD: url.password === '' ? 'guest' : decodeURIComponent(url.password),
    KK_TO_RMQ_EXCHANGE: LISTENER_EXCHANGE,
  };
}
