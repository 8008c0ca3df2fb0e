import type { ScimGroupInput, ScimUser, ScimUserInput } from '../scim/scim-types.js';
import type { KeycloakGroup, KeycloakUser } from './keycloak-model.js';

/** How Keycloak entities become SCIM resources. Compiled from the configuration. */
export interface MappingOptions {
  /** Which Keycloak field becomes SCIM `userName`. */
  readonly usernameSource: 'username' | 'email';
  /** `path` keeps same-named groups under different parents apart; `name` is shorter. */
  readonly groupNameSource: 'path' | 'name';
}

/** The outcome of mapping a user: the resource, or why it cannot be provisioned. */
export type UserMapping =
  | { readonly ok: true; readonly resource: ScimUserInput }
  | { readonly ok: false; readonly reason: string };

/**
 * A Keycloak user as Kestra's SCIM reads it: userName, name, primary email, active, and the
 * Keycloak id as externalId, which is how the relay recognises what it manages.
 */
export function toScimUser(user: KeycloakUser, options: MappingOptions): UserMapping {
  const email = nonEmpty(user.email);
  const userName = options.usernameSource === 'email' ? email : nonEmpty(user.username);
  if (userName === undefined) {
    return {
      ok: false,
      reason: `user ${user.id} (${user.username}) has no ${options.usernameSource === 'email' ? 'email' : 'username'}, which USERNAME_SOURCE=${options.usernameSource} needs for the SCIM userName`,
    };
  }
  const givenName = nonEmpty(user.firstName);
  const familyName = nonEmpty(user.lastName);
  return {
    ok: true,
    resource: {
      userName,
      externalId: user.id,
      ...(givenName === undefined && familyName === undefined
        ? {}
        : {
            name: {
              ...(givenName === undefined ? {} : { givenName }),
              ...(familyName === undefined ? {} : { familyName }),
            },
          }),
      ...(email === undefined ? {} : { emails: [{ value: email, type: 'work', primary: true }] }),
      active: user.enabled,
    },
  };
}

export function toScimGroup(group: KeycloakGroup, options: MappingOptions): ScimGroupInput {
  return {
    displayName: options.groupNameSource === 'path' ? group.path : group.name,
    externalId: group.id,
  };
}

/**
 * Whether the SCIM user already says what `desired` says, on the attributes the relay owns.
 * Comparing keeps a resync from rewriting every user on every run.
 */
export function userMatches(current: Omit<ScimUser, 'id'>, desired: ScimUserInput): boolean {
  const primary = (u: Omit<ScimUser, 'id'>): string | undefined =>
    (u.emails?.find((e) => e.primary === true) ?? u.emails?.[0])?.value.toLowerCase();
  return (
    current.userName === desired.userName &&
    current.externalId === desired.externalId &&
    (current.active ?? true) === desired.active &&
    (nonEmpty(current.name?.givenName) ?? '') === (desired.name?.givenName ?? '') &&
    (nonEmpty(current.name?.familyName) ?? '') === (desired.name?.familyName ?? '') &&
    primary(current) === primary(desired)
  );
}

export function groupMatches(current: ScimGroupInput, desired: ScimGroupInput): boolean {
  return current.displayName === desired.displayName && current.externalId === desired.externalId;
}

/** The ids of a group's ancestors, nearest first, from the relay's map of parents. */
export function ancestorsOf(
  groupId: string,
  parentOf: (id: string) => string | undefined,
): string[] {
  const ancestors: string[] = [];
  const seen = new Set([groupId]);
  for (let parent = parentOf(groupId); parent !== undefined; parent = parentOf(parent)) {
    // A corrupt map must not loop forever.
    if (seen.has(parent)) break;
    seen.add(parent);
    ancestors.push(parent);
  }
  return ancestors;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
