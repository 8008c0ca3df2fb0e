import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import { createKeycloakReader, type KeycloakReader } from '../keycloak/keycloak-reader.js';
import { ScimClient, type ScimClientHooks, type ScimClientOptions } from '../scim/scim-client.js';

/** The SCIM client as the configuration describes it; `overrides` adjust it for one command. */
export function scimClientFrom(
  config: Config,
  hooks: ScimClientHooks = {},
  overrides: Partial<ScimClientOptions> = {},
): ScimClient {
  return new ScimClient(
    {
      baseUrl: config.scim.url,
      token: config.scim.token,
      timeoutMs: config.scim.timeoutMs,
      connectTimeoutMs: config.scim.connectTimeoutMs,
      maxConnections: config.scim.maxConnections,
      pageSize: config.scim.pageSize,
      memberBatchSize: config.scim.memberBatchSize,
      retry: config.retry,
      ca: config.scim.caFile === undefined ? undefined : readFileSync(config.scim.caFile, 'utf8'),
      ...overrides,
    },
    hooks,
  );
}

/** The Keycloak reader as the configuration describes it. */
export function keycloakReaderFrom(config: Config): Promise<KeycloakReader> {
  return createKeycloakReader({
    url: config.keycloak.url,
    realm: config.keycloak.realm,
    clientId: config.keycloak.clientId,
    clientSecret: config.keycloak.clientSecret,
    caFile: config.keycloak.caFile,
    pageSize: config.keycloak.pageSize,
  });
}
