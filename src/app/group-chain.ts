import type { KeycloakGroup, KeycloakGroupRef } from '../domain/keycloak-model.js';
import { PermanentError } from '../errors.js';

/**
 * The names of a group's ancestors, which its SCIM displayName is built from. Keycloak's `path`
 * cannot give them: it does not escape a `/` inside a name (25.0.6 and 26.7.3 both report
 * `/a/b` for a top-level group `a/b` and for the child `b` of `a`), so the names are read up
 * the `parentId` chain, or carried down a walk of the tree.
 */

/**
 * The group with the names from its top-level ancestor down to its own, one read per
 * ancestor; undefined when an ancestor is gone meanwhile (Keycloak deletes a subtree with its
 * top, so the group went with it).
 */
export async function withAncestorNames(
  group: KeycloakGroupRef,
  read: (id: string) => Promise<KeycloakGroupRef | undefined>,
): Promise<KeycloakGroup | undefined> {
  const names = [group.name];
  const seen = new Set([group.id]);
  for (let at = group.parentId; at !== undefined;) {
    if (seen.has(at)) {
      throw new PermanentError(`Keycloak group ${group.id} has a cycle among its ancestors`);
    }
    seen.add(at);
    const parent = await read(at);
    if (parent === undefined) return undefined;
    names.unshift(parent.name);
    at = parent.parentId;
  }
  return { ...group, names };
}

/**
 * A listing of the whole tree, each parent before its children, with each group's names: a
 * child's are its parent's and its own. A group whose parent the listing has not given (it
 * moved in while the listing ran) has its ancestors read.
 */
export async function* namedTree(
  groups: AsyncIterable<KeycloakGroupRef>,
  read: (id: string) => Promise<KeycloakGroupRef | undefined>,
): AsyncGenerator<KeycloakGroup, void, undefined> {
  const namesOf = new Map<string, readonly string[]>();
  for await (const group of groups) {
    const parentNames = group.parentId === undefined ? [] : namesOf.get(group.parentId);
    const named =
      parentNames === undefined
        ? await withAncestorNames(group, read)
        : { ...group, names: [...parentNames, group.name] };
    if (named === undefined) continue;
    namesOf.set(named.id, named.names);
    yield named;
  }
}
