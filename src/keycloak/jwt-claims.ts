import { PermanentError } from '../errors.js';

/**
 * The claims of a JWT access token. The signature is not checked: Keycloak issued the token to
 * us over TLS, and the relay only reads what the token says about itself (expiry, roles).
 */
export function readJwtClaims(token: string): unknown {
  const payload = token.split('.')[1];
  if (payload === undefined || payload === '') {
    throw new PermanentError('Keycloak access token is not a JWT (no payload segment)');
  }
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
  } catch (error) {
    throw new PermanentError('Keycloak access token payload is not JSON', { cause: error });
  }
}

/**
 * The roles a token grants on one client (`resource_access.<clientId>.roles`), composites
 * expanded as Keycloak puts them in the token; none when the claim is missing or malformed.
 */
export function readClientRoles(token: string, clientId: string): string[] {
  const claims = readJwtClaims(token);
  const access: unknown =
    typeof claims === 'object' && claims !== null ? Reflect.get(claims, 'resource_access') : {};
  const client: unknown =
    typeof access === 'object' && access !== null ? Reflect.get(access, clientId) : undefined;
  const roles: unknown =
    typeof client === 'object' && client !== null ? Reflect.get(client, 'roles') : undefined;
  return Array.isArray(roles)
    ? roles.filter((role): role is string => typeof role === 'string')
    : [];
}
