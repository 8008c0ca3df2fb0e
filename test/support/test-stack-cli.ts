/**
 * Command line for the e2e stack:
 *   prepare [version...]  fetch, unpack and build Keycloak into the cache (default: KEYCLOAK_VERSION)
 *   start                 run Keycloak (demo realm) + RabbitMQ until Ctrl-C; prints the facts as JSON
 */
import { keycloakCacheDir, keycloakVersion, prepareKeycloak } from './keycloak-distribution.js';
import { startTestStack } from './test-stack.js';

const say = (line: string): void => {
  console.error(`[keycloak] ${line}`);
};

async function prepare(versions: readonly string[]): Promise<void> {
  const cache = keycloakCacheDir();
  for (const version of versions.length > 0 ? versions : [keycloakVersion()]) {
    const started = Date.now();
    const prepared = await prepareKeycloak(version, cache, say);
    const { fetchMs, unpackMs, buildMs } = prepared.timings;
    say(
      `Keycloak ${version} ready in ${prepared.home} after ${Date.now() - started} ms ` +
        `(fetch ${fetchMs} ms, unpack ${unpackMs} ms, build ${buildMs} ms)`,
    );
  }
}

async function start(): Promise<void> {
  const stack = await startTestStack(process.env, say);
  console.log(JSON.stringify({ ...stack.facts, keycloakLog: stack.keycloakLog }, null, 2));
  say(`started in ${stack.timings.startMs} ms; Ctrl-C stops it`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await stack.stop();
}

const [command, ...rest] = process.argv.slice(2);
try {
  if (command === 'prepare') await prepare(rest);
  else if (command === 'start') await start();
  else {
    console.error('usage: test-stack-cli.ts prepare [version...] | start');
    process.exitCode = 2;
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
