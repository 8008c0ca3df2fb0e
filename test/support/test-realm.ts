import { randomBytes, randomUUID } from 'node:crypto';
import KeycloakAdminClient from '@keycloak/keycloak-admin-client';
import type { KeycloakAccessOptions } from '../../src/keycloak/keycloak-access-options.js';
import { readJwtExpiry } from '../../src/keycloak/jwt-expiry.js';
import { createTokenSource } from '../../src/keycloak/token-source.js';
import { LISTENER_PROVIDER_ID } from './keycloak-listener.js';
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
  /**
   * List the real RabbitMQ event listener (`keycloak-to-rabbitmq`) in the realm's
   * `eventsListeners`, so Keycloak publishes the realm's events to the stack's broker. Fails when
   * the server does not have the listener. Default: false: a realm publishes nothing, even where
   * the listener is installed, so suites that feed the relay by other means see only their own
   * messages.
   */
  realListener?: boolean;
}

/** How to log in to a Keycloak as the master realm's admin: the stack's, or one a test started. */
export type KeycloakLogin = Pick<TestStackFacts, 'keycloakUrl' | 'adminUsername' | 'adminPassword'>;

/** The event listener providers `login`'s server has installed, e.g. `jboss-logging`. */
export async function serverEventListeners(login: KeycloakLogin): Promise<string[]> {
  const serverInfo = await masterAdminClient(login, 'master').serverInfo.find();
  return Object.keys(serverInfo.providers?.eventsListener?.providers ?? {});
}

/**
 * The listeners a new realm keeps from the template: those the server has, without the real
 * RabbitMQ listener unless the realm asks for it.
 */
export function realmEventListeners(
  installed: readonly string[],
  realListener: boolean,
): { available: string[]; required: string[] } {
  if (realListener && !installed.includes(LISTENER_PROVIDER_ID)) {
    throw new Error(
      `a realm with the real RabbitMQ listener was asked for, but the server has no ` +
        `${LISTENER_PROVIDER_ID} provider (installed: ${installed.join(', ')})`,
    );
  }
  return {
    available: installed.filter((listener) => realListener || listener !== LISTENER_PROVIDER_ID),
    required: realListener ? [LISTENER_PROVIDER_ID] : [],
  };
}

/**
 * An admin client for `realm` that logs in to the master realm as the bootstrap admin. The
 * master realm's tokens live 60 s, and the stock client refreshes against its *own* realm, so
 * token renewal goes through the relay's token source instead.
 */
export function masterAdminClient(facts: KeycloakLogin, realm: string): KeycloakAdminClient {
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
  facts: KeycloakLogin,
  options: TestRealmOptions = {},
): Promise<TestRealm> {
  const name = `${options.prefix ?? 'test'}-${randomUUID().slice(0, 8)}`;
  const clientSecret = randomBytes(24).toString('base64url');
  const admin = masterAdminClient(facts, name);
  const serverInfo = await admin.serverInfo.find();
  const listeners = realmEventListeners(
    Object.keys(serverInfo.providers?.eventsListener?.providers ?? {}),
    options.realListener ?? false,
  );
  const template = await loadDemoRealm();
  await admin.realms.create(
    realmFromTemplate(template, {
      realm: name,
      clientSecret,
      availableEventListeners: listeners.available,
      requiredEventListeners: listeners.required,
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
