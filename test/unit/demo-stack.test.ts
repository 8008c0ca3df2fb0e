import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { demoBanner } from '../../scripts/demo/demo-banner.js';
import { findDemoListenerJar } from '../../scripts/demo/demo-listener.js';
import { parseLogLine } from '../../scripts/demo/demo-process.js';
import { demoRealmForImport, relayClientSecret } from '../../scripts/demo/demo-realm.js';
import { childEnv, type RunningDemo } from '../../scripts/demo/demo-stack.js';
import { CHROMIUM_HELP, findChromium } from '../support/chromium.js';
import { loadDemoRealm } from '../support/realm-template.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'demo-unit-'));
  dirs.push(dir);
  return dir;
}

describe('the demo realm import', () => {
  it('lists the RabbitMQ listener only when Keycloak has it, and keeps the rest', async () => {
    const template = await loadDemoRealm();
    const withListener = demoRealmForImport(template, true);
    const without = demoRealmForImport(template, false);
    expect(withListener.eventsListeners).toEqual(['jboss-logging', 'keycloak-to-rabbitmq']);
    expect(without.eventsListeners).toEqual(['jboss-logging']);
    expect(without.realm).toBe('demo');
    expect(without.clients).toEqual(template.clients);
    // The template itself is left as it was.
    expect(template.eventsListeners).toEqual(['jboss-logging', 'keycloak-to-rabbitmq']);
  });

  it("reads the relay client's secret from the realm", async () => {
    expect(relayClientSecret(await loadDemoRealm())).toBe('demo-scim-relay-secret-CHANGE-ME');
    expect(() => relayClientSecret({ clients: [] })).toThrow(/scim-relay/);
  });
});

describe("the children's environment", () => {
  it("drops the relay's, Keycloak's and the listener's settings a developer may have exported", () => {
    const env = childEnv({
      PATH: '/usr/bin',
      HOME: '/root',
      KEYCLOAK_URL: 'https://sso.example.com',
      KEYCLOAK_CLIENT_SECRET_FILE: '/run/secret',
      SCIM_TOKEN: 'x',
      SOURCE: 'amqp',
      AMQP_URL: 'amqp://elsewhere',
      STATE_URL: 'postgres://db',
      CONFIG_FILE: 'relay.json',
      HTTP_PORT: '9999',
      KC_DB: 'postgres',
      KK_TO_RMQ_URL: 'elsewhere',
      NODE_OPTIONS: '--max-old-space-size=512',
    });
    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: '/root',
      NODE_OPTIONS: '--max-old-space-size=512',
    });
  });
});

describe("the relay's log in the terminal", () => {
  it('reads pino lines with level labels or numbers, and nothing else', () => {
    expect(parseLogLine('{"level":"info","msg":"created SCIM user alice (event)"}')).toEqual({
      level: 30,
      msg: 'created SCIM user alice (event)',
    });
    expect(parseLogLine('{"level":50,"msg":"boom"}')).toEqual({ level: 50, msg: 'boom' });
    expect(parseLogLine('node:internal/modules/run_main:123')).toBeUndefined();
    expect(parseLogLine('{"level":"info"}')).toBeUndefined();
  });
});

describe('the listener jar', () => {
  it('comes from KEYCLOAK_LISTENER_JAR, else the first place that has it, else nowhere', async () => {
    const dir = await tempDir();
    const jar = join(dir, 'keycloak-to-rabbit-3.0.5.jar');
    await writeFile(jar, 'PK');
    const missing = join(dir, 'missing.jar');
    const places = [
      { path: missing, source: 'shared' as const },
      { path: jar, source: 'vendored' as const },
    ];
    expect(await findDemoListenerJar({}, places)).toEqual({ path: jar, source: 'vendored' });
    expect(await findDemoListenerJar({}, places.slice(0, 1))).toBeUndefined();
    expect(await findDemoListenerJar({ KEYCLOAK_LISTENER_JAR: jar }, [])).toEqual({
      path: jar,
      source: 'setting',
    });
    await expect(findDemoListenerJar({ KEYCLOAK_LISTENER_JAR: missing }, places)).rejects.toThrow(
      /KEYCLOAK_LISTENER_JAR/,
    );
  });
});

describe('Chromium for the browser test', () => {
  it('is found on PATH as chromium, or named by CHROMIUM_PATH', async () => {
    const dir = await tempDir();
    const bin = join(dir, 'bin');
    await mkdir(join(bin, 'chromium-browser'), { recursive: true }); // a directory, not a program
    const program = join(dir, 'other', 'chromium');
    await mkdir(join(dir, 'other'));
    await writeFile(program, '#!/bin/sh\n');
    await chmod(program, 0o755);
    expect(await findChromium({ PATH: `${bin}:${join(dir, 'other')}` })).toBe(program);
    expect(await findChromium({ PATH: '', CHROMIUM_PATH: program })).toBe(program);
  });

  it('fails naming apt-get install chromium when there is none', async () => {
    const dir = await tempDir();
    await expect(findChromium({ PATH: dir })).rejects.toThrow(CHROMIUM_HELP);
    expect(CHROMIUM_HELP).toContain('apt-get install -y chromium');
    await expect(findChromium({ PATH: dir, CHROMIUM_PATH: join(dir, 'nope') })).rejects.toThrow(
      /CHROMIUM_PATH=.*apt-get install -y chromium/,
    );
  });
});

describe('the banner', () => {
  it('names every URL, the admin credentials and the walkthrough', () => {
    const demo: RunningDemo = {
      mode: 'poll',
      modeReason: 'RabbitMQ is not installed',
      runDir: '/tmp/run-x',
      keycloak: {
        version: '25.0.6',
        url: 'http://127.0.0.1:8080',
        adminConsoleUrl: 'http://127.0.0.1:8080/admin/master/console/#/demo',
        adminUsername: 'admin',
        adminPassword: 'admin',
        realm: 'demo',
        logFile: '/tmp/run-x/logs/keycloak.log',
        listenerJar: undefined,
      },
      scimServer: {
        pageUrl: 'http://127.0.0.1:8880/',
        scimUrl: 'http://127.0.0.1:8880/api/v1/main/integrations/demo/scim/v2',
        logFile: '/tmp/run-x/logs/scim-server.log',
      },
      relay: {
        healthzUrl: 'http://127.0.0.1:9464/healthz',
        readyzUrl: 'http://127.0.0.1:9464/readyz',
        metricsUrl: 'http://127.0.0.1:9464/metrics',
        logFile: '/tmp/run-x/logs/relay.log',
        stateDir: '/tmp/run-x/state',
        queue: undefined,
      },
      broker: { kind: 'none', url: undefined },
      startupMs: 1,
      stop: () => Promise.resolve(),
    };
    const text = demoBanner(demo);
    for (const expected of [
      'http://127.0.0.1:8080/admin/master/console/#/demo',
      'sign in as admin / admin',
      'http://127.0.0.1:8880/',
      'http://127.0.0.1:9464/readyz',
      'http://127.0.0.1:9464/metrics',
      'poll mode: RabbitMQ is not installed',
      'Users > Add user',
      'Members > Add member',
      'Ctrl-C stops everything',
    ]) {
      expect(text).toContain(expected);
    }
  });
});
