import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, redactConfig, secretValues } from '../../src/config.js';
import { describeError } from '../../src/errors.js';
import { createLogger, memoryDestination } from '../../src/logger.js';
import { ScimClient } from '../../src/scim/scim-client.js';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';

// Realistic secrets: a long Kestra-style token, a client secret, an AMQP password.
const scimToken =
  'kestra-scim-token-5b0f3c9e1a7d4f2b8c6e0a9d3f1b7c5e2a4d6f8b0c2e4a6d8f0b2c4e6a8d0f2';
const clientSecret = 'kc-client-secret-Zq8wX3vR9tY2';
const amqpPassword = 'amqp-pass-Hn4kL7pQ';

let server: RunningScimServer;

beforeAll(async () => {
  server = await startScimServer({ token: scimToken, testApi: true });
});
afterAll(async () => {
  await server.close();
});

describe('secrets in logs', () => {
  it('never shows the SCIM token, the client secret or the AMQP password, even on failures', async () => {
    const config = loadConfig({
      KEYCLOAK_URL: 'http://127.0.0.1:1',
      KEYCLOAK_REALM: 'demo',
      KEYCLOAK_CLIENT_SECRET: clientSecret,
      SCIM_URL: server.baseUrl,
      SCIM_TOKEN: scimToken,
      SOURCE: 'amqp',
      AMQP_URL: `amqp://relay:${amqpPassword}@127.0.0.1:5672/`,
      RETRY_MIN_DELAY_MS: '100',
      RETRY_MAX_DELAY_MS: '1000',
    });
    const destination = memoryDestination();
    const logger = createLogger({ level: 'debug', secrets: secretValues(config), destination });
    logger.info({ config: redactConfig(config) }, 'starting');

    const control = new ScimServerControl(server.origin);
    const scim = new ScimClient(
      {
        baseUrl: config.scim.url,
        token: config.scim.token,
        timeoutMs: 2_000,
        connectTimeoutMs: 1_000,
        maxConnections: 2,
        pageSize: 10,
        memberBatchSize: 10,
        retry: { ...config.retry, maxAttempts: 3 },
      },
      { logger },
    );

    // Transient failures are logged on every retry; the request carries the real token.
    await control.injectFaults({ status: 503, count: 5 });
    const failure = await scim.getUser('someone').catch((e: unknown) => e);
    logger.error({ err: failure }, `request failed: ${describeError(failure)}`);

    // Careless logging elsewhere: a header, the raw config, a URL with a password, an error.
    logger.warn({ headers: { authorization: `Bearer ${scimToken}` } }, 'outgoing request');
    logger.warn({ token: scimToken, clientSecret }, 'credentials');
    logger.error(new Error(`token ${scimToken} refused by ${config.scim.url}`), 'boom');
    logger.info(`connecting to ${config.amqp.url ?? ''}`);
    await scim.close();

    const output = destination.lines.join('\n');
    expect(destination.lines.length).toBeGreaterThanOrEqual(7);
    expect(output).toContain('failed, retrying');
    for (const secret of [scimToken, clientSecret, amqpPassword]) {
      expect(output).not.toContain(secret);
      expect(output).not.toContain(encodeURIComponent(secret));
    }
    expect(output).toContain('[REDACTED]');
  });
});
