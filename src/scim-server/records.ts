/** Core schema URNs of the two resource types (RFC 7643 §8.7.1). */
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';

/** The resource types this server serves, named as in `meta.resourceType`. */
export type ResourceKind = 'User' | 'Group';

/** One entry of a user's `emails`. */
export interface Email {
  readonly value: string;
  readonly type?: string | undefined;
  readonly primary?: boolean | undefined;
}

/** The user attributes Kestra keeps; everything else a client sends is ignored. */
export interface UserAttributes {
  readonly userName: string;
  readonly externalId: string | undefined;
  readonly givenName: string | undefined;
  readonly familyName: string | undefined;
  readonly emails: readonly Email[];
  readonly active: boolean;
}

/** The group attributes Kestra keeps besides its members. */
export interface GroupAttributes {
  readonly displayName: string;
  readonly externalId: string | undefined;
}

/** A group member as a client sent it: a SCIM user id and an optional display name. */
export interface MemberInput {
  readonly value: string;
  readonly display: string | undefined;
}

/** A user as stored: global in Kestra, with or without access to this tenant. */
export interface StoredUser {
  readonly id: string;
  readonly attributes: UserAttributes;
  /** False once the tenant's SCIM client deleted the user: the global user stays. */
  readonly tenantAccess: boolean;
  readonly created: Date;
  readonly lastModified: Date;
}

/** A group of this tenant. `members` maps a member's user id to its display name, if any. */
export interface StoredGroup {
  readonly id: string;
  readonly attributes: GroupAttributes;
  readonly members: ReadonlyMap<string, string | undefined>;
  readonly created: Date;
  readonly lastModified: Date;
}

function meta(kind: ResourceKind, created: Date, lastModified: Date, location: string): object {
  return {
    resourceType: kind,
    created: created.toISOString(),
    lastModified: lastModified.toISOString(),
    location,
  };
}

/** The SCIM representation of a user. Absent attributes are left out, not sent as null. */
export function renderUser(user: StoredUser, location: string): Record<string, unknown> {
  const { attributes: a } = user;
  const hasName = a.givenName !== undefined || a.familyName !== undefined;
  return {
    schemas: [USER_SCHEMA],
    id: user.id,
    ...(a.externalId === undefined ? {} : { externalId: a.externalId }),
    userName: a.userName,
    ...(hasName ? { name: { givenName: a.givenName, familyName: a.familyName } } : {}),
    ...(a.emails.length === 0 ? {} : { emails: a.emails }),
    active: a.active,
    meta: meta('User', user.created, user.lastModified, location),
  };
}

/**
 * The SCIM representation of a group. `withMembers: false` skips building the member list,
 * which is what keeps paging through many big groups cheap.
 */
export function renderGroup(
  group: StoredGroup,
  location: string,
  withMembers: boolean,
): Record<string, unknown> {
  const members = withMembers
    ? Array.from(group.members, ([value, display]) =>
        display === undefined ? { value } : { value, display },
      )
    : undefined;
  return {
    schemas: [GROUP_SCHEMA],
    id: group.id,
    ...(group.attributes.externalId === undefined
      ? {}
      : { externalId: group.attributes.externalId }),
    displayName: group.attributes.displayName,
    ...(members === undefined ? {} : { members }),
    meta: meta('Group', group.created, group.lastModified, location),
  };
}
