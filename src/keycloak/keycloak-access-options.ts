import type { CredentialObserver } from '../security/credential-health.js';
import type { SecretSource } from '../security/secret-file.js';

/**
 * How the relay reaches Keycloak. The config module builds this; the access layer only reads it,
 * so it can be constructed by hand in tests and tools.
 */
export interface KeycloakAccessOptions {
  /** Keycloak's base URL without `/admin` or `/realms`, e.g. `https://sso.example.com`. */
  url: string;
  /** The realm whose users, groups and events are read (and whose token endpoint is used). */
  realm: string;
  /** Client id of the confidential client with a service account (`scim-relay` in the templates). */
  clientId: string;
  /** That client's secret. Never logged. */
  clientSecret: string;
  /**
   * Where to read the secret again, when it comes from a file: re-read before every login, so
   * a secret rotated in its file is used without a restart. Its value replaces `clientSecret`.
   */
  clientSecretSource?: SecretSource | undefined;
  /** Told when Keycloak accepts the credentials, and when it refuses them. */
  credentials?: CredentialObserver | undefined;
  /** PEM file with extra CA certificates to trust for Keycloak's TLS certificate. Default: none. */
  caFile?: string | undefined;
  /** Items asked for per request by every paged reader. Default: 100. */
  pageSize?: number;
  /** Milliseconds before a single HTTP request to Keycloak is abandoned. Default: 30 000. */
  requestTimeoutMs?: number;
}

/** Page size used when {@link KeycloakAccessOptions.pageSize} is not set. */
export const DEFAULT_KEYCLOAK_PAGE_SIZE = 100;

/** Request timeout used when {@link KeycloakAccessOptions.requestTimeoutMs} is not set. */
export const DEFAULT_KEYCLOAK_REQUEST_TIMEOUT_MS = 30_000;
