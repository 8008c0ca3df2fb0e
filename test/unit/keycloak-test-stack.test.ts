import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mapWithConcurrency } from '../support/concurrency.js';
import { detectDockerEngine } from '../support/docker-engine.js';
import {
  DEFAULT_KEYCLOAK_VERSION,
  keycloakCacheDir,
  keycloakVersion,
} from '../support/keycloak-distribution.js';
import { bootstrapAdminEnv, keycloakMajor } from '../support/keycloak-process.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function socketDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'docker-probe-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function listen(server: Server | ReturnType<typeof createNetServer>, path: string): Promise<void> {
  cleanups.push(
    () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  );
  return new Promise((resolve) => {
    server.listen(path, resolve);
  });
}

describe('Docker engine detection', () => {
  it('finds an engine that answers /_ping on DOCKER_HOST', async () => {
    const path = join(await socketDir(), 'docker.sock');
    const engine = createServer((request, response) => {
      response.end(request.url === '/_ping' ? 'OK' : '');
    });
    await listen(engine, path);
    expect(await detectDockerEngine({ DOCKER_HOST: `unix://${path}` })).toEqual({
      reachable: true,
      endpoint: `unix://${path}`,
    });
  });

  it('falls back quickly when the socket is missing or nothing answers on it', async () => {
    const dir = await socketDir();
    const missing = await detectDockerEngine({ DOCKER_HOST: `unix://${join(dir, 'none.sock')}` });
    expect(missing.reachable).toBe(false);

    // A socket that accepts connections but never answers: the probe must give up on its own.
    const silentPath = join(dir, 'silent.sock');
    const silent = createNetServer((socket) => {
      cleanups.push(() => {
        socket.destroy();
        return Promise.resolve();
      });
    });
    await listen(silent, silentPath);
    const result = await detectDockerEngine({ DOCKER_HOST: `unix://${silentPath}` }, 300);
    expect(result).toMatchObject({
      reachable: false,
      reason: expect.stringContaining('300 ms') as unknown,
    });
  });

  it('is skipped when KEYCLOAK_TEST_RUNTIME=local, and refuses unknown DOCKER_HOST schemes', async () => {
    expect(await detectDockerEngine({ KEYCLOAK_TEST_RUNTIME: 'local' })).toEqual({
      reachable: false,
      reason: 'KEYCLOAK_TEST_RUNTIME=local',
    });
    expect(await detectDockerEngine({ DOCKER_HOST: 'ssh://somewhere' })).toMatchObject({
      reachable: false,
    });
  });

  it('finds no engine on this machine, where docker has no daemon', async () => {
    const result = await detectDockerEngine({ ...process.env, DOCKER_HOST: '' });
    expect(result.reachable).toBe(false);
  });
});

describe('test stack settings', () => {
  it('caches under XDG_CACHE_HOME unless KEYCLOAK_CACHE_DIR says otherwise', () => {
    expect(keycloakCacheDir({ XDG_CACHE_HOME: '/xdg' })).toBe('/xdg/keycloak-scim-relay/keycloak');
    expect(keycloakCacheDir({ KEYCLOAK_CACHE_DIR: '/ci/kc', XDG_CACHE_HOME: '/xdg' })).toBe(
      '/ci/kc',
    );
  });

  it('selects the Keycloak version from KEYCLOAK_VERSION, defaulting to 25.0.6', () => {
    expect(keycloakVersion({})).toBe(DEFAULT_KEYCLOAK_VERSION);
    expect(DEFAULT_KEYCLOAK_VERSION).toBe('25.0.6');
    expect(keycloakVersion({ KEYCLOAK_VERSION: '26.7.3' })).toBe('26.7.3');
    expect(() => keycloakVersion({ KEYCLOAK_VERSION: 'latest' })).toThrow(/KEYCLOAK_VERSION/);
  });

  it('reads the major version, and refuses a version without one', () => {
    expect(keycloakMajor('26.7.3')).toBe(26);
    expect(() => keycloakMajor('nightly')).toThrow(/no major number/);
  });

  it('uses the bootstrap-admin variables each major version reads', () => {
    expect(bootstrapAdminEnv('25.0.6', 'admin', 'pw')).toEqual({
      KEYCLOAK_ADMIN: 'admin',
      KEYCLOAK_ADMIN_PASSWORD: 'pw',
    });
    expect(bootstrapAdminEnv('26.7.3', 'admin', 'pw')).toEqual({
      KC_BOOTSTRAP_ADMIN_USERNAME: 'admin',
      KC_BOOTSTRAP_ADMIN_PASSWORD: 'pw',
    });
  });

  it('seeds with bounded concurrency, keeping the order of results', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapWithConcurrency(
      Array.from({ length: 30 }, (_, index) => index),
      4,
      async (item) => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 2));
        running -= 1;
        return item * 2;
      },
    );
    expect(results).toEqual(Array.from({ length: 30 }, (_, index) => index * 2));
    expect(peak).toBe(4);
  });
});
