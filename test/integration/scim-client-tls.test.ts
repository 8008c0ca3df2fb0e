import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../../src/errors.js';
import { ScimClient } from '../../src/scim/scim-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';
import { makeCertificates, startTlsProxy } from '../support/tls.js';

const token = 'tls-test-token-a81c3e';

describe('ScimClient over TLS with a private CA', () => {
  let dir: string;
  let server: RunningScimServer;
  let proxy: Server;
  let httpsBase: string;
  let ca: string;

  const client = (withCa: boolean) =>
    new ScimClient({
      baseUrl: httpsBase,
      token,
      timeoutMs: 2_000,
      connectTimeoutMs: 1_000,
      maxConnections: 2,
      pageSize: 10,
      memberBatchSize: 10,
      retry: { maxAttempts: 3, minDelayMs: 10, maxDelayMs: 10, maxElapsedMs: 5_000 },
      ca: withCa ? ca : undefined,
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'scim-tls-'));
    const certificates = await makeCertificates(dir);
    ca = await readFile(certificates.ca, 'utf8');
    server = await startScimServer({ token });
    proxy = await startTlsProxy(new URL(server.origin), certificates.key, certificates.cert);
    const address = proxy.address();
    if (address === null || typeof address === 'string') throw new Error('no proxy port');
    httpsBase = `https://127.0.0.1:${address.port}${new URL(server.baseUrl).pathname}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => proxy.close(resolve));
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a certificate it cannot verify, at once, and says how to trust it', async () => {
    const scim = client(false);
    const error: unknown = await scim.serviceProviderConfig().catch((e: unknown) => e);
    await scim.close();
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(
      /TLS verification of 127\.0\.0\.1:\d+ failed.*SCIM_CA_FILE/,
    );
  });

  it('works when the private CA is configured', async () => {
    const scim = client(true);
    const created = await scim.createUser({ userName: 'secure', active: true });
    expect(created.userName).toBe('secure');
    expect((await scim.serviceProviderConfig()).patch).toBe(true);
    await scim.close();
  });
});
