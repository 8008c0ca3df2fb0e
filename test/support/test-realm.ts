import { randomBytes, randomUUID } from 'node:crypto';
import KeycloakAdminClient from '@keycloak/keycloak-admin-client';
import type { KeycloakAccessOptions } from '../../src/keycloak/keycloak-access-options.js';
import { readJwtExpiry } from '../../src/keycloak/jwt-expiry.js';
import { createTokenSource } from '../../src/keycloak/token-source.js';
import { RELAY_CLIENT_ID, loadDemoRealm, realmFromTemplate } from './realm-template.js';
import type { TestStackFacts } from './stack-facts.js';

/** A fresh realm made from the demo template, private to one test file. */
export interface TestRealm {
  name: string;
  /** Admin client bound to this realm, logged in as the master admin (token renewed as needed). */
  admin: KeycloakAdminClient;
  /** What the relay needs to read this realm as its service account. */
  relay: KeycloakAccessOptions;
  /** Deletes the realm (and everything in it). */
  delete(): Promise<void>;
}

/** Options for {@link createTestRealm}. */
export interface TestRealmOptions {
  /** Start of the realm name; a random suffix keeps parallel runs apart. Default: `test`. */
  prefix?: string;
  /** Access-token lifespan in seconds for the realm's clients. Default: the template's. */
  accessTokenLifespan?: number;
}

/**
 * An admin client for `realm` that logs in to the master realm as the bootstrap admin. The
 * master realm's tokens live 60 s, and the stock client refreshes against its *own* realm, so
 * token renewal goes through the relay's token source instead.
 */
export function masterAdminClient(facts: TestStackFacts, realm: string): KeycloakAdminClient {
  const login = new KeycloakAdminClient({ baseUrl: facts.keycloakUrl, realmName: 'master' });
  const tokens = createTokenSource(async () => {
    await login.auth({
      grantType: 'password',
      clientId: 'admin-cli',
      username: facts.adminUsername,
      password: facts.adminPassword,
    });
    const value = login.accessToken;
    if (value === undefined) throw new Error('the master realm returned no admin access token');
    return { value, expiresAtMs: readJwtExpiry(value) };
  });
  const admin = new KeycloakAdminClient({ baseUrl: facts.keycloakUrl, realmName: realm });
  admin.registerTokenProvider({ getAccessToken: () => tokens.getToken() });
  return admin;
}

/** Creates a realm from keycloak-config/realm-demo.json with a unique name and a new secret. */
export async function createTestRealm(
  facts: TestStackFacts,
  options: TestRealmOptions = {},
): Promise<TestRealm> {
  const name = `${options.prefix ?? 'test'}-${randomUUID().slice(0, 8)}`;
  const clientSecret = randomBytes(24).toString('base64url');
  const admin = masterAdminClient(facts, name);
  const serverInfo = await admin.serverInfo.find();
  const listeners = Object.keys(serverInfo.providers?.eventsListener?.providers ?? {});
  const template = await loadDemoRealm();
  await admin.realms.create(
    realmFromTemplate(template, {
      realm: name,
      clientSecret,
      availableEventListeners: listeners,
      ...(options.accessTokenLifespan === undefined
        ? {}
        : { accessTokenLifespan: options.accessTokenLifespan }),
    }),
  );
  return {
    name,
    admin,
    relay: { url: facts.keycloakUrl, realm: name, clientId: RELAY_CLIENT_ID, clientSecret },
    async delete() {
      await admin.realms.del({ realm: name });
    },
  };
}
