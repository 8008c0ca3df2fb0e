import type { RealmState } from './fake-keycloak.js';

/**
 * The test oracle: what SCIM should hold for a realm under a given mapping, written from the
 * specification and deliberately not from the relay's code in `src/domain/` (a shared bug would
 * otherwise agree with itself).
 */

export interface OracleOptions {
  readonly usernameSource: 'username' | 'email';
  readonly groupNameSource: 'path' | 'name';
  /** `inherited`: a member of a group also counts as a member of every ancestor. */
  readonly membershipMode: 'direct' | 'inherited';
}

/** A SCIM user reduced to the attributes the relay owns. */
export interface ExpectedUser {
  /** The Keycloak id. */
  readonly externalId: string;
  readonly userName: string;
  readonly givenName?: string;
  readonly familyName?: string;
  /** The primary email. */
  readonly email?: string;
  readonly active: boolean;
}

export interface ExpectedGroup {
  /** The Keycloak id. */
  readonly externalId: string;
  readonly displayName: string;
  /** The Keycloak ids (SCIM externalIds) of the members, sorted. */
  readonly members: readonly string[];
}

export interface ExpectedScim {
  /** Sorted by externalId. */
  readonly users: readonly ExpectedUser[];
  /** Sorted by externalId. */
  readonly groups: readonly ExpectedGroup[];
  /** The same members, by group externalId (every group present, memberless ones too). */
  readonly membersByGroup: ReadonlyMap<string, readonly string[]>;
  /** Keycloak ids of users that cannot be provisioned (no value for the userName source). */
  readonly unprovisioned: readonly string[];
  /**
   * displayNames that several groups would share (same name under different parents with
   * `groupNameSource: 'name'`; none with `path`, which escapes a `/` inside a name: see
   * {@link pathName}). A SCIM server that keeps displayNames unique cannot hold all of them,
   * so a parity test has to treat these apart.
   */
  readonly duplicateDisplayNames: readonly string[];
}

export function expectedScim(state: RealmState, options: OracleOptions): ExpectedScim {
  const users: ExpectedUser[] = [];
  const unprovisioned: string[] = [];
  for (const user of state.users) {
    // Service accounts are not people; the fake has none, a real realm may.
    if (present(user.serviceAccountClientId) !== undefined) continue;
    const email = present(user.email);
    const userName = options.usernameSource === 'email' ? email : present(user.username);
    if (userName === undefined) {
      unprovisioned.push(user.id);
      continue;
    }
    const givenName = present(user.firstName);
    const familyName = present(user.lastName);
    users.push({
      externalId: user.id,
      userName,
      ...(givenName === undefined ? {} : { givenName }),
      ...(familyName === undefined ? {} : { familyName }),
      ...(email === undefined ? {} : { email }),
      active: user.enabled,
    });
  }
  const provisioned = new Set(users.map((user) => user.externalId));

  const parentOf = new Map(state.groups.map((group) => [group.id, group.parentId]));
  const members = new Map<string, Set<string>>(state.groups.map((group) => [group.id, new Set()]));
  for (const [groupId, userIds] of state.members) {
    for (const userId of userIds) {
      if (!provisioned.has(userId)) continue;
      // In inherited mode the membership climbs to the top; `seen` guards a corrupt tree.
      const seen = new Set<string>();
      for (
        let at: string | undefined = groupId;
        at !== undefined && !seen.has(at);
        at = options.membershipMode === 'inherited' ? parentOf.get(at) : undefined
      ) {
        seen.add(at);
        members.get(at)?.add(userId);
      }
    }
  }

  const groups: ExpectedGroup[] = state.groups.map((group) => ({
    externalId: group.id,
    displayName: options.groupNameSource === 'path' ? pathName(group.names) : group.name,
    members: [...(members.get(group.id) ?? [])].sort(),
  }));
  const byDisplayName = new Map<string, number>();
  for (const group of groups) {
    byDisplayName.set(group.displayName, (byDisplayName.get(group.displayName) ?? 0) + 1);
  }

  const byExternalId = (a: { externalId: string }, b: { externalId: string }): number =>
    a.externalId < b.externalId ? -1 : a.externalId > b.externalId ? 1 : 0;
  return {
    users: users.sort(byExternalId),
    groups: groups.sort(byExternalId),
    membersByGroup: new Map(groups.map((group) => [group.externalId, group.members])),
    unprovisioned,
    duplicateDisplayNames: [...byDisplayName]
      .filter(([, count]) => count > 1)
      .map(([name]) => name)
      .sort(),
  };
}

/**
 * The README's rule for GROUP_NAME_SOURCE=path: `/` before each name of the chain, and inside a
 * name `~` written `~~` and `/` written `~/`.
 */
function pathName(names: readonly string[]): string {
  let out = '';
  for (const name of names) {
    out += '/';
    for (const char of name) out += char === '~' || char === '/' ? `~${char}` : char;
  }
  return out;
}

/** SCIM has no empty strings: a blank value is an absent one. */
function present(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
