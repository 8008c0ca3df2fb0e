import { z } from 'zod';

/** A group as Keycloak's admin API returns it; `parentId` only comes from newer servers. */
export const keycloakGroupRecordSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  path: z.string().min(1),
  parentId: z.string().optional(),
  subGroupCount: z.number().int().nonnegative().optional(),
});

/**
 * A group as the relay sees it. `parentId` is undefined for a top-level group. `path` is
 * `/parent/child`; it changes when an ancestor is renamed or moved.
 */
export interface KeycloakGroup {
  id: string;
  name: string;
  path: string;
  parentId: string | undefined;
}
