import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  CredentialsRefusedError,
  PermanentError,
  ScimError,
  TransientError,
  credentialsRefusedBy,
  isHeldBack,
  isTransient,
  isTransientStatus,
} from '../../src/errors.js';
import { scimErrorFrom } from '../../src/scim/scim-http.js';

describe('error classification', () => {
  it.each([408, 429, 500, 502, 503, 504])('retries HTTP %i', (status) => {
    expect(isTransientStatus(status)).toBe(true);
    expect(isTransient(new ScimError({ status, operation: 'GET /Users' }))).toBe(true);
  });

  it.each([400, 401, 403, 404, 409, 412, 422])('does not retry HTTP %i', (status) => {
    expect(isTransientStatus(status)).toBe(false);
    expect(isTransient(new ScimError({ status, operation: 'GET /Users' }))).toBe(false);
  });

  it('follows the class for the relay’s own errors', () => {
    expect(isTransient(new TransientError('down'))).toBe(true);
    expect(isTransient(new PermanentError('bad'))).toBe(false);
    expect(isTransient(new ConfigError(['SCIM_URL: required']))).toBe(false);
  });

  it('treats an unknown error as transient, so work is kept rather than lost', () => {
    expect(isTransient(new Error('socket hang up'))).toBe(true);
  });
});

describe('refused credentials: held, neither retried in place nor parked', () => {
  it('tells which side refused the relay’s own credentials', () => {
    expect(credentialsRefusedBy(new CredentialsRefusedError('invalid_client'))).toBe('keycloak');
    expect(credentialsRefusedBy(new ScimError({ status: 401, operation: 'GET /Users' }))).toBe(
      'scim',
    );
  });

  it('finds a refusal that a caller wrapped as the cause of its own error', () => {
    const wrapped = new Error('reconcile of user u failed', {
      cause: new Error('reading Keycloak failed', {
        cause: new CredentialsRefusedError('HTTP 401'),
      }),
    });
    expect(credentialsRefusedBy(wrapped)).toBe('keycloak');
    expect(isHeldBack(wrapped)).toBe(true);
  });

  it.each([
    [
      'a 403 of the SCIM integration (disabled)',
      new ScimError({ status: 403, operation: 'POST /Users' }),
    ],
  ])('holds %s too, without calling it a credential refusal', (_what, error) => {
    expect(isHeldBack(error)).toBe(true);
    expect(credentialsRefusedBy(error)).toBeUndefined();
  });

  it.each([
    ['a permanent error', new PermanentError('user u has no email')],
    ['a transient error', new TransientError('HTTP 503')],
    ['a SCIM 409', new ScimError({ status: 409, operation: 'POST /Users' })],
    ['a SCIM 400', new ScimError({ status: 400, operation: 'POST /Users' })],
    ['a plain error', new Error('socket hang up')],
    ['a string', 'boom'],
  ])('does not hold %s', (_what, error) => {
    expect(isHeldBack(error)).toBe(false);
    expect(credentialsRefusedBy(error)).toBeUndefined();
  });

  it('is not retried within one request (the same credentials get the same answer)', () => {
    const refused = new CredentialsRefusedError('HTTP 401');
    expect(isTransient(refused)).toBe(false);
    expect(refused).not.toBeInstanceOf(PermanentError);
    expect(refused.name).toBe('CredentialsRefusedError');
    expect(isTransient(new ScimError({ status: 401, operation: 'GET /Users' }))).toBe(false);
  });
});

describe('SCIM error bodies', () => {
  it('become a typed error with status, scimType and detail', () => {
    const body = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '409',
      scimType: 'uniqueness',
      detail: 'userName "alice" is taken',
    };
    const error = scimErrorFrom(
      'POST /Users (userName "alice")',
      409,
      body,
      JSON.stringify(body),
      {},
    );
    expect(error).toBeInstanceOf(ScimError);
    expect(error.status).toBe(409);
    expect(error.scimType).toBe('uniqueness');
    expect(error.detail).toBe('userName "alice" is taken');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('POST /Users (userName "alice")');
    expect(error.message).toContain('uniqueness');
  });

  it('keep the start of a non-SCIM body as the detail', () => {
    const text = '<html><body>Bad Gateway</body></html>';
    const error = scimErrorFrom('GET /Users', 502, undefined, text, {});
    expect(error.detail).toBe(text);
    expect(error.scimType).toBeUndefined();
    expect(error.retryable).toBe(true);
  });

  it('carry Retry-After in both forms', () => {
    expect(
      scimErrorFrom('GET /Users', 429, undefined, '', { 'retry-after': '7' }).retryAfterMs,
    ).toBe(7000);
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    const fromDate = scimErrorFrom('GET /Users', 503, undefined, '', {
      'retry-after': inTenSeconds,
    });
    expect(fromDate.retryAfterMs).toBeGreaterThan(8000);
    expect(fromDate.retryAfterMs).toBeLessThanOrEqual(10_000);
  });
});
