import type { ScimError } from './errors.js';
import { scimError } from './scim-response.js';

/**
 * Kestra does not support password synchronisation. This server refuses any request that
 * carries a password so that a client which tries to sync one fails loudly in tests.
 */
export function passwordRefused(): ScimError {
  return scimError(
    400,
    'password synchronisation is not supported: the request must not carry a "password" attribute',
    'invalidValue',
  );
}

/** Whether an attribute name or PATCH path names the password (plain or URN-qualified). */
export function isPasswordPath(path: string): boolean {
  const lower = path.trim().toLowerCase();
  return lower === 'password' || lower.endsWith(':password');
}

/** Whether an object carries a password attribute at its top level. */
export function carriesPassword(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.keys(value).some(isPasswordPath);
}
