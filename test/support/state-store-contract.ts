import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { membershipHint, userHint } from '../../src/domain/hint.js';
import { COMMIT_GROUP_MS, type StateStore } from '../../src/state/state-store.js';

/** A kind of state store under test: how to make an empty one and how to reopen its state. */
export interface StoreKind {
  /** An empty store of this kind, with durable state of its own. */
  fresh(): Promise<StateStore>;
  /** Closes `store` and opens the same durable state again, as the next process would. */
  reopen(store: StateStore): Promise<StateStore>;
  /** Removes what `fresh` made. */
  cleanup(): Promise<void>;
}

/** The Keycloak ids of the users a store maps, sorted. */
function userIds(store: StateStore): string[] {
  return store
    .users()
    .map((u) => u.keycloakId)
    .sort();
}

/** Everything a store holds, in a comparable form. */
export function snapshotOf(store: StateStore, checkpointNames: readonly string[] = []) {
  const byKey = <T extends { keycloakId: string }>(rows: T[]): T[] =>
    rows.sort((a, b) => a.keycloakId.localeCompare(b.keycloakId));
  const groups = byKey(store.groups());
  return {
    users: byKey(store.users()),
    groups,
    nodes: store.groupNodes().sort(),
    parked: store
      .parked()
      .map(({ key, hint, reason, attempts }) => ({ key, hint, reason, attempts }))
      .sort((a, b) => a.key.localeCompare(b.key)),
    checkpoints: checkpointNames.map((name) => store.checkpoint(name)),
    members: groups.map((group) => {
      const members = store.knownMembers(group.scimId);
      return members === undefined ? undefined : [...members].sort();
    }),
  };
}

/**
 * The behaviour every state store has, whatever keeps it: the embedded SQLite store and the
 * PostgreSQL one both run this suite. Each test writes, reopens (what a restart, or the next
 * leader, sees) and reads.
 */
export function stateStoreContract(name: string, kind: StoreKind): void {
  describe(`${name}: the state store contract`, () => {
    const open: StateStore[] = [];
    const fresh = async (): Promise<StateStore> => {
      const store = await kind.fresh();
      open.push(store);
      return store;
    };
    const reopen = async (store: StateStore): Promise<StateStore> => {
      const again = await kind.reopen(store);
      open.push(again);
      return again;
    };
    afterEach(async () => {
      for (const store of open.splice(0)) await store.close().catch(() => undefined);
      await kind.cleanup();
    });

    it('keeps id maps, checkpoints and parked work across a reopen', async () => {
      const first = await fresh();
      first.putUser({ keycloakId: 'k1', scimId: 's1', userName: 'alice' });
      first.putGroup({ keycloakId: 'g1', scimId: 'sg1', displayName: '/a', parentId: undefined });
      first.putCheckpoint('poll.admin', '{"time":5}');
      first.park('user:k2', userHint('k2'), 'no email');
      first.park('user:k2', userHint('k2'), 'still no email');

      const second = await reopen(first);
      expect(second.user('k1')).toEqual({ keycloakId: 'k1', scimId: 's1', userName: 'alice' });
      expect(second.userByScimId('s1')?.keycloakId).toBe('k1');
      expect(second.group('g1')).toEqual({
        keycloakId: 'g1',
        scimId: 'sg1',
        displayName: '/a',
        parentId: undefined,
      });
      expect(second.checkpoint('poll.admin')).toBe('{"time":5}');
      expect(second.parked()).toMatchObject([
        { key: 'user:k2', hint: userHint('k2'), reason: 'still no email', attempts: 2 },
      ]);
      expect(second.linkCounts()).toEqual({ users: 1, groups: 1 });
    });

    it('keeps deletions across a reopen: forgotten entities, unparked work, cleared checkpoints', async () => {
      const first = await fresh();
      first.putUser({ keycloakId: 'k1', scimId: 's1', userName: 'alice' });
      first.putUser({ keycloakId: 'k2', scimId: 's2', userName: 'bob' });
      first.putGroup({ keycloakId: 'g1', scimId: 'sg1', displayName: '/a', parentId: undefined });
      first.putCheckpoint('c', 'v');
      first.park('user:k3', userHint('k3'), 'r');
      const second = await reopen(first);
      second.forgetUser('k1');
      second.forgetGroup('g1');
      second.clearCheckpoint('c');
      second.unpark('user:k3');
      const third = await reopen(second);
      expect(third.users().map((u) => u.keycloakId)).toEqual(['k2']);
      expect(third.group('g1')).toBeUndefined();
      // The tree keeps where the group was until Keycloak says it is gone.
      expect(third.groupNode('g1')).toEqual({ parentId: undefined });
      expect(third.checkpoint('c')).toBeUndefined();
      expect(third.parkedCount()).toBe(0);
    });

    it('gives one SCIM resource to one entity: a new owner takes it, also across a reopen', async () => {
      const first = await fresh();
      first.putUser({ keycloakId: 'old', scimId: 's1', userName: 'ada' });
      first.putUser({ keycloakId: 'other', scimId: 's2', userName: 'bob' });
      const second = await reopen(first);
      // Two owners swap in one go: each SCIM id is briefly claimed twice in between.
      second.transaction(() => {
        second.putUser({ keycloakId: 'old', scimId: 's2', userName: 'ada' });
        second.putUser({ keycloakId: 'other', scimId: 's1', userName: 'bob' });
      });
      second.putUser({ keycloakId: 'new', scimId: 's1', userName: 'bob2' });
      second.putGroup({
        keycloakId: 'g-old',
        scimId: 'sg',
        displayName: '/x',
        parentId: undefined,
      });
      second.putGroup({
        keycloakId: 'g-new',
        scimId: 'sg',
        displayName: '/x',
        parentId: undefined,
      });
      const third = await reopen(second);
      expect(third.userByScimId('s1')?.keycloakId).toBe('new');
      expect(third.user('other')).toBeUndefined();
      expect(third.user('old')?.scimId).toBe('s2');
      expect(third.groupByScimId('sg')?.keycloakId).toBe('g-new');
      expect(third.group('g-old')).toBeUndefined();
    });

    it('keeps the members it knows, and knows when it does not know them', async () => {
      const first = await fresh();
      expect(first.knownMembers('sg1')).toBeUndefined();
      first.putMembers('sg1', ['u1', 'u2', 'u3']);
      first.changeMembers('sg1', ['u4'], ['u2']);
      first.putMembers('sg2', []);
      first.changeMembers('sg2', ['u1'], []);
      first.putMembers('sg3', ['u9']);
      first.forgetMembers('sg3');
      // A whole list again, over a known one: kept, added and dropped members alike.
      first.putMembers('sg4', ['u1', 'u2', 'u5']);
      first.putMembers('sg4', ['u5', 'u6', 'u1', 'u6']);
      // Over a list no longer known, whose rows a change added meanwhile.
      first.putMembers('sg5', ['u9']);
      first.forgetMembers('sg5');
      first.changeMembers('sg5', ['u7'], []);
      first.putMembers('sg5', ['u8']);
      const second = await reopen(first);
      expect([...(second.knownMembers('sg4') ?? [])].sort()).toEqual(['u1', 'u5', 'u6']);
      expect([...(second.knownMembers('sg5') ?? [])]).toEqual(['u8']);
      expect(second.groupsOfMember('u7')).toEqual([]);
      expect(second.groupsOfMember('u2')).toEqual([]);
      expect([...(second.knownMembers('sg1') ?? [])].sort()).toEqual(['u1', 'u3', 'u4']);
      expect(second.groupsOfMember('u1').sort()).toEqual(['sg1', 'sg2', 'sg4']);
      expect(second.knownMembers('sg3')).toBeUndefined();
      second.forgetMember('u1');
      const third = await reopen(second);
      expect(third.groupsOfMember('u1')).toEqual([]);
      expect([...(third.knownMembers('sg2') ?? [])]).toEqual([]);
    });

    it('lists a group’s known descendants deepest first, through groups without a twin too', async () => {
      const store = await fresh();
      const put = (id: string, parentId?: string) => {
        store.putGroup({ keycloakId: id, scimId: `s-${id}`, displayName: id, parentId });
      };
      put('root');
      put('a', 'root');
      // No twin (its name was taken), but still where Keycloak has it.
      store.putGroupNode('twinless', 'a');
      put('a1', 'twinless');
      put('b', 'root');
      put('other');
      const again = await reopen(store);
      const order = again.descendantsOf('root');
      expect(new Set(order)).toEqual(new Set(['a', 'twinless', 'a1', 'b']));
      expect(order.indexOf('a1')).toBeLessThan(order.indexOf('twinless'));
      expect(order.indexOf('twinless')).toBeLessThan(order.indexOf('a'));
      expect(again.groupNode('a1')).toEqual({ parentId: 'twinless' });
      again.forgetGroupNode('twinless');
      expect(again.groupNode('twinless')).toBeUndefined();
    });

    it('walks the id map in id order from a cursor, and keeps when each entity was verified', async () => {
      const store = await fresh();
      for (const id of ['u3', 'u1', 'u2']) {
        store.putUser({ keycloakId: id, scimId: `s-${id}`, userName: id });
      }
      expect(store.usersAfter('', 2)).toEqual(['u1', 'u2']);
      expect(store.usersAfter('u2', 2)).toEqual(['u3']);
      expect(store.groupsAfter('', 5)).toEqual([]);
      store.markAllVerified(1_000);
      store.markVerified('user', 'u1', 500);
      // A verification never moves back in time.
      expect(store.oldestVerified()).toBeGreaterThan(1_000);
      const later = Date.now() + 60_000;
      store.markAllVerified(later);
      // A rename, or a new SCIM id, is not a verification: the entity keeps when it had one.
      store.putUser({ keycloakId: 'u1', scimId: 's-u1', userName: 'renamed' });
      store.putUser({ keycloakId: 'u2', scimId: 's-u2-new', userName: 'u2' });
      const again = await reopen(store);
      expect(again.oldestVerified()).toBe(later);
    });

    it('finds a user’s parked memberships by their key, and only those', async () => {
      const store = await fresh();
      store.park('membership:u1:g1', membershipHint('u1', 'g1'), 'r');
      store.park('membership:u1:g2', membershipHint('u1', 'g2'), 'r');
      store.park('membership:u10:g1', membershipHint('u10', 'g1'), 'r');
      store.park('user:u1', userHint('u1'), 'r');
      const again = await reopen(store);
      expect(
        again
          .parkedStartingWith('membership:u1:')
          .map((p) => p.key)
          .sort(),
      ).toEqual(['membership:u1:g1', 'membership:u1:g2']);
    });

    it('rolls back a failed transaction as a whole, also in what it keeps', async () => {
      const store = await fresh();
      expect(() =>
        store.transaction(() => {
          store.putUser({ keycloakId: 'k', scimId: 's', userName: 'u' });
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(store.user('k')).toBeUndefined();
      const again = await reopen(store);
      expect(again.user('k')).toBeUndefined();
    });

    it('commits a group of writes as a whole, and undoes a failed transaction within it alone', async () => {
      const store = await fresh();
      const user = (id: string) => ({ keycloakId: id, scimId: `s-${id}`, userName: id });
      await store.groupCommits(async () => {
        store.putUser(user('before'));
        expect(() =>
          store.transaction(() => {
            store.putUser(user('failed'));
            throw new Error('boom');
          }),
        ).toThrow('boom');
        // Across at least one commit of the group, and one durable() that commits it too.
        await new Promise((resolve) => setTimeout(resolve, COMMIT_GROUP_MS * 2));
        store.putUser(user('between'));
        await store.durable();
        store.putCheckpoint('poll.admin', '{"time":7}');
        store.putUser(user('after'));
      });
      expect(store.user('failed')).toBeUndefined();
      const again = await reopen(store);
      expect(userIds(again)).toEqual(['after', 'before', 'between']);
      expect(again.checkpoint('poll.admin')).toBe('{"time":7}');
    });

    it('keeps a group open while any of its callers works, and commits it when the last ends', async () => {
      const store = await fresh();
      let releaseLong: () => void = () => undefined;
      const long = store.groupCommits(
        () =>
          new Promise<void>((resolve) => {
            store.putUser({ keycloakId: 'long', scimId: 's-long', userName: 'long' });
            releaseLong = resolve;
          }),
      );
      await store.groupCommits(() => {
        store.putUser({ keycloakId: 'short', scimId: 's-short', userName: 'short' });
        return Promise.resolve();
      });
      releaseLong();
      await long;
      store.putUser({ keycloakId: 'alone', scimId: 's-alone', userName: 'alone' });
      const again = await reopen(store);
      expect(userIds(again)).toEqual(['alone', 'long', 'short']);
    });

    it('reads back after a reopen exactly what it held, for any sequence of writes', async () => {
      const id = fc.constantFrom('a', 'b', 'c', 'd');
      const scim = fc.constantFrom('s1', 's2', 's3');
      const operation = fc.oneof(
        fc.record({ op: fc.constant('putUser' as const), id, scim }),
        fc.record({ op: fc.constant('forgetUser' as const), id }),
        fc.record({ op: fc.constant('putGroup' as const), id, scim, parent: fc.option(id) }),
        fc.record({ op: fc.constant('forgetGroup' as const), id }),
        fc.record({
          op: fc.constant('members' as const),
          scim,
          add: fc.array(id),
          remove: fc.array(id),
        }),
        fc.record({ op: fc.constant('forgetMembers' as const), scim }),
        fc.record({ op: fc.constant('park' as const), id, reason: fc.string({ maxLength: 8 }) }),
        fc.record({ op: fc.constant('unpark' as const), id }),
        fc.record({
          op: fc.constant('checkpoint' as const),
          id,
          value: fc.string({ maxLength: 8 }),
        }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(operation, { maxLength: 40 }), async (operations) => {
          const store = await fresh();
          for (const o of operations) {
            switch (o.op) {
              case 'putUser':
                store.putUser({ keycloakId: o.id, scimId: o.scim, userName: o.id });
                break;
              case 'forgetUser':
                store.forgetUser(o.id);
                break;
              case 'putGroup':
                store.putGroup({
                  keycloakId: o.id,
                  scimId: o.scim,
                  displayName: `/${o.id}`,
                  parentId: o.parent ?? undefined,
                });
                break;
              case 'forgetGroup':
                store.forgetGroup(o.id);
                break;
              case 'members':
                if (store.knownMembers(o.scim) === undefined) store.putMembers(o.scim, []);
                store.changeMembers(o.scim, o.add, o.remove);
                break;
              case 'forgetMembers':
                store.forgetMembers(o.scim);
                break;
              case 'park':
                store.park(`user:${o.id}`, userHint(o.id), o.reason);
                break;
              case 'unpark':
                store.unpark(`user:${o.id}`);
                break;
              case 'checkpoint':
                store.putCheckpoint(o.id, o.value);
                break;
            }
          }
          const names = ['a', 'b', 'c', 'd'];
          const before = snapshotOf(store, names);
          const again = await reopen(store);
          expect(snapshotOf(again, names)).toEqual(before);
          await again.close();
          await kind.cleanup();
        }),
        { numRuns: 25 },
      );
    });
  });
}
