/**
 * Memberships as the relay provisions them. The event path and the full reconcile both ask
 * these two functions, so they cannot disagree on who belongs where.
 */

/** `direct`: only the groups a user joined; `inherited`: every ancestor of them too. */
export type MembershipMode = 'direct' | 'inherited';

/**
 * The groups a user counts as a member of, given the groups it joined directly and the parent
 * of each group. Walks the parent tree (not path prefixes, which a `/` inside a group name
 * would fool), and survives a corrupt tree that loops.
 */
export function effectiveGroups(
  direct: Iterable<string>,
  parentOf: (groupId: string) => string | undefined,
  mode: MembershipMode,
): Set<string> {
  const groups = new Set<string>();
  for (const groupId of direct) {
    groups.add(groupId);
    if (mode === 'direct') continue;
    const seen = new Set([groupId]);
    for (let parent = parentOf(groupId); parent !== undefined; parent = parentOf(parent)) {
      if (seen.has(parent)) break;
      seen.add(parent);
      groups.add(parent);
    }
  }
  return groups;
}

/**
 * The groups whose membership of a user a change to `groupId` can affect: the group itself
 * and, when memberships are inherited, its ancestors, nearest first.
 */
export function affectedGroups(
  groupId: string,
  parentOf: (groupId: string) => string | undefined,
  mode: MembershipMode,
): string[] {
  return [...effectiveGroups([groupId], parentOf, mode)];
}

/** The member writes that make a group's `current` members (SCIM user ids) `desired`. */
export interface MemberDelta {
  readonly add: readonly string[];
  readonly remove: readonly string[];
}

export function planMembers(
  desired: ReadonlySet<string>,
  current: ReadonlySet<string>,
): MemberDelta {
  const add: string[] = [];
  const remove: string[] = [];
  for (const id of desired) if (!current.has(id)) add.push(id);
  for (const id of current) if (!desired.has(id)) remove.push(id);
  return { add, remove };
}
