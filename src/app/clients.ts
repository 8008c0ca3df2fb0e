import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import type { Scope } from '../domain/scope.js';
import type { SyncEngineOptions } from '../sync/engine.js';
import type { KeycloakAccessOptions } from '../keycloak/keycloak-access-options.js';
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

/**
 * The Keycloak reader as the configuration describes it; `overrides` adjust its paging and
 * timeout for one command (`check` reads single items and does not wait long).
 */
export function keycloakReaderFrom(
  config: Config,
  overrides: Pick<KeycloakAccessOptions, 'pageSize' | 'requestTimeoutMs'> = {},
): Promise<KeycloakReader> {
  return createKeycloakReader({
    url: config.keycloak.url,
    realm: config.keycloak.realm,
    clientId: config.keycloak.clientId,
    clientSecret: config.keycloak.clientSecret,
    caFile: config.keycloak.caFile,
    pageSize: config.keycloak.pageSize,
    ...overrides,
  });
}

/**
 * What the configuration says of how entities are provisioned and retried: the same for `run`
 * and for the operator commands that re-run parked or dead-lettered work, so that a retry
 * decides as the relay would.
 */
export function engineRulesFrom(
  config: Config,
): Pick<
  SyncEngineOptions,
  | 'mapping'
  | 'userDeleteMode'
  | 'membershipMode'
  | 'scope'
  | 'concurrency'
  | 'minDelayMs'
  | 'maxDelayMs'
> {
  return {
    mapping: config.mapping,
    userDeleteMode: config.mapping.userDeleteMode,
    membershipMode: config.mapping.membershipMode,
    scope: provisionScopeOf(config),
    concurrency: config.sync.concurrency,
    minDelayMs: Math.max(config.retry.minDelayMs, 100),
    maxDelayMs: Math.max(config.retry.maxDelayMs, 1_000),
  };
}

/** The PEM text of `AMQP_CA_FILE`, when set: the CA the relay and its commands trust for `amqps://`. */
export function amqpCaOf(config: Config): string | undefined {
  return config.amqp.caFile === undefined ? undefined : readFileSync(config.amqp.caFile, 'utf8');
}

/** The provisioning scope the configuration sets. */
export function provisionScopeOf(config: Config): Scope {
  return {
    userGroups: config.sync.scopeGroups ?? [],
    groupPath: config.sync.scopeGroupPath,
  };
}
