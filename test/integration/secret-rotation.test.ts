import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scimClientFrom } from '../../src/app/clients.js';
import { loadConfig, secretValues } from '../../src/config.js';
import { ScimError } from '../../src/errors.js';
import { createLogger, memoryDestination } from '../../src/logger.js';
import type { CredentialObserver } from '../../src/security/credential-health.js';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';

// Realistic Kestra-style tokens: the one the relay starts with, and the regenerated one.
const firstToken = 'kestra-scim-token-1f3a5c7e9b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d';
const secondToken = 'kestra-scim-token-9e7c5a3f1d8b6e4c2a0f8d6b4e2c0a8f6d4b2e0c8a6f4d2b';

let server: RunningScimServer;
let control: ScimServerControl;
let dir: string;

beforeAll(async () => {
  server = await startScimServer({ token: firstToken, testApi: true });
  control = new ScimServerControl(server.origin);
  dir = mkdtempSync(join(tmpdir(), 'secret-rotation-'));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What the relay's SCIM client told about the token, in order. */
function recordingObserver(): { observer: CredentialObserver; seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    observer: {
      accepted: () => seen.push('accepted'),
      refused: (error) => seen.push(`refused ${error instanceof ScimError ? error.status : '?'}`),
    },
  };
}

describe('a SCIM token from SCIM_TOKEN_FILE, regenerated while the relay runs', () => {
  it('is re-read after a 401 and used at once, and neither token ever reaches the log', async () => {
    const tokenFile = join(dir, 'scim-token');
    writeFileSync(tokenFile, `${firstToken}\n`);
    const config = loadConfig({
      KEYCLOAK_URL: 'http://127.0.0.1:1',
      KEYCLOAK_REALM: 'demo',
      KEYCLOAK_CLIENT_SECRET: 'kc-client-secret-Zq8wX3vR9tY2',
      SCIM_URL: server.baseUrl,
      SCIM_TOKEN_FILE: tokenFile,
    });
    expect(config.scim.tokenFile).toBeDefined();
    const destination = memoryDestination();
    const logger = createLogger({ level: 'debug', secrets: secretValues(config), destination });
    const { observer, seen } = recordingObserver();
    const scim = scimClientFrom(config, { logger, credentials: observer });
    try {
      await scim.createUser({ userName: 'before', active: true });
      expect(seen).toEqual(['accepted']);

      // Kestra regenerates the token; the file still holds the old one: refused, once told.
      await control.setToken(secondToken);
      const refused: unknown = await scim
        .createUser({ userName: 'during', active: true })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ScimError);
      expect(refused).toMatchObject({ status: 401 });
      expect(seen).toEqual(['accepted', 'refused 401']);

      // The operator writes the new token to the file: the next request re-reads it and passes.
      writeFileSync(tokenFile, `${secondToken}\n`);
      await scim.createUser({ userName: 'after', active: true });
      expect(seen).toEqual(['accepted', 'refused 401', 'accepted']);
      const names = (await control.state()).users.map((u) => u.userName).sort();
      expect(names).toEqual(['after', 'before']);

      // Whatever is logged now, carelessly or not, shows neither token.
      logger.warn({ headers: { Authorization: `Bearer ${secondToken}` } }, 'outgoing request');
      logger.error(new Error(`token ${secondToken} refused; was ${firstToken}`), 'boom');
      logger.child({ part: 'scim' }).info(`raw token ${secondToken}`);
      logger.info({ note: `the new one is ${secondToken.toUpperCase().toLowerCase()}` }, 'copy');
    } finally {
      await scim.close();
    }
    const output = destination.lines.join('\n');
    expect(destination.lines.length).toBeGreaterThanOrEqual(4);
    for (const secret of [firstToken, secondToken]) {
      expect(output).not.toContain(secret);
      expect(output).not.toContain(encodeURIComponent(secret));
    }
    expect(output).toContain('[REDACTED]');
  });

  it('keeps a token given directly and reports the 401, since only a restart can change it', async () => {
    await control.setToken(firstToken);
    const config = loadConfig({
      KEYCLOAK_URL: 'http://127.0.0.1:1',
      KEYCLOAK_REALM: 'demo',
      KEYCLOAK_CLIENT_SECRET: 'kc-client-secret-Zq8wX3vR9tY2',
      SCIM_URL: server.baseUrl,
      SCIM_TOKEN: firstToken,
    });
    const { observer, seen } = recordingObserver();
    const scim = scimClientFrom(config, { credentials: observer });
    try {
      await control.setToken(secondToken);
      await expect(scim.getUser('nobody')).rejects.toMatchObject({ status: 401 });
      expect(seen).toEqual(['refused 401']);
    } finally {
      await scim.close();
      await control.setToken(firstToken);
    }
  });

  it('refuses a blank token in the test API and keeps accepting the current one', async () => {
    await control.setToken(firstToken);
    await expect(control.setToken('  ')).rejects.toThrow(/PUT \/_test\/token answered HTTP 400/);
    const answer = await fetch(`${server.baseUrl}/Users?count=1`, {
      headers: { authorization: `Bearer ${firstToken}` },
    });
    expect(answer.status).toBe(200);
  });
});
