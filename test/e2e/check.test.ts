import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runChecks, type CheckResult } from '../../src/app/check.js';
import { loadConfig } from '../../src/config.js';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';
import { LEADER_LOCK_KEY } from '../../src/ha/leader-lock.js';
import { freePort } from '../support/free-port.js';
import { createTestDatabase, withClient } from '../support/postgres-database.js';
import { createTestRealm, type TestRealm } from '../support/test-realm.js';

const run = promisify(execFile);
const token = 'check-test-scim-token-3f9a2b7c';

describe('keycloak-scim-relay check', () => {
  const facts = inject('testStack');
  let realm: TestRealm;
  let server: RunningScimServer;
  let control: ScimServerControl;

  const env = (overrides: Record<string, string> = {}): Record<string, string> => ({
    KEYCLOAK_URL: facts.keycloakUrl,
    KEYCLOAK_REALM: realm.name,
    KEYCLOAK_CLIENT_ID: realm.relay.clientId,
    KEYCLOAK_CLIENT_SECRET: realm.relay.clientSecret,
    SCIM_URL: server.baseUrl,
    SCIM_TOKEN: token,
    ...overrides,
  });
  const check = (overrides: Record<string, string> = {}) => runChecks(loadConfig(env(overrides)));
  const failed = (results: CheckResult[]) => results.filter((r) => !r.ok);

  beforeAll(async () => {
    realm = await createTestRealm(facts, { prefix: 'check' });
    server = await startScimServer({ token, testApi: true });
    control = new ScimServerControl(server.origin);
  });
  afterAll(async () => {
    await server.close();
    await realm.delete();
  });

  it('passes every line against a correctly configured realm and endpoint, and exits 0', async () => {
    const results = await check();
    expect(failed(results)).toEqual([]);
    expect(results.map((r) => r.name)).toEqual([
      'Keycloak token',
      'Keycloak permissions',
      'Keycloak users readable',
      'Keycloak admin events',
      'Keycloak user events',
      'SCIM endpoint',
      'SCIM capabilities',
    ]);
    const { stdout } = await run('npx', ['tsx', 'src/cli.ts', 'check'], {
      env: { ...process.env, ...env() },
    });
    expect(stdout).toContain('All checks passed.');
    expect(stdout).not.toContain(token);
    expect(stdout).not.toContain(realm.relay.clientSecret);
  });

  it('names a wrong client secret, and exits 1', async () => {
    const results = await check({ KEYCLOAK_CLIENT_SECRET: 'not-the-secret' });
    expect(failed(results)[0]).toMatchObject({ name: 'Keycloak token', ok: false });
    expect(failed(results)[0]?.fix).toMatch(/KEYCLOAK_CLIENT_SECRET/);
    const outcome = await run('npx', ['tsx', 'src/cli.ts', 'check'], {
      env: { ...process.env, ...env({ KEYCLOAK_CLIENT_SECRET: 'not-the-secret' }) },
    }).catch((error: unknown) => error as { code: number; stdout: string });
    expect(outcome).toMatchObject({ code: 1 });
    expect((outcome as { stdout: string }).stdout).toContain('✗ Keycloak token');
  });

  it('names a realm that does not exist', async () => {
    const results = await check({ KEYCLOAK_REALM: `${realm.name}-missing` });
    expect(failed(results)[0]).toMatchObject({
      name: 'Keycloak token',
      detail: `realm "${realm.name}-missing" does not exist at ${facts.keycloakUrl}`,
    });
    expect(failed(results)[0]?.fix).toMatch(/KEYCLOAK_REALM/);
  });

  it('names the missing role', async () => {
    const [client] = await realm.admin.clients.find({ clientId: realm.relay.clientId });
    const [management] = await realm.admin.clients.find({ clientId: 'realm-management' });
    if (client?.id === undefined || management?.id === undefined) throw new Error('no clients');
    const serviceAccount = await realm.admin.clients.getServiceAccountUser({ id: client.id });
    const viewEvents = await realm.admin.clients.findRole({
      id: management.id,
      roleName: 'view-events',
    });
    if (serviceAccount.id === undefined || viewEvents?.id === undefined) throw new Error('setup');
    const mapping = { id: serviceAccount.id, clientUniqueId: management.id };
    await realm.admin.users.delClientRoleMappings({
      ...mapping,
      roles: [{ id: viewEvents.id, name: 'view-events' }],
    });
    try {
      const results = await check();
      const permissions = results.find((r) => r.name === 'Keycloak permissions');
      expect(permissions?.ok).toBe(false);
      expect(permissions?.detail).toContain('view-events');
      expect(permissions?.fix).toMatch(/assign realm-management view-events/);
    } finally {
      await realm.admin.users.addClientRoleMappings({
        ...mapping,
        roles: [{ id: viewEvents.id, name: 'view-events' }],
      });
    }
  });

  it('says when the realm does not store admin events', async () => {
    // The events config is replaced as a whole: change a copy, and put the original back.
    const original = await realm.admin.realms.getConfigEvents({ realm: realm.name });
    await realm.admin.realms.updateConfigEvents(
      { realm: realm.name },
      { ...original, adminEventsEnabled: false, adminEventsDetailsEnabled: false },
    );
    try {
      const results = await check();
      expect(failed(results).map((r) => r.name)).toEqual(['Keycloak admin events']);
      expect(failed(results)[0]?.fix).toMatch(/Include representation/);
    } finally {
      await realm.admin.realms.updateConfigEvents({ realm: realm.name }, original);
    }
  });

  it('names a wrong SCIM token', async () => {
    const results = await check({ SCIM_TOKEN: 'wrong-scim-token' });
    expect(failed(results)).toEqual([
      expect.objectContaining({
        name: 'SCIM endpoint',
        detail: expect.stringContaining('401') as unknown,
      }),
    ]);
    expect(failed(results)[0]?.fix).toMatch(/SCIM_TOKEN/);
  });

  it('names a disabled integration', async () => {
    await control.setEnabled(false);
    try {
      const results = await check();
      expect(failed(results)).toEqual([
        expect.objectContaining({
          name: 'SCIM endpoint',
          detail: expect.stringContaining('disabled') as unknown,
        }),
      ]);
      expect(failed(results)[0]?.fix).toMatch(/Enable the provisioning integration/);
    } finally {
      await control.setEnabled(true);
    }
  });

  it('names unreachable hosts', async () => {
    const closed = await freePort();
    const results = await check({
      KEYCLOAK_URL: `http://127.0.0.1:${closed}`,
      SCIM_URL: `http://127.0.0.1:${closed}/api/v1/main/integrations/demo/scim/v2`,
      SCIM_CONNECT_TIMEOUT_MS: '1000',
    });
    expect(failed(results).map((r) => r.name)).toEqual(['Keycloak reachable', 'SCIM endpoint']);
    expect(failed(results)[0]?.fix).toMatch(/KEYCLOAK_URL/);
    expect(failed(results)[1]?.fix).toMatch(/SCIM_URL/);
  });

  it('checks RabbitMQ and the listener in AMQP mode', async () => {
    const results = await check({ SOURCE: 'amqp', AMQP_URL: facts.amqpUrl });
    expect(results.find((r) => r.name === 'RabbitMQ')?.ok).toBe(true);
    // The test realm runs without the listener jar, so the realm cannot list it.
    const listener = results.find((r) => r.name === 'Keycloak RabbitMQ listener');
    expect(listener?.ok).toBe(false);
    expect(listener?.fix).toMatch(/keycloak-to-rabbitmq/);
    const unreachable = await check({
      SOURCE: 'amqp',
      AMQP_URL: `amqp://guest:guest@127.0.0.1:${await freePort()}`,
    });
    expect(unreachable.find((r) => r.name === 'RabbitMQ')?.ok).toBe(false);
  });

  it('checks the state database with STATE_URL, and says whether a replica leads', async () => {
    const database = await createTestDatabase('check_state');
    try {
      const line = async (url: string) =>
        (await check({ STATE_URL: url })).find((r) => r.name === 'State database');
      expect(await line(database.url)).toMatchObject({
        ok: true,
        detail: expect.stringMatching(/^PostgreSQL \d.* answers; no replica leads yet$/) as string,
      });
      await withClient(database.url, async (client) => {
        await client.query('SELECT pg_advisory_lock($1)', [LEADER_LOCK_KEY]);
        expect((await line(database.url))?.detail).toMatch(/a replica leads$/);
      });
      const wrong = new URL(database.url);
      wrong.pathname = '/no_such_database_for_check';
      expect(await line(wrong.toString())).toMatchObject({
        ok: false,
        fix: expect.stringMatching(/STATE_URL/) as string,
      });
    } finally {
      await database.drop();
    }
  });
});
