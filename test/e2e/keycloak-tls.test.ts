import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runChecks } from '../../src/app/check.js';
import { loadConfig } from '../../src/config.js';
import { ConfigError, PermanentError } from '../../src/errors.js';
import { createKeycloakReader } from '../../src/keycloak/keycloak-reader.js';
import { freePort } from '../support/free-port.js';
import { seedUsers } from '../support/keycloak-seed.js';
import { createTestRealm, type TestRealm } from '../support/test-realm.js';
import { makeCertificates, startTlsProxy } from '../support/tls.js';

describe('Keycloak behind TLS with a private CA', () => {
  const facts = inject('testStack');
  let dir: string;
  let realm: TestRealm;
  let proxy: Server;
  let httpsUrl: string;
  let caFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-tls-'));
    const certificates = await makeCertificates(dir);
    caFile = certificates.ca;
    proxy = await startTlsProxy(new URL(facts.keycloakUrl), certificates.key, certificates.cert);
    const address = proxy.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    httpsUrl = `https://127.0.0.1:${address.port}`;
    realm = await createTestRealm(facts, { prefix: 'tls' });
    await seedUsers(realm.admin, 9);
  });

  afterAll(async () => {
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
    await realm.delete();
    await rm(dir, { recursive: true, force: true });
  });

  it('logs in and reads through HTTPS when given the CA file', async () => {
    const reader = await createKeycloakReader({
      ...realm.relay,
      url: httpsUrl,
      caFile,
      pageSize: 4,
    });
    try {
      await reader.checkAccess();
      const names: string[] = [];
      for await (const user of reader.users()) names.push(user.username);
      expect(names).toHaveLength(9);
    } finally {
      await reader.close();
    }
  });

  it('refuses the untrusted certificate without the CA file, pointing at caFile', async () => {
    const reader = await createKeycloakReader({ ...realm.relay, url: httpsUrl });
    const failure: unknown = await reader.checkAccess().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PermanentError);
    expect((failure as Error).message).toContain('caFile');
  });

  it('lets check trust KEYCLOAK_CA_FILE as run does, and name the setting without it', async () => {
    const keycloakLines = async (env: Record<string, string>) => {
      const results = await runChecks(
        loadConfig({
          KEYCLOAK_URL: httpsUrl,
          KEYCLOAK_REALM: realm.name,
          KEYCLOAK_CLIENT_ID: realm.relay.clientId,
          KEYCLOAK_CLIENT_SECRET: realm.relay.clientSecret,
          // No SCIM server here: only the Keycloak lines matter.
          SCIM_URL: `http://127.0.0.1:${await freePort()}/api/v1/main/integrations/tls/scim/v2`,
          SCIM_TOKEN: 'unused-scim-token',
          SCIM_CONNECT_TIMEOUT_MS: '1000',
          ...env,
        }),
      );
      return results.filter((result) => result.name.startsWith('Keycloak'));
    };
    const trusted = await keycloakLines({ KEYCLOAK_CA_FILE: caFile });
    expect(trusted.filter((result) => !result.ok)).toEqual([]);
    expect(trusted.map((result) => result.name)).toContain('Keycloak users readable');

    const untrusted = await keycloakLines({});
    expect(untrusted).toEqual([
      expect.objectContaining({
        name: 'Keycloak reachable',
        ok: false,
        detail: expect.stringContaining('not trusted') as unknown,
        fix: expect.stringContaining('KEYCLOAK_CA_FILE') as unknown,
      }),
    ]);
  });

  it('names the caFile setting when the file cannot be read or holds no certificate', async () => {
    await expect(
      createKeycloakReader({ ...realm.relay, url: httpsUrl, caFile: join(dir, 'missing.pem') }),
    ).rejects.toThrow(ConfigError);
    const notPem = join(dir, 'not.pem');
    await writeFile(notPem, 'hello');
    await expect(
      createKeycloakReader({ ...realm.relay, url: httpsUrl, caFile: notPem }),
    ).rejects.toThrow(/caFile .* holds no PEM certificate/);
  });
});
