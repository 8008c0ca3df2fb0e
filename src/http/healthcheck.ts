/**
 * `node dist/src/http/healthcheck.js [--url URL]`: the container's HEALTHCHECK. Slim Node images
 * have no curl, so Node itself asks `/healthz` and exits 0 (healthy) or 1 (unhealthy).
 *
 * Without `--url` it reads HTTP_HOST and HTTP_PORT through the relay's own configuration loader,
 * so the probe looks where the relay listens, whether the settings come from the environment or
 * from CONFIG_FILE.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { describeError } from '../errors.js';

/** Long enough for a busy relay, shorter than Docker's default 30 s HEALTHCHECK timeout. */
const TIMEOUT_MS = 5_000;

/** The address to probe: a wildcard listen address is reached through loopback. */
function healthzUrl(host: string | undefined, port: number): string {
  let target = host ?? '127.0.0.1';
  if (target === '0.0.0.0' || target === '') target = '127.0.0.1';
  else if (target === '::') target = '::1';
  if (target.includes(':')) target = `[${target}]`;
  return `http://${target}:${port}/healthz`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { url: { type: 'string' } } });
  let url = values.url;
  if (url === undefined) {
    const { http } = loadConfig();
    if (http.port === 0) {
      console.log('healthcheck: HTTP_PORT=0 switches the endpoint off; nothing to probe');
      return 0;
    }
    url = healthzUrl(http.host, http.port);
  }
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await response.body?.cancel();
    console.log(`healthcheck: ${url} answered HTTP ${response.status}`);
    return response.status === 200 ? 0 : 1;
  } catch (error) {
    // fetch() says only "fetch failed"; the cause names the refusal or the DNS problem.
    const reason = error instanceof Error && error.cause !== undefined ? error.cause : error;
    console.log(`healthcheck: ${url} did not answer: ${describeError(reason)}`);
    return 1;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.log(`healthcheck: ${describeError(error)}`);
    process.exitCode = 1;
  },
);
