import { describe, expect, it } from 'vitest';
import { namedTree, withAncestorNames } from '../../src/app/group-chain.js';
import type { KeycloakGroupRef } from '../../src/domain/keycloak-model.js';

/** Groups as Keycloak's admin API gives them: a `/` inside a name left unescaped in `path`. */
const ref = (id: string, name: string, path: string, parentId?: string): KeycloakGroupRef => ({
  id,
  name,
  path,
  parentId,
});
const slashed = ref('ab', 'a/b', '/a/b');
const a = ref('a', 'a', '/a');
const b = ref('b', 'b', '/a/b', 'a');
const c = ref('c', 'c', '/a/b/c', 'b');

function reader(groups: readonly KeycloakGroupRef[]) {
  const reads: string[] = [];
  const byId = new Map(groups.map((g) => [g.id, g]));
  return {
    reads,
    read: (id: string): Promise<KeycloakGroupRef | undefined> => {
      reads.push(id);
      return Promise.resolve(byId.get(id));
    },
  };
}

async function* listing(groups: readonly KeycloakGroupRef[]): AsyncGenerator<KeycloakGroupRef> {
  for (const group of groups) {
    await Promise.resolve();
    yield group;
  }
}

describe('the names of a group’s ancestors', () => {
  it('reads them up the parentId chain, not from the path', async () => {
    const { read, reads } = reader([slashed, a, b, c]);
    expect(await withAncestorNames(c, read)).toEqual({ ...c, names: ['a', 'b', 'c'] });
    expect(reads).toEqual(['b', 'a']);
    expect((await withAncestorNames(slashed, read))?.names).toEqual(['a/b']);
  });

  it('reads nothing for a top-level group', async () => {
    const { read, reads } = reader([]);
    expect((await withAncestorNames(slashed, read))?.names).toEqual(['a/b']);
    expect(reads).toEqual([]);
  });

  it('says the group is gone when an ancestor is', async () => {
    const { read } = reader([b]);
    expect(await withAncestorNames(c, read)).toBeUndefined();
  });

  it('refuses a cycle among the ancestors', async () => {
    const { read } = reader([ref('x', 'x', '/y/x', 'y'), ref('y', 'y', '/x/y', 'x')]);
    await expect(withAncestorNames(ref('x', 'x', '/y/x', 'y'), read)).rejects.toThrow(
      'Keycloak group x has a cycle among its ancestors',
    );
  });

  it('carries them down a walk of the tree without a read', async () => {
    const { read, reads } = reader([]);
    const named = [];
    for await (const group of namedTree(listing([slashed, a, b, c]), read)) named.push(group);
    expect(named.map((g) => [g.id, g.names])).toEqual([
      ['ab', ['a/b']],
      ['a', ['a']],
      ['b', ['a', 'b']],
      ['c', ['a', 'b', 'c']],
    ]);
    expect(reads).toEqual([]);
  });

  it('reads the ancestors of a group whose parent the walk has not listed (moved in meanwhile)', async () => {
    const { read, reads } = reader([a, b]);
    const named = [];
    for await (const group of namedTree(listing([c]), read)) named.push(group);
    expect(named).toEqual([{ ...c, names: ['a', 'b', 'c'] }]);
    expect(reads).toEqual(['b', 'a']);
  });
});
