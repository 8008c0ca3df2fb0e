import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { userEventSchema } from '../../src/domain/keycloak-event.js';
import { CredentialsRefusedError, PermanentError, TransientError } from '../../src/errors.js';
import { createKeycloakReader } from '../../src/keycloak/keycloak-reader.js';
import { fileSecret } from '../../src/security/secret-file.js';
import { freePort } from '../support/free-port.js';
import { seedUsers } from '../support/keycloak-seed.js';
import { createTestRealm, type TestRealm } from '../support/test-realm.js';

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** The reader yields events unvalidated; the relay's one user-event schema reads them. */
const storedUserEvent = userEventSchema.extend({ details: z.unknown() });
async function userEventsOf(events: AsyncIterable<unknown>) {
  return (await collect(events)).map((event) => storedUserEvent.parse(event));
}

/** Keycloak 26.2 added epoch-millisecond dates, `direction` and event ids. */
function hasEventIds(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 26 || (major === 26 && minor >= 2);
}

/** Counts the realm's CLIENT_LOGIN events: one per token the relay's client obtained. */
async function clientLogins(realm: TestRealm): Promise<number> {
  const events = await realm.admin.realms.findEvents({
    realm: realm.name,
    type: 'CLIENT_LOGIN',
    client: 'scim-relay',
    max: 10_000,
  });
  return events.length;
}

async function enableClientLoginEvents(realm: TestRealm): Promise<void> {
  const current = await realm.admin.realms.findOne({ realm: realm.name });
  await realm.admin.realms.update(
    { realm: realm.name },
    { enabledEventTypes: [...(current?.enabledEventTypes ?? []), 'CLIENT_LOGIN'] },
  );
}

describe('Keycloak access: login, renewal and refusals', () => {
  const facts = inject('testStack');
  let realm: TestRealm;
  let someUserId: string;

  beforeAll(async () => {
    // Tokens that live 5 s, so renewal happens several times within one test.
    realm = await createTestRealm(facts, { prefix: 'access', accessTokenLifespan: 5 });
    await enableClientLoginEvents(realm);
    const [user] = await seedUsers(realm.admin, 3);
    if (user === undefined) throw new Error('no user seeded');
    someUserId = user.id;
  });

  afterAll(async () => {
    await realm.delete();
  });

  it('lets concurrent first requests share a single login', async () => {
    const before = await clientLogins(realm);
    const reader = await createKeycloakReader(realm.relay);
    try {
      const users = await Promise.all(Array.from({ length: 12 }, () => reader.user(someUserId)));
      expect(users.every((user) => user?.id === someUserId)).toBe(true);
      expect(await clientLogins(realm)).toBe(before + 1);
    } finally {
      await reader.close();
    }
  });

  it('renews the token before it expires while requests keep coming', async () => {
    const before = await clientLogins(realm);
    const reader = await createKeycloakReader(realm.relay);
    try {
      let requests = 0;
      const until = Date.now() + 13_000;
      while (Date.now() < until) {
        expect((await reader.user(someUserId))?.id).toBe(someUserId);
        requests += 1;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const logins = (await clientLogins(realm)) - before;
      // 13 s of 5 s tokens needs at least three; one per request would mean no caching at all.
      expect(logins).toBeGreaterThanOrEqual(3);
      expect(logins).toBeLessThan(requests / 3);
    } finally {
      await reader.close();
    }
  });

  it('logs in again when Keycloak starts refusing a token before it expires', async () => {
    // Default (5 min) tokens here, so that only the refusal can explain a second login.
    const other = await createTestRealm(facts, { prefix: 'revoke' });
    try {
      await enableClientLoginEvents(other);
      const [user] = await seedUsers(other.admin, 1);
      const reader = await createKeycloakReader(other.relay);
      expect((await reader.user(user?.id ?? ''))?.username).toBe(user?.username);
      const before = await clientLogins(other);
      // Not-before (seconds) invalidates every token issued earlier; wait until a new one can pass.
      const notBefore = Math.floor(Date.now() / 1000) + 1;
      await other.admin.realms.update({ realm: other.name }, { notBefore });
      await new Promise((resolve) => setTimeout(resolve, notBefore * 1000 - Date.now() + 50));
      expect((await reader.user(user?.id ?? ''))?.username).toBe(user?.username);
      expect(await clientLogins(other)).toBe(before + 1);
      await reader.close();
    } finally {
      await other.delete();
    }
  });

  it('reports a wrong client secret as refused credentials (held, not parked), naming the client and its settings but not the secret', async () => {
    const reader = await createKeycloakReader({ ...realm.relay, clientSecret: 'wrong-secret-xyz' });
    const failure: unknown = await reader.checkAccess().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(CredentialsRefusedError);
    expect(failure).not.toBeInstanceOf(PermanentError);
    expect((failure as Error).message).toContain('"scim-relay" (KEYCLOAK_CLIENT_ID)');
    expect((failure as Error).message).toContain('KEYCLOAK_CLIENT_SECRET_FILE');
    expect((failure as Error).message).not.toContain('wrong-secret-xyz');
  });

  it('reads a secret from its file again before logging in, and works once the file is right', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keycloak-secret-'));
    const file = join(dir, 'client-secret');
    writeFileSync(file, 'wrong-secret-xyz\n');
    const seen: string[] = [];
    const reader = await createKeycloakReader({
      ...realm.relay,
      clientSecretSource: fileSecret(file, 'wrong-secret-xyz', 'KEYCLOAK_CLIENT_SECRET_FILE'),
      credentials: {
        accepted: () => seen.push('accepted'),
        refused: (error) => seen.push(error instanceof CredentialsRefusedError ? 'refused' : '?'),
      },
    });
    try {
      await expect(reader.checkAccess()).rejects.toBeInstanceOf(CredentialsRefusedError);
      expect(seen).toEqual(['refused']);
      writeFileSync(file, `${realm.relay.clientSecret}\n`);
      await reader.checkAccess();
      expect(seen.slice(0, 2)).toEqual(['refused', 'accepted']);
    } finally {
      await reader.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a missing role as permanent, naming the role', async () => {
    const other = await createTestRealm(facts, { prefix: 'norole' });
    try {
      const [client] = await other.admin.clients.find({ clientId: 'scim-relay' });
      const [management] = await other.admin.clients.find({ clientId: 'realm-management' });
      if (client?.id === undefined || management?.id === undefined) {
        throw new Error('template clients missing');
      }
      const account = await other.admin.clients.getServiceAccountUser({ id: client.id });
      const role = await other.admin.clients.findRole({
        id: management.id,
        roleName: 'view-events',
      });
      if (account.id === undefined || role?.id === undefined || role.name === undefined) {
        throw new Error('service account or role missing');
      }
      await other.admin.users.delClientRoleMappings({
        id: account.id,
        clientUniqueId: management.id,
        roles: [{ id: role.id, name: role.name }],
      });
      const reader = await createKeycloakReader(other.relay);
      expect(await collect(reader.users())).toEqual([]);
      const failure: unknown = await reader.checkAccess().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(PermanentError);
      expect((failure as Error).message).toContain('"view-events"');
      expect((failure as Error).message).toContain('HTTP 403');
    } finally {
      await other.delete();
    }
  });

  it('reports an unknown realm as permanent and an unreachable server as transient', async () => {
    const missing = await createKeycloakReader({ ...realm.relay, realm: `${realm.name}-gone` });
    await expect(missing.checkAccess()).rejects.toBeInstanceOf(PermanentError);

    const closedPort = await freePort();
    const down = await createKeycloakReader({
      ...realm.relay,
      url: `http://127.0.0.1:${closedPort}`,
    });
    const failure: unknown = await down.checkAccess().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TransientError);
    expect((failure as Error).message).toContain('cannot reach');
  });

  it('pages through user events with type and client filters, once each', async () => {
    for (let index = 0; index < 20; index += 1) {
      const reader = await createKeycloakReader(realm.relay);
      await reader.checkAccess();
      await reader.close();
    }
    const reader = await createKeycloakReader({ ...realm.relay, pageSize: 7 });
    // The reader's own login is a CLIENT_LOGIN too: let it happen before the expected listing.
    await reader.checkAccess();
    const expected = await realm.admin.realms.findEvents({
      realm: realm.name,
      type: 'CLIENT_LOGIN',
      client: 'scim-relay',
      max: 10_000,
    });
    expect(expected.length).toBeGreaterThanOrEqual(21);
    const read = await userEventsOf(
      reader.userEvents({ types: ['CLIENT_LOGIN'], client: 'scim-relay' }),
    );
    const key = (event: { time?: number | undefined; details?: unknown }) =>
      JSON.stringify([event.time, event.details]);
    expect(read.map(key).sort()).toEqual(expected.map(key).sort());
    expect(read.every((event) => event.type === 'CLIENT_LOGIN')).toBe(true);
  });

  it('accepts the date formats this Keycloak version documents, as strings', async () => {
    const reader = await createKeycloakReader(realm.relay);
    const today = new Date(Date.now() - 24 * 3600 * 1000).toISOString().slice(0, 10);
    const byDay = await userEventsOf(
      reader.userEvents({ types: ['CLIENT_LOGIN'], dateFrom: today }),
    );
    expect(byDay.length).toBeGreaterThan(0);
    const epoch = String(Date.now() - 3_600_000);
    if (hasEventIds(facts.keycloakVersion)) {
      const ascending = await userEventsOf(
        reader.userEvents({ types: ['CLIENT_LOGIN'], dateFrom: epoch, direction: 'asc' }),
      );
      expect(ascending.length).toBe(byDay.length);
      expect(ascending.every((event) => typeof event.id === 'string')).toBe(true);
      const times = ascending.map((event) => event.time);
      expect(times).toEqual([...times].sort((a, b) => a - b));
    } else {
      const failure: unknown = await collect(reader.userEvents({ dateFrom: epoch })).catch(
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(PermanentError);
      expect((failure as Error).message).toContain('HTTP 400');
      expect(byDay.every((event) => event.id === undefined)).toBe(true);
    }
  });
});
