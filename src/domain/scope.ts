/**
 * Which part of the realm is provisioned. Both the event path and the full reconcile ask the
 * same two questions here, so a user who enters or leaves the scope is provisioned or
 * deprovisioned whichever way the change is noticed.
 */
export interface Scope {
  /** Only members of these groups (or of groups below them); empty: every user. */
  readonly userGroups: readonly string[];
  /** Only this group and the groups below it; undefined: every group. */
  readonly groupPath: string | undefined;
}

export const EVERYTHING: Scope = { userGroups: [], groupPath: undefined };

/** `path` is `ancestor` or lies below it. Keycloak paths are case-sensitive. */
function isAtOrBelow(path: string, ancestor: string): boolean {
  return path === ancestor || path.startsWith(`${ancestor}/`);
}

export function groupInScope(scope: Scope, groupPath: string): boolean {
  return scope.groupPath === undefined || isAtOrBelow(groupPath, scope.groupPath);
}

/** Whether scoping users needs their groups at all (so callers can skip reading them). */
export function scopesUsers(scope: Scope): boolean {
  return scope.userGroups.length > 0;
}

/** Given the paths of the groups a user is a direct member of. */
export function userInScope(scope: Scope, directGroupPaths: readonly string[]): boolean {
  if (!scopesUsers(scope)) return true;
  return directGroupPaths.some((path) =>
    scope.userGroups.some((scoped) => isAtOrBelow(path, scoped)),
  );
}

/** Keycloak's side as a full reconcile reads it: users, groups, direct members by group id. */
export interface KeycloakSide<
  U extends { readonly id: string },
  G extends { readonly id: string; readonly path: string },
> {
  readonly users: readonly U[];
  readonly groups: readonly G[];
  readonly members: ReadonlyMap<string, readonly string[]>;
}

/**
 * Keeps the part of Keycloak's side that is in scope: the groups at or below the scope path,
 * the users who belong to a scope group, and memberships between the two. What is left out
 * is, to the plan, as if Keycloak did not have it: a managed twin is pruned.
 */
export function scopeKeycloakSide<
  U extends { readonly id: string },
  G extends { readonly id: string; readonly path: string },
>(side: KeycloakSide<U, G>, scope: Scope): KeycloakSide<U, G> {
  if (!scopesUsers(scope) && scope.groupPath === undefined) return side;
  const groups = side.groups.filter((group) => groupInScope(scope, group.path));
  let users = side.users;
  if (scopesUsers(scope)) {
    // Every group counts for membership of the scope, in scope for provisioning or not.
    const pathsByUser = new Map<string, string[]>();
    for (const group of side.groups) {
      for (const userId of side.members.get(group.id) ?? []) {
        const paths = pathsByUser.get(userId) ?? [];
        paths.push(group.path);
        pathsByUser.set(userId, paths);
      }
    }
    users = side.users.filter((user) => userInScope(scope, pathsByUser.get(user.id) ?? []));
  }
  const keptUsers = new Set(users.map((user) => user.id));
  const members = new Map<string, readonly string[]>();
  for (const group of groups) {
    members.set(
      group.id,
      (side.members.get(group.id) ?? []).filter((userId) => keptUsers.has(userId)),
    );
  }
  return { users, groups, members };
}
