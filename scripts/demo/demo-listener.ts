import { access } from 'node:fs/promises';
import { join } from 'node:path';
import {
  LISTENER_JAR_NAME,
  VENDORED_LISTENER_JAR,
  listenerCachePath,
} from '../../test/support/keycloak-listener.js';
import { REPO_ROOT } from '../../test/support/repo-paths.js';

/** The listener jar the demo installs into Keycloak, and where it was found. */
export interface DemoListenerJar {
  path: string;
  source: 'setting' | 'shared' | 'vendored' | 'cache';
}

/** The copy kept beside the project (`../shared/vendor/keycloak-to-rabbit/`). */
export const SHARED_LISTENER_JAR = join(
  REPO_ROOT,
  '..',
  'shared',
  'vendor',
  'keycloak-to-rabbit',
  LISTENER_JAR_NAME,
);

/**
 * The RabbitMQ event listener jar, from the first place that has it: `KEYCLOAK_LISTENER_JAR`
 * (which must then exist), `../shared/vendor/keycloak-to-rabbit/`, the repository's
 * `test/vendor/keycloak-to-rabbit/`, the tests' download cache. Unlike the tests, the demo never
 * downloads it: without a jar it runs in poll mode. `undefined` when none has it.
 */
export async function findDemoListenerJar(
  env: NodeJS.ProcessEnv = process.env,
  candidates: readonly { path: string; source: DemoListenerJar['source'] }[] = [
    { path: SHARED_LISTENER_JAR, source: 'shared' },
    { path: VENDORED_LISTENER_JAR, source: 'vendored' },
    { path: listenerCachePath(env), source: 'cache' },
  ],
): Promise<DemoListenerJar | undefined> {
  const configured = env.KEYCLOAK_LISTENER_JAR;
  if (configured !== undefined && configured !== '') {
    if (!(await exists(configured))) {
      throw new Error(`KEYCLOAK_LISTENER_JAR=${configured}: no such file`);
    }
    return { path: configured, source: 'setting' };
  }
  for (const candidate of candidates) {
    if (await exists(candidate.path)) return candidate;
  }
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
