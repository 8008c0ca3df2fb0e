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

export interface KeycloakGroup {
  readonly id: string;
  readonly name: string;
  /** e.g. `/engineering/backend`; changes when the group or an ancestor is renamed or moved. */
  readonly path: string;
  readonly parentId?: string | undefined;
}
