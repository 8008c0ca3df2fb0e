/** The parts of Keycloak's users and groups that the relay reads. */

export interface KeycloakUser {
  readonly id: string;
  readonly username: string;
  readonly email?: string | undefined;
  readonly firstName?: string | undefined;
  readonly lastName?: string | undefined;
  readonly enabled: boolean;
  /** Set for a client's service-account user; those are never provisioned. */
  readonly serviceAccountClientId?: string | undefined;
}

/**
 * A group as a listing of a user's groups or of a subtree gives it: where it is, but not the
 * names of its ancestors, which would cost a read per ancestor.
 */
export interface KeycloakGroupRef {
  readonly id: string;
  readonly name: string;
  /**
   * e.g. `/engineering/backend`; changes when the group or an ancestor is renamed or moved.
   * Ambiguous when a name holds a `/` (see `group-name.ts`): good for SCOPE_GROUP_PATH, never
   * for a SCIM displayName.
   */
  readonly path: string;
  readonly parentId?: string | undefined;
}

/** A group with the names of its ancestors: what its SCIM displayName is built from. */
export interface KeycloakGroup extends KeycloakGroupRef {
  /** The names from the top-level ancestor down to this group's own, e.g. `["eng", "backend"]`. */
  readonly names: readonly string[];
}
