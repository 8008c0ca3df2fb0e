import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer, type RunningHttpServer } from '../../src/http/health-server.js';
import { RelayMetrics } from '../../src/metrics/relay-metrics.js';

const HEALTHCHECK = join(import.meta.dirname, '../../src/http/healthcheck.ts');

/** The settings the relay requires; the healthcheck loads the same configuration. */
const RELAY_ENV = {
  KEYCLOAK_URL: 'http://127.0.0.1:1',
  KEYCLOAK_REALM: 'demo',
  KEYCLOAK_CLIENT_SECRET: 'healthcheck-test-secret',
  SCIM_URL: 'http://127.0.0.1:1/scim/v2',
  SCIM_TOKEN: 'healthcheck-test-token',
};

const servers: RunningHttpServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(host?: string): Promise<RunningHttpServer> {
  const server = await startHttpServer({
    ...(host === undefined ? {} : { host }),
    port: 0,
    metrics: new RelayMetrics().registry,
    readiness: () => Promise.resolve({}),
  });
  servers.push(server);
  return server;
}

async function healthcheck(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', HEALTHCHECK, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

describe('container healthcheck command', () => {
  it('exits 0 when /healthz answers at HTTP_HOST and HTTP_PORT', async () => {
    const server = await serve('127.0.0.1');
    const result = await healthcheck({
      ...RELAY_ENV,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(server.port),
    });
    expect(result.output).toContain(`http://127.0.0.1:${server.port}/healthz answered HTTP 200`);
    expect(result.code).toBe(0);
  });

  it('reaches an endpoint bound to every interface through loopback', async () => {
    const server = await serve();
    const result = await healthcheck({
      ...RELAY_ENV,
      HTTP_HOST: '0.0.0.0',
      HTTP_PORT: String(server.port),
    });
    expect(result.code).toBe(0);
  });

  it('exits 1 when nothing answers, naming the address and the reason', async () => {
    const server = await serve('127.0.0.1');
    const { port } = server;
    await server.close();
    const result = await healthcheck(RELAY_ENV, ['--url', `http://127.0.0.1:${port}/healthz`]);
    expect(result.output).toContain(`http://127.0.0.1:${port}/healthz did not answer`);
    expect(result.output).toContain('ECONNREFUSED');
    expect(result.code).toBe(1);
  });

  it('exits 1 when the endpoint answers anything but 200', async () => {
    const server = await serve('127.0.0.1');
    const result = await healthcheck(RELAY_ENV, [
      '--url',
      `http://127.0.0.1:${server.port}/no-such-path`,
    ]);
    expect(result.output).toContain('answered HTTP 404');
    expect(result.code).toBe(1);
  });

  it('exits 0 without probing when HTTP_PORT=0 switches the endpoint off', async () => {
    const result = await healthcheck({ ...RELAY_ENV, HTTP_PORT: '0' });
    expect(result.output).toContain('HTTP_PORT=0 switches the endpoint off');
    expect(result.code).toBe(0);
  });

  it('exits 1 naming the setting when the configuration is invalid, without its secrets', async () => {
    const result = await healthcheck({ ...RELAY_ENV, HTTP_PORT: 'ninety' });
    expect(result.output).toContain('HTTP_PORT');
    expect(result.output).not.toContain(RELAY_ENV.SCIM_TOKEN);
    expect(result.output).not.toContain(RELAY_ENV.KEYCLOAK_CLIENT_SECRET);
    expect(result.code).toBe(1);
  });
});
