import { PermanentError } from '../errors.js';
import { readJwtClaims } from './jwt-claims.js';

/**
 * When a JWT access token expires, in epoch milliseconds, read from its `exp` claim: the moment
 * to ask for a new one.
 */
export function readJwtExpiry(token: string): number {
  const claims = readJwtClaims(token);
  const exp: unknown =
    typeof claims === 'object' && claims !== null ? Reflect.get(claims, 'exp') : undefined;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) {
    throw new PermanentError('Keycloak access token has no numeric "exp" claim');
  }
  return exp * 1000;
}
