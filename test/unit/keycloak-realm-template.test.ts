import { describe, expect, it } from 'vitest';
import { loadDemoRealm, realmFromTemplate } from '../support/realm-template.js';

describe('the demo realm template', () => {
  it('enables user and admin events with details, a week of retention, and both listeners', async () => {
    const realm = await loadDemoRealm();
    expect(realm).toMatchObject({
      realm: 'demo',
      eventsEnabled: true,
      eventsExpiration: 604_800,
      adminEventsEnabled: true,
      adminEventsDetailsEnabled: true,
      attributes: { adminEventsExpiration: '604800' },
      eventsListeners: ['jboss-logging', 'keycloak-to-rabbitmq'],
    });
    expect(realm.enabledEventTypes).toEqual(
      expect.arrayContaining(['REGISTER', 'UPDATE_PROFILE', 'UPDATE_EMAIL', 'DELETE_ACCOUNT']),
    );
  });

  it('lets usernames be edited, so the demo can show a rename reaching SCIM', async () => {
    expect(await loadDemoRealm()).toMatchObject({ editUsernameAllowed: true });
  });

  it('gives the scim-relay service account only view-users and view-events', async () => {
    const realm = await loadDemoRealm();
    const client = realm.clients?.find((candidate) => candidate.clientId === 'scim-relay');
    expect(client).toMatchObject({
      publicClient: false,
      serviceAccountsEnabled: true,
      standardFlowEnabled: false,
      directAccessGrantsEnabled: false,
    });
    const account = realm.users?.find((user) => user.serviceAccountClientId === 'scim-relay');
    expect(account?.realmRoles).toEqual([]);
    expect(account?.clientRoles).toEqual({ 'realm-management': ['view-users', 'view-events'] });
  });
});

describe('realmFromTemplate', () => {
  it('renames, sets the secret, drops absent listeners and leaves the template untouched', async () => {
    const template = await loadDemoRealm();
    const realm = realmFromTemplate(template, {
      realm: 'reader-1234',
      clientSecret: 'generated',
      availableEventListeners: ['jboss-logging', 'email'],
      accessTokenLifespan: 10,
    });
    expect(realm.realm).toBe('reader-1234');
    expect(realm.eventsListeners).toEqual(['jboss-logging']);
    expect(realm.accessTokenLifespan).toBe(10);
    expect(realm.clients?.find((client) => client.clientId === 'scim-relay')?.secret).toBe(
      'generated',
    );
    expect(template.realm).toBe('demo');
    expect(template.eventsListeners).toEqual(['jboss-logging', 'keycloak-to-rabbitmq']);
  });

  it('keeps every listener when the available ones are not given', async () => {
    const realm = realmFromTemplate(await loadDemoRealm(), { realm: 'x', clientSecret: 's' });
    expect(realm.eventsListeners).toEqual(['jboss-logging', 'keycloak-to-rabbitmq']);
  });

  it('refuses a template without the scim-relay client', () => {
    expect(() =>
      realmFromTemplate({ realm: 'bare', clients: [] }, { realm: 'x', clientSecret: 's' }),
    ).toThrow(/no client "scim-relay"/);
  });
});
