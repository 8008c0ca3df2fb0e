import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import type { Scope } from '../domain/scope.js';
import type { SyncEngineOptions } from '../sync/engine.js';
import type { KeycloakAccessOptions } from '../keycloak/keycloak-access-options.js';
import { createKeycloakReader, type KeycloakReader } from '../keycloak/keycloak-reader.js';
import { addLoggedSecret, type Logger } from '../logger.js';
import { ScimClient, type ScimClientHooks, type ScimClientOptions } from '../scim/scim-client.js';
import type { CredentialAdvice } from '../security/credential-health.js';
import { secretFrom } from '../security/secret-file.js';

/**
 * The SCIM client as the configuration describes it; `overrides` adjust it for one command. A
 * token from `SCIM_TOKEN_FILE` is read again after a 401, and each new value is blanked in the
 * lines of `hooks.logger`.
 */
export function scimClientFrom(
  config: Config,
  hooks: ScimClientHooks = {},
  overrides: Partial<ScimClientOptions> = {},
): ScimClient {
  return new ScimClient(
    {
      baseUrl: config.scim.url,
      token: secretFrom(
        config.scim.token,
        config.scim.tokenFile,
        'SCIM_TOKEN_FILE',
        blankIn(hooks.logger),
      ),
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
 * timeout for one command (`check` reads single items and does not wait long), and may watch
 * the credentials. A secret from `KEYCLOAK_CLIENT_SECRET_FILE` is read again before every
 * login; each new value is blanked in the lines of `logger`.
 */
export function keycloakReaderFrom(
  config: Config,
  overrides: Pick<KeycloakAccessOptions, 'pageSize' | 'requestTimeoutMs' | 'credentials'> = {},
  logger?: Logger,
): Promise<KeycloakReader> {
  return createKeycloakReader({
    url: config.keycloak.url,
    realm: config.keycloak.realm,
    clientId: config.keycloak.clientId,
    clientSecret: config.keycloak.clientSecret,
    clientSecretSource: secretFrom(
      config.keycloak.clientSecret,
      config.keycloak.clientSecretFile,
      'KEYCLOAK_CLIENT_SECRET_FILE',
      blankIn(logger),
    ),
    caFile: config.keycloak.caFile,
    pageSize: config.keycloak.pageSize,
    ...overrides,
  });
}

/** Makes `logger`, when there is one, blank each value a secret's file is read to hold. */
function blankIn(logger: Logger | undefined): (value: string) => void {
  return (value) => {
    if (logger !== undefined) addLoggedSecret(logger, value);
  };
}

/**
 * What the operator must fix when a side refuses the relay's credentials, naming the settings
 * as they were given: a secret from a file is re-read, one given directly needs a restart.
 */
export function credentialAdviceFrom(config: Config): CredentialAdvice {
  const client = `client "${config.keycloak.clientId}" (KEYCLOAK_CLIENT_ID)`;
  const secretFile = config.keycloak.clientSecretFile;
  const tokenFile = config.scim.tokenFile;
  return {
    keycloak:
      secretFile === undefined
        ? `set KEYCLOAK_CLIENT_SECRET to the current secret of ${client} and restart the relay (a secret from KEYCLOAK_CLIENT_SECRET_FILE is re-read without a restart)`
        : `write the current secret of ${client} to the file KEYCLOAK_CLIENT_SECRET_FILE names ("${secretFile}"); it is re-read before each login, no restart needed`,
    scim:
      tokenFile === undefined
        ? `set SCIM_TOKEN to the integration's current Secret Token and restart the relay (a token from SCIM_TOKEN_FILE is re-read without a restart)`
        : `write the integration's current Secret Token to the file SCIM_TOKEN_FILE names ("${tokenFile}"); it is re-read after each refusal, no restart needed`,
  };
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
    minDelayMs: config.retry.minDelayMs,
    maxDelayMs: config.retry.maxDelayMs,
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
