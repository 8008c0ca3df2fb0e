import {
  CredentialsRefusedError,
  PermanentError,
  RelayError,
  TransientError,
  isTransientStatus,
} from '../errors.js';
import { errorCode, isTlsTrustCode } from '../net-errors.js';
import { parseRetryAfter } from '../retry/retry-after.js';

/** What the relay was doing when a Keycloak call failed: named in every error message. */
export interface KeycloakCallContext {
  /** Base URL of Keycloak, for network errors. */
  url: string;
  realm: string;
  clientId: string;
  /** A short phrase, e.g. `list users (first=0, max=100)`. */
  action: string;
  /** The realm-management role this call needs; a 403 names it. */
  requiredRole?: string | undefined;
}

/** The HTTP side of a failed response, as the admin client's `NetworkError` carries it. */
interface HttpFailure {
  status: number;
  retryAfter: string | null;
  body: unknown;
}

function httpFailureOf(error: unknown): HttpFailure | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const response: unknown = Reflect.get(error, 'response');
  if (!(response instanceof Response)) return undefined;
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: Reflect.get(error, 'responseData'),
  };
}

/** Keycloak's own words from an error body (`error_description`, `errorMessage` or `error`). */
function serverMessage(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim() === '' ? undefined : body.slice(0, 200);
  if (typeof body !== 'object' || body === null) return undefined;
  for (const key of ['error_description', 'errorMessage', 'error']) {
    const value: unknown = Reflect.get(body, key);
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/** The token endpoint answers 400 with these when the client itself is refused. */
const OAUTH_CLIENT_ERRORS = new Set(['invalid_client', 'unauthorized_client']);

function isOAuthClientError(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const code: unknown = Reflect.get(body, 'error');
  return typeof code === 'string' && OAUTH_CLIENT_ERRORS.has(code);
}

/**
 * The HTTP status Keycloak answered a failed call with, read from the error the reader threw
 * (or its cause); `undefined` when no answer came (network, TLS, timeout). Lets a caller such as
 * `check` tell "the realm does not exist" from "the client was refused" without parsing text.
 */
export function keycloakStatusOf(error: unknown): number | undefined {
  const cause: unknown = error instanceof Error ? error.cause : undefined;
  return (httpFailureOf(error) ?? httpFailureOf(cause))?.status;
}

/**
 * Turns whatever a Keycloak call threw into the relay's taxonomy: refused credentials (401, or
 * the token endpoint's `invalid_client`/`unauthorized_client`) are a
 * {@link CredentialsRefusedError}, held until they work again; missing roles and other 4xx are
 * permanent; 408/429/5xx, timeouts and network failures are transient.
 */
export function toKeycloakError(error: unknown, context: KeycloakCallContext): RelayError {
  if (error instanceof RelayError) return error;
  const where = `Keycloak ${context.action} in realm "${context.realm}"`;
  const http = httpFailureOf(error);
  if (http !== undefined) {
    const said = serverMessage(http.body);
    const suffix = said === undefined ? '' : `: ${said}`;
    if (http.status === 401 || (http.status === 400 && isOAuthClientError(http.body))) {
      return new CredentialsRefusedError(
        `${where} failed with HTTP ${http.status}${suffix}; check the client id "${context.clientId}" (KEYCLOAK_CLIENT_ID) and its secret (KEYCLOAK_CLIENT_SECRET or the file KEYCLOAK_CLIENT_SECRET_FILE names)`,
        { cause: error },
      );
    }
    if (http.status === 403) {
      const role =
        context.requiredRole === undefined
          ? 'is missing a realm-management role'
          : `needs the realm-management role "${context.requiredRole}"`;
      return new PermanentError(
        `${where} was refused (HTTP 403): the service account of client "${context.clientId}" ${role}`,
        { cause: error },
      );
    }
    if (isTransientStatus(http.status)) {
      return new TransientError(`${where} failed with HTTP ${http.status}${suffix}`, {
        cause: error,
        retryAfterMs: parseRetryAfter(http.retryAfter, Date.now()),
      });
    }
    return new PermanentError(`${where} failed with HTTP ${http.status}${suffix}`, {
      cause: error,
    });
  }
  if (
    error instanceof DOMException &&
    (error.name === 'TimeoutError' || error.name === 'AbortError')
  ) {
    return new TransientError(`${where} timed out`, { cause: error });
  }
  const code = errorCode(error);
  if (isTlsTrustCode(code)) {
    return new PermanentError(
      `${where}: the TLS certificate of ${context.url} is not trusted (${code}); set the CA file (caFile) to the PEM of the issuing CA`,
      { cause: error },
    );
  }
  const reason = code ?? (error instanceof Error ? error.message : String(error));
  return new TransientError(`${where}: cannot reach ${context.url} (${reason})`, { cause: error });
}
