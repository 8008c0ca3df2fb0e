import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LISTENER_EXCHANGE,
  LISTENER_JAR_NAME,
  LISTENER_RELEASE_URL,
  listenerCachePath,
  listenerEnvironment,
  resolveListenerJar,
} from '../support/keycloak-listener.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'listener-jar-'));
  dirs.push(dir);
  return dir;
}

/** A file that passes for a jar: the zip header is all the check reads. */
async function fakeJar(
  dir: string,
  name = LISTENER_JAR_NAME,
  content = 'PK\u0003\u0004jar',
): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

/** A fetch that must not be called. */
const noFetch: typeof fetch = () => Promise.reject(new Error('fetch was called'));

describe('listenerEnvironment', () => {
  it('points the listener at the broker of an AMQP URL, vhost and exchange written out', () => {
    expect(listenerEnvironment('amqp://guest:guest@127.0.0.1:5672')).toEqual({
      KK_TO_RMQ_URL: '127.0.0.1',
      KK_TO_RMQ_PORT: '5672',
      KK_TO_RMQ_VHOST: '/',
      KK_TO_RMQ_USERNAME: 'guest',
      KK_TO_RMQ_PASSWORD: 'guest',
      KK_TO_RMQ_EXCHANGE: LISTENER_EXCHANGE,
    });
  });

  it('reads the port, a named vhost and escaped credentials, and defaults to guest on 5672', () => {
    expect(
      listenerEnvironment('amqp://re%40lay:p%2Fss@broker.test:35672/kc%2Fevents'),
    ).toMatchObject({
      KK_TO_RMQ_URL: 'broker.test',
      KK_TO_RMQ_PORT: '35672',
      KK_TO_RMQ_VHOST: 'kc/events',
      KK_TO_RMQ_USERNAME: 're@lay',
      KK_TO_RMQ_PASSWORD: 'p/ss',
    });
    expect(listenerEnvironment('amqp://localhost/')).toMatchObject({
      KK_TO_RMQ_URL: 'localhost',
      KK_TO_RMQ_PORT: '5672',
      KK_TO_RMQ_VHOST: '/',
      KK_TO_RMQ_USERNAME: 'guest',
      KK_TO_RMQ_PASSWORD: 'guest',
    });
  });

  it('refuses amqps, which the test listener is not set up for', () => {
    expect(() => listenerEnvironment('amqps://broker.test')).toThrow(/plain amqp/);
  });
});

describe('resolveListenerJar', () => {
  it('takes KEYCLOAK_LISTENER_JAR first, and fails on a wrong one instead of falling back', async () => {
    const dir = await tempDir();
    const configured = await fakeJar(dir, 'mine.jar');
    const vendored = await fakeJar(dir);
    expect(
      await resolveListenerJar({
        env: { KEYCLOAK_LISTENER_JAR: configured },
        vendoredPath: vendored,
        fetch: noFetch,
      }),
    ).toEqual({ path: configured, source: 'setting' });
    await expect(
      resolveListenerJar({
        env: { KEYCLOAK_LISTENER_JAR: join(dir, 'missing.jar') },
        vendoredPath: vendored,
        fetch: noFetch,
      }),
    ).rejects.toThrow(/KEYCLOAK_LISTENER_JAR=.*missing\.jar: no such file/);
    const html = await fakeJar(dir, 'error-page.jar', '<html>Not Found</html>');
    await expect(
      resolveListenerJar({ env: { KEYCLOAK_LISTENER_JAR: html }, fetch: noFetch }),
    ).rejects.toThrow(/not a jar/);
  });

  it('then the vendored copy, then a release jar downloaded earlier', async () => {
    const dir = await tempDir();
    const vendored = await fakeJar(dir, 'vendored.jar');
    const cachePath = join(dir, 'cache', LISTENER_JAR_NAME);
    expect(
      await resolveListenerJar({ env: {}, vendoredPath: vendored, cachePath, fetch: noFetch }),
    ).toEqual({
      path: vendored,
      source: 'vendored',
    });
    const cached = await fakeJar(dir, 'cached.jar');
    expect(
      await resolveListenerJar({
        env: {},
        vendoredPath: join(dir, 'none.jar'),
        cachePath: cached,
        fetch: noFetch,
      }),
    ).toEqual({ path: cached, source: 'cache' });
  });

  it('last downloads the pinned release into the cache, checking the checksum when one is set', async () => {
    const dir = await tempDir();
    const cachePath = join(dir, 'cache', LISTENER_JAR_NAME);
    const asked: string[] = [];
    const release: typeof fetch = (input) => {
      asked.push(input instanceof Request ? input.url : String(input));
      return Promise.resolve(new Response('PK\u0003\u0004release'));
    };
    await expect(
      resolveListenerJar({
        env: { KEYCLOAK_LISTENER_JAR_SHA256: '00'.repeat(32) },
        vendoredPath: join(dir, 'none.jar'),
        cachePath,
        fetch: release,
      }),
    ).rejects.toThrow(/sha256 .* KEYCLOAK_LISTENER_JAR_SHA256 wants/);
    expect(
      await resolveListenerJar({
        env: {},
        vendoredPath: join(dir, 'none.jar'),
        cachePath,
        fetch: release,
      }),
    ).toEqual({ path: cachePath, source: 'download' });
    expect(asked).toEqual([LISTENER_RELEASE_URL, LISTENER_RELEASE_URL]);
    expect(await readFile(cachePath, 'utf8')).toBe('PK\u0003\u0004release');
  });

  it('fails, never skips, when nothing has the jar, saying how to provide it', async () => {
    const dir = await tempDir();
    const offline: typeof fetch = () =>
      Promise.reject(new Error('getaddrinfo ENOTFOUND github.com'));
    const failure = resolveListenerJar({
      env: {},
      vendoredPath: join(dir, 'none.jar'),
      cachePath: join(dir, 'cache', LISTENER_JAR_NAME),
      fetch: offline,
    });
    await expect(failure).rejects.toThrow(/set KEYCLOAK_LISTENER_JAR/);
    await expect(failure).rejects.toThrow(/ENOTFOUND github\.com/);
    const notFound: typeof fetch = () => Promise.resolve(new Response('gone', { status: 404 }));
    await expect(
      resolveListenerJar({
        env: {},
        vendoredPath: join(dir, 'none.jar'),
        cachePath: join(dir, 'cache', LISTENER_JAR_NAME),
        fetch: notFound,
      }),
    ).rejects.toThrow(/HTTP 404/);
  });

  it('keeps downloads beside the cached Keycloak distributions', () => {
    expect(listenerCachePath({ KEYCLOAK_CACHE_DIR: '/cache/kc' })).toBe(
      `/cache/kc/providers/${LISTENER_JAR_NAME}`,
    );
  });
});
