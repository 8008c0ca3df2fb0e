import { readFile } from 'node:fs/promises';
import type RealmRepresentation from '@keycloak/keycloak-admin-client/lib/defs/realmRepresentation.js';
import { DEMO_REALM_FILE } from './repo-paths.js';

/** The client the relay logs in with, as named in the realm templates. */
export const RELAY_CLIENT_ID = 'scim-relay';

/** The demo realm import, parsed. */
export async function loadDemoRealm(file: string = DEMO_REALM_FILE): Promise<RealmRepresentation> {
  return JSON.parse(await readFile(file, 'utf8')) as RealmRepresentation;
}

/** How a realm made from the template differs from it. */
export interface RealmFromTemplateOptions {
  realm: string;
  /** Secret of the `scim-relay` client. */
  clientSecret: string;
  /**
   * Event listeners the server actually has. Listed listeners it lacks (the RabbitMQ one when its
   * jar is not installed) are dropped: realm creation accepts them, but Keycloak 26 refuses to
   * save an events config that names them later. Default: keep the template's list.
   */
  availableEventListeners?: readonly string[];
  /** Listeners the realm must list even where the template does not. Default: none. */
  requiredEventListeners?: readonly string[];
  /** Access-token lifespan in seconds (e.g. short, to exercise token renewal). */
  accessTokenLifespan?: number;
}

/** A copy of `template` renamed to `options.realm`, with a fresh relay secret. */
export function realmFromTemplate(
  template: RealmRepresentation,
  options: RealmFromTemplateOptions,
): RealmRepresentation {
  const realm = structuredClone(template);
  realm.realm = options.realm;
  realm.displayName = `Test realm ${options.realm}`;
  delete realm.id;
  const relayClient = realm.clients?.find((client) => client.clientId === RELAY_CLIENT_ID);
  if (relayClient === undefined) {
    throw new Error(`the realm template has no client "${RELAY_CLIENT_ID}"`);
  }
  relayClient.secret = options.clientSecret;
  const available = options.availableEventListeners;
  if (available !== undefined && realm.eventsListeners !== undefined) {
    realm.eventsListeners = realm.eventsListeners.filter((listener) =>
      available.includes(listener),
    );
  }
  for (const listener of options.requiredEventListeners ?? []) {
    realm.eventsListeners ??= [];
    if (!realm.eventsListeners.includes(listener)) realm.eventsListeners.push(listener);
  }
  if (options.accessTokenLifespan !== undefined) {
    realm.accessTokenLifespan = options.accessTokenLifespan;
  }
  return realm;
}
