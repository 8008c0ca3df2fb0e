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

/**
 * The user attributes Kestra keeps. Everything else a client sends is ignored, or kept as
 * `ExtraAttributes` by the generic profile.
 */
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

/**
 * User attributes beyond those Kestra keeps (`title`, `phoneNumbers`, extension containers...),
 * keyed as the client named them. Only the `generic` profile keeps any; `name` holds the
 * sub-attributes of `name` other than `givenName` and `familyName`.
 */
export type ExtraAttributes = Readonly<Record<string, unknown>>;

/** The extra attributes of every user the `kestra` profile stores. */
export const NO_EXTRA_ATTRIBUTES: ExtraAttributes = Object.freeze({});

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
  readonly extra: ExtraAttributes;
  /** Grows by one on every write: the ETag's value. */
  readonly version: number;
  readonly created: Date;
  readonly lastModified: Date;
}

/** A group of this tenant. `members` maps a member's user id to its display name, if any. */
export interface StoredGroup {
  readonly id: string;
  readonly attributes: GroupAttributes;
  readonly members: ReadonlyMap<string, string | undefined>;
  /** Grows by one on every write, member changes included: the ETag's value. */
  readonly version: number;
  readonly created: Date;
  readonly lastModified: Date;
}

function meta(
  kind: ResourceKind,
  resource: StoredUser | StoredGroup,
  location: string,
  etag: string | undefined,
): object {
  return {
    resourceType: kind,
    created: resource.created.toISOString(),
    lastModified: resource.lastModified.toISOString(),
    location,
    ...(etag === undefined ? {} : { version: etag }),
  };
}

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `name`, from the two sub-attributes Kestra keeps and any others the generic profile kept. */
function renderName(a: UserAttributes, kept: unknown): object | undefined {
  if (!isObject(kept)) {
    if (a.givenName === undefined && a.familyName === undefined) return undefined;
    return { givenName: a.givenName, familyName: a.familyName };
  }
  return {
    ...kept,
    ...(a.givenName === undefined ? {} : { givenName: a.givenName }),
    ...(a.familyName === undefined ? {} : { familyName: a.familyName }),
  };
}

/**
 * The SCIM representation of a user. Absent attributes are left out, not sent as null.
 * `etag` (the generic profile's `meta.version`) is left out when not given.
 */
export function renderUser(
  user: StoredUser,
  location: string,
  etag?: string,
): Record<string, unknown> {
  const { attributes: a } = user;
  const { name: keptName, ...extra } = user.extra;
  const name = renderName(a, keptName);
  // An extension's attributes sit in a container named by its URN, which `schemas` must list.
  const extensions = Object.keys(extra).filter((key) => key.toLowerCase().startsWith('urn:'));
  return {
    schemas: [USER_SCHEMA, ...extensions],
    id: user.id,
    ...(a.externalId === undefined ? {} : { externalId: a.externalId }),
    userName: a.userName,
    ...(name === undefined ? {} : { name }),
    ...(a.emails.length === 0 ? {} : { emails: a.emails }),
    active: a.active,
    ...extra,
    meta: meta('User', user, location, etag),
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
  etag?: string,
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
    meta: meta('Group', group, location, etag),
  };
}
