import type { KeycloakGroup, KeycloakGroupRef, KeycloakUser } from '../domain/keycloak-model.js';

/**
 * What reconciles read from Keycloak: the truth. The Keycloak access layer implements it; its
 * readers page through everything, so nothing here asks for a whole realm at once.
 */
export interface KeycloakReader {
  /** `undefined` when the user does not exist (deleted). */
  user(id: string): Promise<KeycloakUser | undefined>;
  /**
   * With the names of its ancestors; `undefined` when the group does not exist (deleted, maybe
   * with an ancestor).
   */
  group(id: string): Promise<KeycloakGroup | undefined>;
  /**
   * The group without its ancestors' names, in one read: for where only its place in the tree
   * counts (a membership's group, a parent under inherited memberships), not its SCIM name.
   */
  groupRef(id: string): Promise<KeycloakGroupRef | undefined>;
  /** The groups the user is a direct member of; nothing when the user does not exist. */
  userGroups(userId: string): AsyncIterable<KeycloakGroupRef>;
  /** Every group below this one, each parent before its children; nothing when it is gone. */
  descendants(groupId: string): AsyncIterable<KeycloakGroupRef>;
  /** The ids of a group's direct members; nothing when the group no longer exists. */
  groupMemberIds(groupId: string): AsyncIterable<string>;
}

/** What a full reconcile reads from Keycloak besides that: everything, page by page. */
export interface KeycloakRealmReader extends KeycloakReader {
  /**
   * Every user of the realm but service accounts (Keycloak's listing leaves them out), by
   * username, from the `from`th on.
   */
  users(from?: number): AsyncIterable<KeycloakUser>;
  /** The whole group tree, each parent before its children, each with its names. */
  groups(): AsyncIterable<KeycloakGroup>;
}
