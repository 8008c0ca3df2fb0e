import { PermanentError } from '../errors.js';

/**
 * When a JWT access token expires, in epoch milliseconds, read from its `exp` claim. The
 * signature is not checked: Keycloak issued the token to us over TLS, and we only use the claim
 * to know when to ask for a new one.
 */
export function readJwtExpiry(token: string): number {
  const payload = token.split('.')[1];
  if (payload === undefined || payload === '') {
    throw new PermanentError('Keycloak access token is not a JWT (no payload segment)');
  }
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
  } catch (error) {
    throw new PermanentError('Keycloak access token payload is not JSON', { cause: error });
  }
  const exp: unknown =
    typeof claims === 'object' && claims !== null ? Reflect.get(claims, 'exp') : undefined;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) {
    throw new PermanentError('Keycloak access token has no numeric "exp" claim');
  }
  return exp * 1000;
}
