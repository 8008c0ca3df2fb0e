import { z } from 'zod';

const detailsSchema = z.record(z.string(), z.unknown()).optional();

/** An admin event (`GET /admin/realms/{realm}/admin-events`). */
export const keycloakAdminEventSchema = z.object({
  /** Only Keycloak 26.2 and later give events an id. */
  id: z.string().optional(),
  time: z.number(),
  realmId: z.string().optional(),
  authDetails: z
    .object({
      realmId: z.string().optional(),
      realmName: z.string().optional(),
      clientId: z.string().optional(),
      userId: z.string().optional(),
      ipAddress: z.string().optional(),
    })
    .optional(),
  resourceType: z.string(),
  operationType: z.string(),
  resourcePath: z.string().optional(),
  /** The JSON body of the change, as a string; only kept with `adminEventsDetailsEnabled`. */
  representation: z.string().optional(),
  error: z.string().optional(),
  details: detailsSchema,
});

/** An admin event as stored by Keycloak. */
export type KeycloakAdminEvent = z.output<typeof keycloakAdminEventSchema>;

/** A user (login/self-service) event (`GET /admin/realms/{realm}/events`). */
export const keycloakUserEventSchema = z.object({
  /** Only Keycloak 26.2 and later give events an id. */
  id: z.string().optional(),
  time: z.number(),
  type: z.string(),
  realmId: z.string().optional(),
  clientId: z.string().optional(),
  userId: z.string().optional(),
  sessionId: z.string().optional(),
  ipAddress: z.string().optional(),
  error: z.string().optional(),
  details: detailsSchema,
});

/** A user event as stored by Keycloak. */
export type KeycloakUserEvent = z.output<typeof keycloakUserEventSchema>;
