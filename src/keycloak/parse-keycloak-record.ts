import type { z } from 'zod';
import { PermanentError } from '../errors.js';

/**
 * Validates one record Keycloak returned. A record that lacks what the relay relies on is a
 * permanent failure that names the entity and the field, never a silent skip.
 */
export function parseKeycloakRecord<S extends z.ZodType>(
  schema: S,
  value: unknown,
  entity: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
  throw new PermanentError(`Keycloak returned a malformed ${entity}: ${issues}`);
}
