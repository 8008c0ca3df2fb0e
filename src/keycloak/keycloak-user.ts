import { z } from 'zod';

/** The fields of a Keycloak user that provisioning reads. Unknown fields are dropped. */
export const keycloakUserSchema = z.object({
  id: z.string().min(1),
  username: z.string().min(1),
  email: z.string().optional(),
  firstName: z.string().optional(),
  lastName: z.string().optional(),
  enabled: z.boolean(),
  emailVerified: z.boolean().optional(),
  /** Set on service-account users (Keycloak's `serviceAccountClientId`), which are not people. */
  serviceAccountClientId: z.string().optional(),
  createdTimestamp: z.number().optional(),
});

/** A group member as listed in brief: its id is all a listing of members is read for. */
export const keycloakMemberSchema = z.object({ id: z.string().min(1) });

/** A user as read from Keycloak's admin API (full representation). */
export type KeycloakUser = z.output<typeof keycloakUserSchema>;
