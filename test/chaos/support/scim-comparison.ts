import type KeycloakAdminClient from '@keycloak/keycloak-admin-client';
import type {
  ScimServerState,
  StateUser,
} from '../../../packages/scim-server/src/test-api-schema.js';
import { expectedScim, type ExpectedUser } from '../../support/expected-scim.js';
import { realmStateOf } from '../../support/keycloak-mirror.js';

/**
 * The chaos suite's first closing check: Keycloak, read through the master admin's client (not
 * the relay's reader), mapped by the README's rules by the test oracle (`expected-scim.ts`,
 * written apart from `src/domain/`), against what the SCIM server holds. The relay runs on its
 * defaults: `userName` from the username, groups named by path, direct memberships.
 */
export async function scimDifferences(
  admin: KeycloakAdminClient,
  state: ScimServerState,
): Promise<string[]> {
  const expected = expectedScim(await realmStateOf(admin), {
    usernameSource: 'username',
    groupNameSource: 'path',
    membershipMode: 'direct',
  });
  const differences: string[] = [];

  // Kestra keeps a deprovisioned user, without access to the tenant: only those with access
  // are provisioned ones.
  const tenantUsers = state.users.filter((user) => user.tenantAccess);
  const usersByExternalId = groupBy(tenantUsers, (user) => user.externalId);
  for (const want of expected.users) {
    const [have, ...more] = usersByExternalId.get(want.externalId) ?? [];
    if (have === undefined) {
      differences.push(`missing user ${want.userName} [${want.externalId}]`);
      continue;
    }
    if (more.length > 0)
      differences.push(`user ${want.userName} is in SCIM ${more.length + 1} times`);
    const got = userView(have);
    for (const key of ['userName', 'givenName', 'familyName', 'email', 'active'] as const) {
      if (got[key] !== want[key]) {
        differences.push(
          `user ${want.userName} [${want.externalId}]: ${key} is ${String(got[key])}, Keycloak says ${String(want[key])}`,
        );
      }
    }
  }
  const wantedUsers = new Set(expected.users.map((user) => user.externalId));
  for (const user of tenantUsers) {
    if (user.externalId === undefined || !wantedUsers.has(user.externalId)) {
      differences.push(`extra user ${user.userName} [${user.externalId ?? 'no externalId'}]`);
    }
  }

  const externalIdOfScimUser = new Map(
    tenantUsers.map((user) => [user.id, user.externalId ?? `scim:${user.id}`]),
  );
  const groupsByExternalId = groupBy(state.groups, (group) => group.externalId);
  for (const want of expected.groups) {
    const [have, ...more] = groupsByExternalId.get(want.externalId) ?? [];
    if (have === undefined) {
      differences.push(`missing group ${want.displayName} [${want.externalId}]`);
      continue;
    }
    if (more.length > 0) {
      differences.push(`group ${want.displayName} is in SCIM ${more.length + 1} times`);
    }
    if (have.displayName !== want.displayName) {
      differences.push(`group ${want.displayName}: displayName is ${have.displayName}`);
    }
    const members = have.members
      .map((id) => externalIdOfScimUser.get(id) ?? `unknown SCIM user ${id}`)
      .sort();
    const missing = want.members.filter((id) => !members.includes(id));
    const extra = members.filter((id) => !want.members.includes(id));
    if (missing.length > 0) {
      differences.push(`group ${want.displayName}: members missing ${missing.join(', ')}`);
    }
    if (extra.length > 0) {
      differences.push(`group ${want.displayName}: extra members ${extra.join(', ')}`);
    }
  }
  const wantedGroups = new Set(expected.groups.map((group) => group.externalId));
  for (const group of state.groups) {
    if (group.externalId === undefined || !wantedGroups.has(group.externalId)) {
      differences.push(`extra group ${group.displayName} [${group.externalId ?? 'none'}]`);
    }
  }
  return differences;
}

/** The third closing check: no two users, nor two groups, share a name or an externalId. */
export function scimDuplicates(state: ScimServerState): string[] {
  const duplicates: string[] = [];
  const report = (what: string, values: readonly (string | undefined)[]): void => {
    const seen = new Map<string, number>();
    for (const value of values) {
      if (value !== undefined) seen.set(value, (seen.get(value) ?? 0) + 1);
    }
    for (const [value, count] of seen) {
      if (count > 1) duplicates.push(`${count} ${what} ${value}`);
    }
  };
  // Every global user counts here, with access or not: a second copy of a person is a
  // duplicate even when one of them lost the tenant's access. userName is case-insensitive.
  report(
    'users named',
    state.users.map((user) => user.userName.toLowerCase()),
  );
  report(
    'users with externalId',
    state.users.map((user) => user.externalId),
  );
  report(
    'groups named',
    state.groups.map((group) => group.displayName),
  );
  report(
    'groups with externalId',
    state.groups.map((group) => group.externalId),
  );
  return duplicates;
}

/** A SCIM user as the oracle describes one: the attributes the relay owns. */
function userView(user: StateUser): Omit<ExpectedUser, 'externalId'> {
  const primary = user.emails.find((email) => email.primary === true) ?? user.emails[0];
  return {
    userName: user.userName,
    ...(user.givenName === undefined ? {} : { givenName: user.givenName }),
    ...(user.familyName === undefined ? {} : { familyName: user.familyName }),
    ...(primary === undefined ? {} : { email: primary.value }),
    active: user.active,
  };
}

function groupBy<T>(items: readonly T[], key: (item: T) => string | undefined): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const value = key(item);
    if (value === undefined) continue;
    map.set(value, [...(map.get(value) ?? []), item]);
  }
  return map;
}
