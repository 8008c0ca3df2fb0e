import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type RealmRepresentation from '@keycloak/keycloak-admin-client/lib/defs/realmRepresentation.js';
import { LISTENER_PROVIDER_ID } from '../../test/support/keycloak-listener.js';
import { RELAY_CLIENT_ID, loadDemoRealm } from '../../test/support/realm-template.js';

/** The demo realm as Keycloak imports it, and what the relay needs to read it. */
export interface DemoRealm {
  /** The realm's name (`demo`). */
  name: string;
  /** The import file written for this run. */
  importFile: string;
  /** The relay's confidential client and its secret, from keycloak-config/realm-demo.json. */
  clientId: string;
  clientSecret: string;
}

/**
 * keycloak-config/realm-demo.json as this run imports it: unchanged, except that the RabbitMQ
 * listener is listed only when the server has it. Keycloak 26 refuses to save the realm's event
 * settings (the admin console's Events tab) while it lists a listener that is not installed.
 */
export function demoRealmForImport(
  template: RealmRepresentation,
  withListener: boolean,
): RealmRepresentation {
  const realm = structuredClone(template);
  const listeners = (realm.eventsListeners ?? []).filter((id) => id !== LISTENER_PROVIDER_ID);
  realm.eventsListeners = withListener ? [...listeners, LISTENER_PROVIDER_ID] : listeners;
  return realm;
}

/** The relay client's secret in a realm representation; fails when the client is missing. */
export function relayClientSecret(realm: RealmRepresentation): string {
  const client = realm.clients?.find((candidate) => candidate.clientId === RELAY_CLIENT_ID);
  if (client?.secret === undefined || client.secret === '') {
    throw new Error(`the demo realm has no client "${RELAY_CLIENT_ID}" with a secret`);
  }
  return client.secret;
}

/** Writes this run's import file into `dir` (see {@link demoRealmForImport}). */
export async function writeDemoRealm(dir: string, withListener: boolean): Promise<DemoRealm> {
  const realm = demoRealmForImport(await loadDemoRealm(), withListener);
  if (realm.realm === undefined || realm.realm === '') {
    throw new Error('keycloak-config/realm-demo.json has no "realm" name');
  }
  const importFile = join(dir, 'realm-demo.json');
  await writeFile(importFile, `${JSON.stringify(realm, null, 2)}\n`);
  return {
    name: realm.realm,
    importFile,
    clientId: RELAY_CLIENT_ID,
    clientSecret: relayClientSecret(realm),
  };
}
