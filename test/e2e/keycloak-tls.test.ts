import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigError, PermanentError } from '../../src/errors.js';
import { createKeycloakReader } from '../../src/keycloak/keycloak-reader.js';
import { seedUsers } from '../support/keycloak-seed.js';
import { createTestRealm, type TestRealm } from '../support/test-realm.js';

const run = promisify(execFile);

/** A throwaway CA and a certificate it issued for 127.0.0.1, made with the openssl CLI. */
async function makeCertificates(dir: string): Promise<{ ca: string; key: string; cert: string }> {
  const path = (name: string) => join(dir, name);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=relay test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    path('ca.key'),
    '-out',
    path('ca.pem'),
  ]);
  await run('openssl', [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    path('server.key'),
    '-out',
    path('server.csr'),
  ]);
  await writeFile(path('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    path('server.csr'),
    '-CA',
    path('ca.pem'),
    '-CAkey',
    path('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    path('ext.cnf'),
    '-out',
    path('server.pem'),
  ]);
  return { ca: path('ca.pem'), key: path('server.key'), cert: path('server.pem') };
}

/** An HTTPS front for Keycloak, as a TLS-terminating proxy would be. */
async function startTlsProxy(target: URL, key: string, cert: string): Promise<Server> {
  const server = createServer(
    { key: await readFile(key), cert: await readFile(cert) },
    (incoming, outgoing) => {
      const upstream = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: incoming.url,
          method: incoming.method,
          headers: incoming.headers,
        },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      upstream.on('error', () => {
        outgoing.writeHead(502).end();
      });
      incoming.pipe(upstream);
    },
  );
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve);
  });
  return server;
}

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
