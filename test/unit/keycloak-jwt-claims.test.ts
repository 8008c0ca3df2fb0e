import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../src/errors.js';
import { readClientRoles, readJwtClaims } from '../../src/keycloak/jwt-claims.js';

const jwt = (claims: unknown): string =>
  `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;

describe('readClientRoles', () => {
  it("reads one client's roles from resource_access", () => {
    const token = jwt({
      resource_access: {
        'realm-management': { roles: ['view-users', 'query-users', 'view-events'] },
        account: { roles: ['manage-account'] },
      },
    });
    expect(readClientRoles(token, 'realm-management')).toEqual([
      'view-users',
      'query-users',
      'view-events',
    ]);
  });

  it('finds none where the claim is missing or malformed, keeping only string roles', () => {
    expect(readClientRoles(jwt({ sub: 'x' }), 'realm-management')).toEqual([]);
    expect(readClientRoles(jwt({ resource_access: null }), 'realm-management')).toEqual([]);
    expect(
      readClientRoles(
        jwt({ resource_access: { 'realm-management': { roles: 'view-users' } } }),
        'realm-management',
      ),
    ).toEqual([]);
    expect(
      readClientRoles(
        jwt({ resource_access: { 'realm-management': { roles: ['view-users', 7] } } }),
        'realm-management',
      ),
    ).toEqual(['view-users']);
  });

  it('rejects what is not a JWT, as the expiry reader does', () => {
    expect(() => readJwtClaims('opaque-token')).toThrow(PermanentError);
    expect(() => readClientRoles('a.bm90IGpzb24.c', 'realm-management')).toThrow(/not JSON/);
  });
});
