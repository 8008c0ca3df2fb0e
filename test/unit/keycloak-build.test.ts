import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_BUILD_KEY,
  buildCacheDir,
  buildKey,
  keycloakBuild,
} from '../support/keycloak-build.js';
import { keycloakArgs, keycloakEnv } from '../support/keycloak-process.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A stand-in for a prepared distribution: `<cache>/<version>/dist` with a built lib/quarkus. */
async function fakeHome(): Promise<{ home: string; jar: string }> {
  const root = await mkdtemp(join(tmpdir(), 'keycloak-build-'));
  dirs.push(root);
  const home = join(root, '25.0.6', 'dist');
  await mkdir(join(home, 'lib', 'quarkus'), { recursive: true });
  await writeFile(join(home, 'lib', 'quarkus', 'quarkus-application.dat'), 'dev-mem build');
  const jar = join(root, 'listener.jar');
  await writeFile(jar, 'PK listener');
  return { home, jar };
}

describe('buildKey', () => {
  it('names the prepared distribution’s own build "default", and digests every other', () => {
    expect(buildKey('dev-mem', [])).toBe(DEFAULT_BUILD_KEY);
    const listener = { name: 'keycloak-to-rabbit-3.0.5.jar', sha256: 'a'.repeat(64) };
    const other = { name: 'other.jar', sha256: 'b'.repeat(64) };
    expect(buildKey('dev-mem', [listener])).toMatch(/^dev-mem-[0-9a-f]{16}$/);
    expect(buildKey('postgres', [])).toMatch(/^postgres-[0-9a-f]{16}$/);
    expect(buildKey('postgres', [listener])).not.toBe(buildKey('dev-mem', [listener]));
    expect(buildKey('dev-mem', [listener, other])).toBe(buildKey('dev-mem', [other, listener]));
    expect(buildKey('dev-mem', [{ ...listener, sha256: 'c'.repeat(64) }])).not.toBe(
      buildKey('dev-mem', [listener]),
    );
  });
});

describe('keycloakBuild', () => {
  it('uses the distribution’s own build for dev-mem without providers, and never saves into it', async () => {
    const { home } = await fakeHome();
    const build = await keycloakBuild(home, { db: 'dev-mem', providers: [] });
    expect(build).toMatchObject({
      key: DEFAULT_BUILD_KEY,
      providerFiles: [],
      quarkusDir: join(home, 'lib', 'quarkus'),
      ready: true,
    });
    const instance = await mkdtemp(join(tmpdir(), 'keycloak-instance-quarkus-'));
    dirs.push(instance);
    await writeFile(join(instance, 'quarkus-application.dat'), 'rebuilt');
    await build.save(instance);
    expect(await readFile(join(home, 'lib', 'quarkus', 'quarkus-application.dat'), 'utf8')).toBe(
      'dev-mem build',
    );
  });

  it('keeps another build beside the distribution: its own provider copies, then the saved lib/quarkus', async () => {
    const { home, jar } = await fakeHome();
    const first = await keycloakBuild(home, { db: 'postgres', providers: [jar] });
    expect(first.key).toMatch(/^postgres-/);
    // Nothing built yet: an instance starts from the distribution's build and re-augments.
    expect(first.ready).toBe(false);
    expect(first.quarkusDir).toBe(join(home, 'lib', 'quarkus'));
    const copy = join(buildCacheDir(home), first.key, 'providers', 'listener.jar');
    expect(first.providerFiles).toEqual([copy]);
    expect(await readFile(copy, 'utf8')).toBe('PK listener');
    const copiedAt = (await stat(copy)).mtimeMs;

    const instance = await mkdtemp(join(tmpdir(), 'keycloak-instance-quarkus-'));
    dirs.push(instance);
    await writeFile(join(instance, 'quarkus-application.dat'), 'postgres build');
    await first.save(instance);

    const second = await keycloakBuild(home, { db: 'postgres', providers: [jar] });
    expect(second).toMatchObject({ key: first.key, ready: true, providerFiles: [copy] });
    expect(await readFile(join(second.quarkusDir, 'quarkus-application.dat'), 'utf8')).toBe(
      'postgres build',
    );
    // The provider copy is not made again: Keycloak keeps its modification time in the build.
    expect((await stat(copy)).mtimeMs).toBe(copiedAt);
    // Saving again replaces the build, and leaves no staging or trash directories behind.
    await writeFile(join(instance, 'quarkus-application.dat'), 'postgres build 2');
    await second.save(instance);
    expect(await readFile(join(second.quarkusDir, 'quarkus-application.dat'), 'utf8')).toBe(
      'postgres build 2',
    );
    expect((await readdir(join(buildCacheDir(home), first.key))).sort()).toEqual([
      'providers',
      'quarkus',
    ]);
    expect(await readFile(join(home, 'lib', 'quarkus', 'quarkus-application.dat'), 'utf8')).toBe(
      'dev-mem build',
    );
  });

  it('refuses two providers with one file name', async () => {
    const { home, jar } = await fakeHome();
    await expect(keycloakBuild(home, { db: 'dev-mem', providers: [jar, jar] })).rejects.toThrow(
      /share a file name/,
    );
  });
});

describe('a Keycloak start’s arguments and environment', () => {
  it('binds to loopback on the given ports, names the database, imports realms when asked', () => {
    expect(
      keycloakArgs({
        httpPort: 8080,
        managementPort: 9000,
        database: { kind: 'dev-mem' },
        importRealms: true,
      }),
    ).toEqual([
      'start-dev',
      '--http-host=127.0.0.1',
      '--http-port=8080',
      '--http-management-port=9000',
      '--db=dev-mem',
      '--import-realm',
    ]);
    expect(
      keycloakArgs({
        httpPort: 1,
        managementPort: 2,
        database: {
          kind: 'postgres',
          jdbcUrl: 'jdbc:postgresql://h/db',
          username: 'u',
          password: 'p',
        },
        importRealms: false,
      }),
    ).toEqual([
      'start-dev',
      '--http-host=127.0.0.1',
      '--http-port=1',
      '--http-management-port=2',
      '--db=postgres',
    ]);
  });

  it('drops inherited Keycloak and listener settings, and passes database credentials by environment', () => {
    const env = keycloakEnv({
      inherited: {
        PATH: '/bin',
        KC_DB: 'mysql',
        KEYCLOAK_ADMIN: 'someone',
        KK_TO_RMQ_URL: 'elsewhere',
        KEYCLOAK_VERSION: '26.7.3',
      },
      version: '26.7.3',
      adminUsername: 'admin',
      adminPassword: 'secret',
      database: {
        kind: 'postgres',
        jdbcUrl: 'jdbc:postgresql://127.0.0.1:5432/kc',
        username: 'postgres',
        password: '',
      },
      extra: { KK_TO_RMQ_URL: '127.0.0.1' },
    });
    expect(env).toEqual({
      PATH: '/bin',
      KEYCLOAK_VERSION: '26.7.3',
      KC_BOOTSTRAP_ADMIN_USERNAME: 'admin',
      KC_BOOTSTRAP_ADMIN_PASSWORD: 'secret',
      KC_DB_URL: 'jdbc:postgresql://127.0.0.1:5432/kc',
      KC_DB_USERNAME: 'postgres',
      KK_TO_RMQ_URL: '127.0.0.1',
    });
    expect(
      keycloakEnv({
        inherited: {},
        version: '25.0.6',
        adminUsername: 'admin',
        adminPassword: 'admin',
        database: { kind: 'dev-mem' },
        javaHome: '/opt/jdk17',
      }),
    ).toEqual({
      JAVA_HOME: '/opt/jdk17',
      KEYCLOAK_ADMIN: 'admin',
      KEYCLOAK_ADMIN_PASSWORD: 'admin',
    });
  });
});
