import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { createKeycloakReader } from '../../src/keycloak/keycloak-reader.js';
import { readJwtExpiry } from '../../src/keycloak/jwt-expiry.js';
import { canConnectAmqp } from '../support/rabbitmq-local.js';
import { masterAdminClient, createTestRealm } from '../support/test-realm.js';

/** The secret the demo realm ships with (documented as one to change). */
const DEMO_SECRET = 'demo-scim-relay-secret-CHANGE-ME';

async function relayToken(base: string, realm: string, secret: string): Promise<string> {
  const response = await fetch(`${base}/realms/${realm}/protocol/openid-connect/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`scim-relay:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { access_token: string };
  return body.access_token;
}

function claims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('the e2e stack and the demo realm', () => {
  const facts = inject('testStack');

  it('imported the demo realm with its event settings, and runs the RabbitMQ listener', async () => {
    const admin = masterAdminClient(facts, facts.demoRealm);
    const listeners = Object.keys(
      (await admin.serverInfo.find()).providers?.eventsListener?.providers ?? {},
    );
    expect(listeners).toContain('jboss-logging');
    expect(listeners).toContain('keycloak-to-rabbitmq');
    expect(facts).toMatchObject({ realListener: true, listenerExchange: 'amq.topic' });
    const config = await admin.realms.getConfigEvents({ realm: facts.demoRealm });
    expect(config).toMatchObject({
      eventsEnabled: true,
      eventsExpiration: 604_800,
      adminEventsEnabled: true,
      adminEventsDetailsEnabled: true,
      eventsListeners: ['jboss-logging', 'keycloak-to-rabbitmq'],
    });
    expect(config.enabledEventTypes).toEqual(
      expect.arrayContaining(['REGISTER', 'UPDATE_PROFILE', 'UPDATE_EMAIL', 'DELETE_ACCOUNT']),
    );
    const realm = await admin.realms.findOne({ realm: facts.demoRealm });
    expect(realm?.attributes).toMatchObject({ adminEventsExpiration: '604800' });
    expect(realm?.editUsernameAllowed).toBe(true);
  });

  it('lets an admin rename a user in the demo realm, as the console offers it', async () => {
    const admin = masterAdminClient(facts, facts.demoRealm);
    const username = `rename-${randomUUID().slice(0, 8)}`;
    const { id } = await admin.users.create({ username, enabled: true });
    try {
      // The admin console makes the field editable exactly when this metadata says so.
      const before = await admin.users.findOne({ id, userProfileMetadata: true });
      const field = before?.userProfileMetadata?.attributes?.find(
        (attribute) => attribute.name === 'username',
      );
      expect(field?.readOnly).toBe(false);

      await admin.users.update({ id }, { ...before, username: `${username}-renamed` });
      expect((await admin.users.findOne({ id }))?.username).toBe(`${username}-renamed`);
    } finally {
      await admin.users.del({ id });
    }
  });

  it('gives the scim-relay service account exactly view-users and view-events', async () => {
    const token = await relayToken(facts.keycloakUrl, facts.demoRealm, DEMO_SECRET);
    const access = claims(token);
    expect(access.realm_access).toBeUndefined();
    expect(access.resource_access).toEqual({
      'realm-management': {
        roles: expect.arrayContaining([
          'view-users',
          'view-events',
          'query-users',
          'query-groups',
        ]) as unknown,
      },
    });
    const roles = (access.resource_access as { 'realm-management': { roles: string[] } })[
      'realm-management'
    ].roles;
    expect([...roles].sort()).toEqual(['query-groups', 'query-users', 'view-events', 'view-users']);
    expect(readJwtExpiry(token)).toBeGreaterThan(Date.now());

    // Read-only: the same token cannot create a user.
    const create = await fetch(`${facts.keycloakUrl}/admin/realms/${facts.demoRealm}/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'not-allowed' }),
    });
    expect(create.status).toBe(403);
  });

  it('lets the relay read the demo realm with the demo secret', async () => {
    const reader = await createKeycloakReader({
      url: facts.keycloakUrl,
      realm: facts.demoRealm,
      clientId: 'scim-relay',
      clientSecret: DEMO_SECRET,
    });
    await expect(reader.checkAccess()).resolves.toBeUndefined();
    await reader.close();
  });

  it('creates isolated realms from the template and deletes them', async () => {
    const realm = await createTestRealm(facts, { prefix: 'stack' });
    const settings = await realm.admin.realms.getConfigEvents({ realm: realm.name });
    expect(settings.eventsListeners).toEqual(['jboss-logging']);
    expect(settings.adminEventsDetailsEnabled).toBe(true);
    const reader = await createKeycloakReader(realm.relay);
    await reader.checkAccess();
    await reader.close();
    await realm.delete();
    expect(await realm.admin.realms.findOne({ realm: realm.name })).toBeFalsy();
  });

  it('has RabbitMQ accepting connections', async () => {
    expect(await canConnectAmqp(facts.amqpUrl)).toBe(true);
  });
});
