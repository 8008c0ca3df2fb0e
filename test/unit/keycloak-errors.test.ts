import { NetworkError } from '@keycloak/keycloak-admin-client';
import { describe, expect, it } from 'vitest';
import {
  CredentialsRefusedError,
  PermanentError,
  TransientError,
  credentialsRefusedBy,
  isTransient,
} from '../../src/errors.js';
import { keycloakStatusOf, toKeycloakError } from '../../src/keycloak/keycloak-errors.js';

const context = {
  url: 'https://sso.example.test',
  realm: 'acme',
  clientId: 'scim-relay',
  action: 'list users (first=0, max=100)',
  requiredRole: 'view-users',
};

function httpError(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new NetworkError('Network response was not OK.', {
    response: new Response(null, { status, headers }),
    responseData: body,
  });
}

describe('toKeycloakError', () => {
  it('names the role a 403 lacks', () => {
    const error = toKeycloakError(httpError(403, { error: 'unknown_error' }), context);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain('"view-users"');
    expect(error.message).toContain('"scim-relay"');
    expect(error.message).toContain('realm "acme"');
  });

  it('treats 401 and refused client credentials as a refusal to hold, naming the settings', () => {
    for (const error of [
      httpError(401, {
        error: 'unauthorized_client',
        error_description: 'Invalid client or Invalid client credentials',
      }),
      httpError(400, {
        error: 'unauthorized_client',
        error_description: 'Client not enabled to retrieve service account',
      }),
    ]) {
      const mapped = toKeycloakError(error, { ...context, action: 'token request' });
      expect(mapped).toBeInstanceOf(CredentialsRefusedError);
      expect(mapped).not.toBeInstanceOf(PermanentError);
      expect(isTransient(mapped)).toBe(false);
      expect(credentialsRefusedBy(mapped)).toBe('keycloak');
      expect(mapped.message).toMatch(/client id "scim-relay" \(KEYCLOAK_CLIENT_ID\)/);
      expect(mapped.message).toMatch(
        /KEYCLOAK_CLIENT_SECRET or the file KEYCLOAK_CLIENT_SECRET_FILE/,
      );
      expect(keycloakStatusOf(mapped)).toBe(error.response.status);
    }
  });

  it('treats 5xx, 429 and 408 as transient and keeps Retry-After', () => {
    const busy = toKeycloakError(httpError(429, 'slow down', { 'retry-after': '7' }), context);
    expect(busy).toBeInstanceOf(TransientError);
    expect(busy).toMatchObject({ retryAfterMs: 7_000 });
    expect(toKeycloakError(httpError(503, ''), context)).toBeInstanceOf(TransientError);
    expect(toKeycloakError(httpError(408, ''), context)).toBeInstanceOf(TransientError);
  });

  it('treats other 4xx as permanent with the server message', () => {
    const error = toKeycloakError(
      httpError(400, { error: 'Invalid value for: dateFrom' }),
      context,
    );
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain('Invalid value for: dateFrom');
  });

  it('treats network failures and timeouts as transient, untrusted TLS as permanent', () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    });
    const network = toKeycloakError(refused, context);
    expect(network).toBeInstanceOf(TransientError);
    expect(network.message).toContain('cannot reach https://sso.example.test (ECONNREFUSED)');

    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(toKeycloakError(timeout, context)).toBeInstanceOf(TransientError);

    const untrusted = new TypeError('fetch failed', {
      cause: Object.assign(new Error('self-signed certificate in certificate chain'), {
        code: 'SELF_SIGNED_CERT_IN_CHAIN',
      }),
    });
    const tls = toKeycloakError(untrusted, context);
    expect(tls).toBeInstanceOf(PermanentError);
    expect(tls.message).toContain('caFile');
  });

  it('passes relay errors through unchanged', () => {
    const original = new PermanentError('already classified');
    expect(toKeycloakError(original, context)).toBe(original);
  });

  it('keeps the status of the answer within reach of callers, and none without an answer', () => {
    const missingRealm = toKeycloakError(httpError(404, { error: 'Realm does not exist' }), {
      ...context,
      action: 'token request (client credentials)',
    });
    expect(keycloakStatusOf(missingRealm)).toBe(404);
    expect(keycloakStatusOf(httpError(403, null))).toBe(403);
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    });
    expect(keycloakStatusOf(toKeycloakError(refused, context))).toBeUndefined();
    expect(keycloakStatusOf(new Error('unrelated'))).toBeUndefined();
  });
});
