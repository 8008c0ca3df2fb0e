import type { KeycloakGroup, KeycloakUser } from '../domain/keycloak-model.js';

/**
 * What reconciles read from Keycloak: the truth. The Keycloak access layer implements it; its
 * readers page through everything, so nothing here asks for a whole realm at once.
 */
export interface KeycloakReader {
  /** `undefined` when the user does not exist (deleted). */
  user(id: string): Promise<KeycloakUser | undefined>;
  /** `undefined` when the group does not exist (deleted, maybe with an ancestor). */
  group(id: string): Promise<KeycloakGroup | undefined>;
  /** The groups the user is a direct member of. */
  userGroups(userId: string): AsyncIterable<KeycloakGroup>;
  /** Every group below this one, each parent before its children. */
  descendants(groupId: string): AsyncIterable<KeycloakGroup>;
}
