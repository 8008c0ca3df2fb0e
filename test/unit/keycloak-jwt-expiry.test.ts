import { describe, expect, it } from 'vitest';
import { readJwtExpiry } from '../../src/keycloak/jwt-expiry.js';
import { PermanentError } from '../../src/errors.js';

const jwt = (claims: unknown): string =>
  `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;

describe('readJwtExpiry', () => {
  it('reads exp (seconds) as epoch milliseconds', () => {
    expect(readJwtExpiry(jwt({ exp: 1_795_877_492, iat: 1_795_877_192 }))).toBe(1_795_877_492_000);
  });

  it('rejects tokens without a payload, with a non-JSON payload or without a numeric exp', () => {
    expect(() => readJwtExpiry('opaque-token')).toThrow(PermanentError);
    expect(() => readJwtExpiry('a.bm90IGpzb24.c')).toThrow(/not JSON/);
    expect(() => readJwtExpiry(jwt({ exp: 'soon' }))).toThrow(/numeric "exp"/);
    expect(() => readJwtExpiry(jwt(null))).toThrow(/numeric "exp"/);
  });
});
