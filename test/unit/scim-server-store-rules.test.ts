import { describe, expect, it } from 'vitest';
import { KESTRA_PROFILE, genericProfile } from '../../packages/scim-server/src/profile.js';
import type { UserAttributes } from '../../packages/scim-server/src/records.js';
import { ScimStore } from '../../packages/scim-server/src/store.js';

function user(userName: string, externalId?: string): UserAttributes {
  return {
    userName,
    externalId,
    givenName: undefined,
    familyName: undefined,
    emails: [],
    active: true,
  };
}

const ids = (store: ScimStore, userName: string): string[] =>
  store.listUsers([{ attribute: 'userName', value: userName }], 1, 10).resources.map((u) => u.id);

describe('ScimStore rules of the two profiles', () => {
  it('kestra: userName eq ignores case; generic: it compares as stored', () => {
    const kestra = new ScimStore(KESTRA_PROFILE);
    const generic = new ScimStore(genericProfile());
    const k = kestra.createUser(user('Alice')).user.id;
    const g = generic.createUser(user('Alice')).user.id;
    expect(ids(kestra, 'alice')).toEqual([k]);
    expect(ids(generic, 'alice')).toEqual([]);
    expect(ids(generic, 'Alice')).toEqual([g]);
  });

  it('keeps userName unique case-insensitively in both', () => {
    for (const store of [new ScimStore(KESTRA_PROFILE), new ScimStore(genericProfile())]) {
      store.createUser(user('alice'));
      expect(() => store.createUser(user('ALICE'))).toThrow(/already exists/);
    }
  });

  it('kestra: DELETE keeps the global user and gives its id back; generic: the user is gone', () => {
    const kestra = new ScimStore(KESTRA_PROFILE);
    const k = kestra.createUser(user('bob', 'kc-1')).user.id;
    kestra.deleteUser(k);
    expect([...kestra.allUsers()].map((u) => [u.id, u.tenantAccess])).toEqual([[k, false]]);
    expect(kestra.createUser(user('bob')).user.id).toBe(k);

    const generic = new ScimStore(genericProfile());
    const g = generic.createUser(user('bob', 'kc-1')).user.id;
    generic.deleteUser(g);
    expect([...generic.allUsers()]).toEqual([]);
    expect(
      generic.listUsers([{ attribute: 'externalId', value: 'kc-1' }], 1, 10).totalResults,
    ).toBe(0);
    expect(generic.createUser(user('bob')).user.id).not.toBe(g);
  });

  it('removes a deleted user from every group and bumps those groups’ versions', () => {
    const store = new ScimStore(genericProfile());
    const a = store.createUser(user('a')).user.id;
    const b = store.createUser(user('b')).user.id;
    const one = store.createGroup({ displayName: 'one', externalId: undefined }, [
      { value: a, display: undefined },
      { value: b, display: undefined },
    ]);
    const two = store.createGroup({ displayName: 'two', externalId: undefined }, [
      { value: a, display: undefined },
    ]);
    store.deleteUser(a);
    expect([...store.getGroup(one.id).members.keys()]).toEqual([b]);
    expect([...store.getGroup(two.id).members.keys()]).toEqual([]);
    expect([store.getGroup(one.id).version, store.getGroup(two.id).version]).toEqual([2, 2]);
  });

  it('bumps a version on every write and keeps or replaces extra attributes as told', () => {
    const store = new ScimStore(genericProfile());
    const { user: created } = store.createUser(user('c'), true, { title: 'CTO' });
    expect(created.version).toBe(1);
    store.patchUser(created.id, []);
    expect(store.getUser(created.id)).toMatchObject({ version: 2, extra: { title: 'CTO' } });
    store.replaceUser(created.id, user('c'));
    expect(store.getUser(created.id)).toMatchObject({ version: 3, extra: {} });
    const group = store.createGroup({ displayName: 'g', externalId: undefined }, []);
    store.patchGroup(group.id, []);
    expect(store.getGroup(group.id).version).toBe(2);
  });
});
