import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupHint, membershipHint, userHint, type Hint } from '../../src/domain/hint.js';
import { adminEventSchema, hintsFromAdminEvent } from '../../src/domain/keycloak-event.js';
import type { KeycloakGroupRef } from '../../src/domain/keycloak-model.js';
import { expectedScim } from '../support/expected-scim.js';
import {
  FakeKeycloakError,
  FakeRealm,
  sequentialIds,
  type Emitted,
  type FakeAdminEvent,
  type FakeRealmOptions,
} from '../support/fake-keycloak.js';
import {
  OperationRunner,
  applySequence,
  describeOperation,
  formatRun,
  formatSequence,
  keycloakOperations,
  replaySequence,
  type KeycloakOperation,
} from '../support/keycloak-operations.js';

const realm = (options: FakeRealmOptions = {}): FakeRealm =>
  new FakeRealm({ realmId: 'realm-1', newId: sequentialIds(), startTime: 1_000, ...options });

/** The one event an operation recorded. */
function single({ events }: Emitted): FakeAdminEvent {
  if (events.length !== 1) throw new Error(`expected one event, got ${events.length}`);
  return events[0] as FakeAdminEvent;
}

function hintsOf(event: FakeAdminEvent): readonly Hint[] {
  // The relay parses what it receives with this schema first: the fake's events must pass it.
  return hintsFromAdminEvent(adminEventSchema.parse(event)).hints;
}

function representation(event: FakeAdminEvent): unknown {
  if (event.representation === undefined) throw new Error('no representation');
  return JSON.parse(event.representation);
}

const EVENT_KEYS = [
  'operationType',
  'realmId',
  'representation',
  'resourcePath',
  'resourceType',
  'time',
];

/** A refusal with this status, and nothing recorded or changed. */
function expectRefused(kc: FakeRealm, status: number, change: () => unknown): void {
  const before = kc.state();
  const logged = kc.adminEvents().length;
  let caught: unknown;
  try {
    change();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(FakeKeycloakError);
  expect((caught as FakeKeycloakError).status).toBe(status);
  expect(kc.adminEvents()).toHaveLength(logged);
  expect(kc.state()).toEqual(before);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const paths = (groups: readonly KeycloakGroupRef[]): string[] => groups.map((group) => group.path);

describe('FakeRealm users', () => {
  it('records a create at users/{id} with the request body, and stores the user lower-cased', () => {
    const kc = realm();
    const created = kc.createUser({
      username: 'Alice',
      email: 'Alice@Example.COM',
      firstName: 'A',
    });
    const event = single(created);
    expect(Object.keys(event).sort()).toEqual(EVENT_KEYS);
    expect(event).toMatchObject({
      time: 1_000,
      realmId: 'realm-1',
      operationType: 'CREATE',
      resourceType: 'USER',
      resourcePath: `users/${created.id}`,
    });
    // The body as sent: no id, the caller's spelling.
    expect(representation(event)).toEqual({
      username: 'Alice',
      email: 'Alice@Example.COM',
      firstName: 'A',
    });
    expect(hintsOf(event)).toEqual([userHint(created.id)]);
    // Keycloak leaves a user created without `enabled` disabled.
    expect(kc.peekUser(created.id)).toEqual({
      id: created.id,
      username: 'alice',
      email: 'alice@example.com',
      firstName: 'A',
      enabled: false,
    });
  });

  it('records creates as the admin client makes Keycloak store them, with an empty segment', () => {
    const kc = realm({ emptySegmentOnCreate: true });
    const user = kc.createUser({ username: 'alice', enabled: true });
    const group = kc.createGroup('eng');
    expect(single(user).resourcePath).toBe(`users//${user.id}`);
    expect(single(group).resourcePath).toBe(`groups//${group.id}`);
    expect(hintsOf(single(user))).toEqual([userHint(user.id)]);
    expect(hintsOf(single(group))).toEqual([groupHint(group.id, false)]);
  });

  it('applies a partial update, where an empty string clears an email or a name', () => {
    const kc = realm();
    const { id } = kc.createUser({
      username: 'alice',
      email: 'alice@example.com',
      firstName: 'Ada',
      lastName: 'Lovelace',
      enabled: true,
    });
    const event = single(kc.updateUser(id, { lastName: 'King' }));
    expect(event).toMatchObject({
      operationType: 'UPDATE',
      resourceType: 'USER',
      resourcePath: `users/${id}`,
    });
    expect(representation(event)).toEqual({ lastName: 'King' });
    expect(hintsOf(event)).toEqual([userHint(id)]);
    expect(kc.peekUser(id)).toMatchObject({
      username: 'alice',
      email: 'alice@example.com',
      firstName: 'Ada',
      lastName: 'King',
      enabled: true,
    });

    kc.updateUser(id, { username: 'ALICIA', email: '', firstName: '', enabled: false });
    expect(kc.peekUser(id)).toEqual({ id, username: 'alicia', lastName: 'King', enabled: false });

    // Keycloak records an update that changes nothing all the same.
    expect(single(kc.updateUser(id, {})).operationType).toBe('UPDATE');
  });

  it('refuses a taken username or email, whatever its case, on create and on update', () => {
    const kc = realm();
    const alice = kc.createUser({ username: 'alice', email: 'alice@example.com' });
    const bob = kc.createUser({ username: 'bob' });
    expectRefused(kc, 409, () => kc.createUser({ username: 'ALICE' }));
    expectRefused(kc, 409, () => kc.createUser({ username: 'carol', email: 'Alice@example.com' }));
    expectRefused(kc, 409, () => kc.updateUser(bob.id, { username: 'Alice' }));
    expectRefused(kc, 409, () => kc.updateUser(bob.id, { email: 'ALICE@EXAMPLE.COM' }));
    // A user keeps its own name and email.
    expect(() =>
      kc.updateUser(alice.id, { username: 'Alice', email: 'alice@example.com' }),
    ).not.toThrow();
    // A freed username is free again.
    kc.updateUser(alice.id, { username: 'alicia' });
    expect(() => kc.updateUser(bob.id, { username: 'alice' })).not.toThrow();
  });

  it('refuses a blank or invalid username, an invalid email and an unknown user', () => {
    const kc = realm();
    const { id } = kc.createUser({ username: 'alice' });
    expectRefused(kc, 400, () => kc.createUser({ username: '  ' }));
    expectRefused(kc, 400, () => kc.createUser({ username: 'al' }));
    expectRefused(kc, 400, () => kc.createUser({ username: 'a b c' }));
    expectRefused(kc, 400, () => kc.createUser({ username: 'carol', email: 'not-an-email' }));
    expectRefused(kc, 400, () => kc.updateUser(id, { username: '' }));
    expectRefused(kc, 404, () => kc.updateUser('missing', { enabled: true }));
    expectRefused(kc, 404, () => kc.deleteUser('missing'));
    expectRefused(kc, 400, () => kc.createUser({ username: 'carol', groups: ['/nowhere'] }));
  });

  it('deletes a user with one event and no representation, dropping its memberships silently', async () => {
    const kc = realm();
    const { id } = kc.createUser({ username: 'alice', enabled: true });
    const eng = kc.createGroup('eng');
    const dev = kc.createChildGroup(eng.id, 'dev');
    kc.addMember(id, eng.id);
    kc.addMember(id, dev.id);
    const event = single(kc.deleteUser(id));
    expect(Object.keys(event).sort()).toEqual(EVENT_KEYS.filter((key) => key !== 'representation'));
    expect(event).toMatchObject({ operationType: 'DELETE', resourcePath: `users/${id}` });
    expect(hintsOf(event)).toEqual([userHint(id)]);
    expect(kc.membershipPairs()).toEqual([]);
    expect(await collect(kc.groupMemberIds(eng.id))).toEqual([]);
    expect(await kc.user(id)).toBeUndefined();
  });

  it('joins the groups given in a create body without a membership event', () => {
    const kc = realm();
    const eng = kc.createGroup('eng');
    const created = kc.createUser({ username: 'alice', groups: ['/eng'] });
    expect(created.events.map((event) => event.resourceType)).toEqual(['USER']);
    expect(kc.membershipPairs()).toEqual([[created.id, eng.id]]);
  });
});

describe('FakeRealm groups', () => {
  it('records a top-level create at groups/{id}, the id also in the representation', () => {
    const kc = realm();
    const { id, events } = kc.createGroup('eng');
    const event = single({ events });
    expect(Object.keys(event).sort()).toEqual(EVENT_KEYS);
    expect(event).toMatchObject({
      operationType: 'CREATE',
      resourceType: 'GROUP',
      resourcePath: `groups/${id}`,
    });
    expect(representation(event)).toEqual({ name: 'eng', id });
    expect(hintsOf(event)).toEqual([groupHint(id, false)]);
    expect(kc.peekGroup(id)).toEqual({ id, name: 'eng', path: '/eng', names: ['eng'] });
  });

  it('records a subgroup create at groups/{parentId}/children, the child id only in the body', () => {
    const kc = realm();
    const eng = kc.createGroup('eng');
    const dev = kc.createChildGroup(eng.id, 'dev');
    const event = single(dev);
    expect(event).toMatchObject({
      operationType: 'CREATE',
      resourceType: 'GROUP',
      resourcePath: `groups/${eng.id}/children`,
    });
    expect(event.resourcePath).not.toContain(dev.id);
    expect(representation(event)).toEqual({ name: 'dev', id: dev.id });
    expect(hintsOf(event)).toEqual([groupHint(dev.id, true)]);
    expect(kc.peekGroup(dev.id)).toEqual({
      id: dev.id,
      name: 'dev',
      path: '/eng/dev',
      names: ['eng', 'dev'],
      parentId: eng.id,
    });
  });

  it('keeps names unique among siblings only, and case-sensitive', () => {
    const kc = realm();
    const eng = kc.createGroup('eng');
    const ops = kc.createGroup('ops');
    kc.createChildGroup(eng.id, 'dev');
    expectRefused(kc, 409, () => kc.createGroup('eng'));
    expectRefused(kc, 409, () => kc.createChildGroup(eng.id, 'dev'));
    expectRefused(kc, 409, () => kc.renameGroup(ops.id, 'eng'));
    expectRefused(kc, 404, () => kc.createChildGroup('missing', 'dev'));
    expectRefused(kc, 400, () => kc.createGroup(' '));
    expect(() => kc.createGroup('Eng')).not.toThrow();
    expect(() => kc.createChildGroup(ops.id, 'dev')).not.toThrow();
    expect(() => kc.createChildGroup(eng.id, 'eng')).not.toThrow();
  });

  it('records a rename at groups/{id} and moves every descendant path with it', () => {
    const kc = realm();
    const eng = kc.createGroup('eng');
    const dev = kc.createChildGroup(eng.id, 'dev');
    const web = kc.createChildGroup(dev.id, 'web');
    const event = single(kc.renameGroup(eng.id, 'engineering'));
    expect(event).toMatchObject({
      operationType: 'UPDATE',
      resourceType: 'GROUP',
      resourcePath: `groups/${eng.id}`,
    });
    // The body as the admin console sends it: the group as read, so the path is the old one.
    expect(representation(event)).toEqual({ id: eng.id, name: 'engineering', path: '/eng' });
    expect(hintsOf(event)).toEqual([groupHint(eng.id, true)]);
    expect(paths(kc.state().groups)).toEqual([
      '/engineering',
      '/engineering/dev',
      '/engineering/dev/web',
    ]);
    expect(kc.peekGroup(web.id)?.path).toBe('/engineering/dev/web');
    // Renaming to its own name is no clash.
    expect(() => kc.renameGroup(dev.id, 'dev')).not.toThrow();
  });

  it('records a move under a parent at groups/{parentId}/children and to the top at groups', () => {
    const kc = realm();
    const eng = kc.createGroup('eng');
    const ops = kc.createGroup('ops');
    const dev = kc.createChildGroup(eng.id, 'dev');
    const web = kc.createChildGroup(dev.id, 'web');

    const under = single(kc.moveGroup(dev.id, ops.id));
    expect(under).toMatchObject({
      operationType: 'UPDATE',
      resourceType: 'GROUP',
      resourcePath: `groups/${ops.id}/children`,
    });
    expect(representation(under)).toMatchObject({ id: dev.id, name: 'dev' });
    expect(hintsOf(under)).toEqual([groupHint(dev.id, true)]);
    expect(kc.peekGroup(dev.id)).toEqual({
      id: dev.id,
      name: 'dev',
      path: '/ops/dev',
      names: ['ops', 'dev'],
      parentId: ops.id,
    });
    expect(kc.peekGroup(web.id)?.path).toBe('/ops/dev/web');

    const top = single(kc.moveGroup(web.id, undefined));
    expect(top).toMatchObject({
      operationType: 'UPDATE',
      resourceType: 'GROUP',
      resourcePath: 'groups',
    });
    expect(representation(top)).toMatchObject({ id: web.id, name: 'web' });
    expect(hintsOf(top)).toEqual([groupHint(web.id, true)]);
    expect(kc.peekGroup(web.id)).toEqual({ id: web.id, name: 'web', path: '/web', names: ['web'] });
  });

  it('refuses a move into the group itself, its subtree or onto a taken name', () => {
    const kc = realm();
    const eng = kc.createGroup('eng');
    const dev = kc.createChildGroup(eng.id, 'dev');
    const web = kc.createChildGroup(dev.id, 'web');
    const ops = kc.createGroup('ops');
    kc.createChildGroup(ops.id, 'dev');
    const topDev = kc.createGroup('dev');
    expectRefused(kc, 400, () => kc.moveGroup(eng.id, eng.id));
    expectRefused(kc, 400, () => kc.moveGroup(eng.id, web.id));
    expectRefused(kc, 409, () => kc.moveGroup(dev.id, ops.id));
    expectRefused(kc, 409, () => kc.moveGroup(dev.id, undefined));
    expectRefused(kc, 409, () => kc.moveGroup(topDev.id, ops.id));
    expectRefused(kc, 404, () => kc.moveGroup(eng.id, 'missing'));
    expectRefused(kc, 404, () => kc.moveGroup('missing', undefined));
  });

  it('records a move to the parent a group already has, and changes nothing', () => {
    const kc = realm();
    const eng = kc.createGroup('eng');
    const dev = kc.createChildGroup(eng.id, 'dev');
    const before = kc.state();
    expect(single(kc.moveGroup(dev.id, eng.id)).resourcePath).toBe(`groups/${eng.id}/children`);
    expect(single(kc.moveGroup(eng.id, undefined)).resourcePath).toBe('groups');
    expect(kc.state()).toEqual(before);
  });

  it('does not escape a slash inside a group name, and gives the names apart', () => {
    const kc = realm();
    const eng = kc.createGroup('eng');
    const dev = kc.createChildGroup(eng.id, 'dev');
    const slashed = kc.createGroup('eng/dev');
    expect(kc.peekGroup(slashed.id)?.path).toBe('/eng/dev');
    expect(kc.peekGroup(dev.id)?.path).toBe('/eng/dev');
    expect(kc.peekGroup(slashed.id)?.names).toEqual(['eng/dev']);
    expect(kc.peekGroup(dev.id)?.names).toEqual(['eng', 'dev']);
  });

  it('deletes a group with one event; its subtree and the memberships in it go silently', async () => {
    const kc = realm();
    const alice = kc.createUser({ username: 'alice', enabled: true });
    const eng = kc.createGroup('eng');
    const dev = kc.createChildGroup(eng.id, 'dev');
    const web = kc.createChildGroup(dev.id, 'web');
    const ops = kc.createGroup('ops');
    kc.addMember(alice.id, web.id);
    kc.addMember(alice.id, eng.id);
    kc.addMember(alice.id, ops.id);

    const event = single(kc.deleteGroup(eng.id));
    expect(event).toMatchObject({
      operationType: 'DELETE',
      resourceType: 'GROUP',
      resourcePath: `groups/${eng.id}`,
    });
    expect(event.representation).toBeUndefined();
    expect(hintsOf(event)).toEqual([groupHint(eng.id, true)]);
    expect(kc.groupIds()).toEqual([ops.id]);
    expect(kc.membershipPairs()).toEqual([[alice.id, ops.id]]);
    expect(await kc.group(web.id)).toBeUndefined();
    expect(paths(await collect(kc.userGroups(alice.id)))).toEqual(['/ops']);
    expect(await collect(kc.descendants(eng.id))).toEqual([]);
    // The name is free again at the top level.
    expect(() => kc.createGroup('eng')).not.toThrow();
  });
});

describe('FakeRealm memberships', () => {
  it('records a join at users/{userId}/groups/{groupId} with the group as representation', () => {
    const kc = realm();
    const alice = kc.createUser({ username: 'alice' });
    const eng = kc.createGroup('eng');
    const dev = kc.createChildGroup(eng.id, 'dev');
    const event = single(kc.addMember(alice.id, dev.id));
    expect(event).toMatchObject({
      operationType: 'CREATE',
      resourceType: 'GROUP_MEMBERSHIP',
      resourcePath: `users/${alice.id}/groups/${dev.id}`,
    });
    expect(representation(event)).toMatchObject({
      id: dev.id,
      name: 'dev',
      path: '/eng/dev',
      parentId: eng.id,
    });
    expect(hintsOf(event)).toEqual([membershipHint(alice.id, dev.id)]);
    // Joining again is accepted and records nothing.
    expect(kc.addMember(alice.id, dev.id).events).toEqual([]);
    expect(kc.membershipPairs()).toEqual([[alice.id, dev.id]]);
  });

  it('records a leave; nothing for a non-member; a DELETE that changes nothing via a subgroup', () => {
    const kc = realm();
    const alice = kc.createUser({ username: 'alice' });
    const eng = kc.createGroup('eng');
    const dev = kc.createChildGroup(eng.id, 'dev');
    const ops = kc.createGroup('ops');
    kc.addMember(alice.id, dev.id);

    expect(kc.removeMember(alice.id, ops.id).events).toEqual([]);
    // Keycloak's isMemberOf counts the subgroup, but only a direct membership is removed.
    const viaSubgroup = single(kc.removeMember(alice.id, eng.id));
    expect(viaSubgroup).toMatchObject({
      operationType: 'DELETE',
      resourceType: 'GROUP_MEMBERSHIP',
      resourcePath: `users/${alice.id}/groups/${eng.id}`,
    });
    expect(kc.membershipPairs()).toEqual([[alice.id, dev.id]]);

    const leave = single(kc.removeMember(alice.id, dev.id));
    expect(representation(leave)).toMatchObject({ id: dev.id, path: '/eng/dev' });
    expect(hintsOf(leave)).toEqual([membershipHint(alice.id, dev.id)]);
    expect(kc.membershipPairs()).toEqual([]);
  });

  it('refuses an unknown user or group', () => {
    const kc = realm();
    const alice = kc.createUser({ username: 'alice' });
    const eng = kc.createGroup('eng');
    expectRefused(kc, 404, () => kc.addMember('missing', eng.id));
    expectRefused(kc, 404, () => kc.addMember(alice.id, 'missing'));
    expectRefused(kc, 404, () => kc.removeMember('missing', eng.id));
    expectRefused(kc, 404, () => kc.removeMember(alice.id, 'missing'));
  });
});

describe('FakeRealm clock and log', () => {
  it('stamps events from a monotonic clock and keeps them all', () => {
    const kc = realm({ startTime: 50 });
    const a = single(kc.createUser({ username: 'alice' }));
    kc.advanceClock(100);
    const b = single(kc.createGroup('eng'));
    expect([a.time, b.time]).toEqual([50, 151]);
    expect(kc.now()).toBe(152);
    expect(kc.adminEvents()).toEqual([a, b]);
    expect(() => {
      kc.advanceClock(-1);
    }).toThrow(RangeError);
  });

  it('can give a burst the same millisecond, as Keycloak under load does', () => {
    const kc = realm({ startTime: 7, stepMs: 0 });
    kc.createUser({ username: 'alice' });
    kc.createUser({ username: 'bobby' });
    expect(kc.adminEvents().map((event) => event.time)).toEqual([7, 7]);
  });
});

describe('FakeRealm as KeycloakRealmReader', () => {
  it('answers asynchronously, after the event loop turned', async () => {
    const kc = realm();
    const { id } = kc.createUser({ username: 'alice' });
    let answered = false;
    const pending = kc.user(id).then(() => {
      answered = true;
    });
    await Promise.resolve();
    expect(answered).toBe(false);
    await pending;
    expect(answered).toBe(true);
  });

  it('lets concurrent reads overtake each other, driven by the injected random source', async () => {
    // The first read waits 3 event-loop turns, the second 1.
    const draws = [0.99, 0];
    const kc = realm({ random: () => draws.shift() ?? 0, maxYields: 3 });
    const { id } = kc.createUser({ username: 'alice' });
    const order: string[] = [];
    await Promise.all([
      kc.user(id).then(() => order.push('first')),
      kc.user(id).then(() => order.push('second')),
    ]);
    expect(order).toEqual(['second', 'first']);
  });

  it('asks once per page, through the latency hook', async () => {
    const calls: string[] = [];
    const kc = realm({
      pageSize: 2,
      latency: (call) => {
        calls.push(call);
        return Promise.resolve();
      },
    });
    for (const name of ['carol', 'alice', 'erin', 'bobby', 'dave'])
      kc.createUser({ username: name });
    const users = await collect(kc.users());
    expect(users.map((user) => user.username)).toEqual(['alice', 'bobby', 'carol', 'dave', 'erin']);
    expect(calls).toEqual([
      'list users (first=0, max=2)',
      'list users (first=2, max=2)',
      'list users (first=4, max=2)',
    ]);
  });

  it('returns fresh copies in the model shapes, never its live objects', async () => {
    const kc = realm();
    const { id } = kc.createUser({ username: 'alice', enabled: true });
    const eng = kc.createGroup('eng');
    const dev = kc.createChildGroup(eng.id, 'dev');
    kc.addMember(id, dev.id);

    const user = await kc.user(id);
    expect(user).toEqual({ id, username: 'alice', enabled: true });
    expect(user !== undefined && 'email' in user).toBe(false);
    Object.assign(user ?? {}, { username: 'mallory' });
    const [listed] = await collect(kc.users());
    Object.assign(listed ?? {}, { enabled: false });
    expect(await kc.user(id)).toEqual({ id, username: 'alice', enabled: true });

    const top = await kc.group(eng.id);
    expect(top !== undefined && 'parentId' in top).toBe(false);
    Object.assign(top ?? {}, { name: 'changed' });
    expect(await kc.group(dev.id)).toEqual({
      id: dev.id,
      name: 'dev',
      path: '/eng/dev',
      names: ['eng', 'dev'],
      parentId: eng.id,
    });
    expect(await collect(kc.userGroups(id))).toEqual([
      { id: dev.id, name: 'dev', path: '/eng/dev', parentId: eng.id },
    ]);
    expect(await collect(kc.groupMemberIds(dev.id))).toEqual([id]);
  });

  it('lists the tree and a subtree parent before children, and nothing below a missing group', async () => {
    const kc = realm();
    const ops = kc.createGroup('ops');
    const eng = kc.createGroup('eng');
    const web = kc.createChildGroup(eng.id, 'web');
    kc.createChildGroup(web.id, 'frontend');
    kc.createChildGroup(eng.id, 'dev');
    kc.createChildGroup(ops.id, 'oncall');
    expect(paths(await collect(kc.groups()))).toEqual([
      '/eng',
      '/eng/dev',
      '/eng/web',
      '/eng/web/frontend',
      '/ops',
      '/ops/oncall',
    ]);
    expect(paths(await collect(kc.descendants(eng.id)))).toEqual([
      '/eng/dev',
      '/eng/web',
      '/eng/web/frontend',
    ]);
    expect(await collect(kc.descendants('missing'))).toEqual([]);
    expect(await collect(kc.userGroups('missing'))).toEqual([]);
    expect(await collect(kc.groupMemberIds('missing'))).toEqual([]);
  });

  it('lists only direct memberships', async () => {
    const kc = realm();
    const alice = kc.createUser({ username: 'alice' });
    const bobby = kc.createUser({ username: 'bobby' });
    const eng = kc.createGroup('eng');
    const dev = kc.createChildGroup(eng.id, 'dev');
    kc.addMember(alice.id, dev.id);
    kc.addMember(bobby.id, eng.id);
    expect(await collect(kc.groupMemberIds(eng.id))).toEqual([bobby.id]);
    expect(paths(await collect(kc.userGroups(alice.id)))).toEqual(['/eng/dev']);
  });

  it('keeps listing, without failing, while the realm changes under it', async () => {
    const kc = realm({ pageSize: 2 });
    const ids = ['alice', 'bobby', 'carol', 'dave', 'erin', 'frank'].map(
      (username) => kc.createUser({ username }).id,
    );
    const seen: string[] = [];
    for await (const user of kc.users()) {
      seen.push(user.username);
      const next = ids.shift();
      if (next !== undefined) kc.deleteUser(next);
    }
    // Deleting ahead of the cursor shifts the pages: some users are never seen. None fails.
    expect(seen.length).toBeLessThan(6);
    expect(seen.length).toBeGreaterThan(0);

    const eng = kc.createGroup('eng');
    const dev = kc.createChildGroup(eng.id, 'dev');
    kc.createChildGroup(dev.id, 'web');
    kc.createGroup('ops');
    const walked: string[] = [];
    for await (const group of kc.groups()) {
      walked.push(group.path);
      if (group.id === eng.id) kc.deleteGroup(eng.id);
    }
    expect(walked).toEqual(['/eng', '/ops']);
  });
});

describe('expectedScim (the oracle)', () => {
  /** /eng (alice), /eng/dev (bobby), /ops/dev (carol, no email), /ops. */
  function sample(): { kc: FakeRealm; ids: Record<string, string> } {
    const kc = realm();
    const alice = kc.createUser({
      username: 'alice',
      email: 'alice@example.com',
      firstName: 'Ada',
      lastName: 'Lovelace',
      enabled: true,
    });
    const bobby = kc.createUser({ username: 'bobby', email: 'bob@example.com', enabled: false });
    const carol = kc.createUser({ username: 'carol', enabled: true });
    const eng = kc.createGroup('eng');
    const dev = kc.createChildGroup(eng.id, 'dev');
    const ops = kc.createGroup('ops');
    const opsDev = kc.createChildGroup(ops.id, 'dev');
    kc.addMember(alice.id, eng.id);
    kc.addMember(bobby.id, dev.id);
    kc.addMember(carol.id, opsDev.id);
    return {
      kc,
      ids: {
        alice: alice.id,
        bobby: bobby.id,
        carol: carol.id,
        eng: eng.id,
        dev: dev.id,
        ops: ops.id,
        opsDev: opsDev.id,
      },
    };
  }

  const sorted = (...ids: (string | undefined)[]): string[] =>
    ids.filter((id): id is string => id !== undefined).sort();

  it('maps users by username, groups by path, direct members', () => {
    const { kc, ids } = sample();
    const expected = expectedScim(kc.state(), {
      usernameSource: 'username',
      groupNameSource: 'path',
      membershipMode: 'direct',
    });
    // Sequential ids: creation order is externalId order.
    expect(expected.users).toEqual([
      {
        externalId: ids.alice,
        userName: 'alice',
        givenName: 'Ada',
        familyName: 'Lovelace',
        email: 'alice@example.com',
        active: true,
      },
      { externalId: ids.bobby, userName: 'bobby', email: 'bob@example.com', active: false },
      { externalId: ids.carol, userName: 'carol', active: true },
    ]);
    expect(expected.groups.map((group) => [group.displayName, group.members])).toEqual([
      ['/eng', sorted(ids.alice)],
      ['/eng/dev', sorted(ids.bobby)],
      ['/ops', []],
      ['/ops/dev', sorted(ids.carol)],
    ]);
    expect(expected.membersByGroup.get(ids.eng ?? '')).toEqual(sorted(ids.alice));
    expect(expected.unprovisioned).toEqual([]);
    expect(expected.duplicateDisplayNames).toEqual([]);
  });

  it('counts a member of a group for every ancestor in inherited mode', () => {
    const { kc, ids } = sample();
    const expected = expectedScim(kc.state(), {
      usernameSource: 'username',
      groupNameSource: 'path',
      membershipMode: 'inherited',
    });
    const members = expected.membersByGroup;
    expect(members.get(ids.eng ?? '')).toEqual(sorted(ids.alice, ids.bobby));
    expect(members.get(ids.dev ?? '')).toEqual(sorted(ids.bobby));
    expect(members.get(ids.ops ?? '')).toEqual(sorted(ids.carol));
    expect(members.get(ids.opsDev ?? '')).toEqual(sorted(ids.carol));
  });

  it('leaves out users without an email when the email is the userName, and their memberships', () => {
    const { kc, ids } = sample();
    const expected = expectedScim(kc.state(), {
      usernameSource: 'email',
      groupNameSource: 'path',
      membershipMode: 'inherited',
    });
    expect(expected.users.map((user) => user.userName).sort()).toEqual([
      'alice@example.com',
      'bob@example.com',
    ]);
    expect(expected.unprovisioned).toEqual([ids.carol]);
    expect(expected.membersByGroup.get(ids.ops ?? '')).toEqual([]);
    expect(expected.membersByGroup.get(ids.opsDev ?? '')).toEqual([]);
  });

  it('names groups by name when asked, and reports the displayNames several groups share', () => {
    const { kc, ids } = sample();
    const expected = expectedScim(kc.state(), {
      usernameSource: 'username',
      groupNameSource: 'name',
      membershipMode: 'direct',
    });
    const names = new Map(expected.groups.map((group) => [group.externalId, group.displayName]));
    expect(names.get(ids.dev ?? '')).toBe('dev');
    expect(names.get(ids.opsDev ?? '')).toBe('dev');
    expect(expected.duplicateDisplayNames).toEqual(['dev']);
  });

  it('follows renames and moves, as it reads paths from the current state', () => {
    const { kc, ids } = sample();
    kc.renameGroup(ids.eng ?? '', 'engineering');
    kc.moveGroup(ids.opsDev ?? '', undefined);
    kc.renameGroup(ids.opsDev ?? '', 'platform');
    const expected = expectedScim(kc.state(), {
      usernameSource: 'username',
      groupNameSource: 'path',
      membershipMode: 'inherited',
    });
    expect(expected.groups.map((group) => group.displayName).sort()).toEqual([
      '/engineering',
      '/engineering/dev',
      '/ops',
      '/platform',
    ]);
    expect(expected.membersByGroup.get(ids.ops ?? '')).toEqual([]);
  });
});

describe('operation sequences', () => {
  it('apply without throwing and keep the realm consistent after every step', () => {
    fc.assert(
      fc.property(keycloakOperations({ silentJoins: true }), (ops) => {
        const runner = new OperationRunner(realm());
        for (const op of ops) {
          const step = runner.apply(op);
          expect(runner.realm.invariantViolations(), describeOperation(op)).toEqual([]);
          if (!step.applied) continue;
          for (const event of step.events) {
            // Every event the fake records means something to the relay.
            const meaning = hintsFromAdminEvent(adminEventSchema.parse(event));
            expect('ignored' in meaning, JSON.stringify(event)).toBe(false);
            expect(meaning.hints.length).toBe(1);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('leave a realm the reader lists completely, parent before children, once it is quiet', async () => {
    await fc.assert(
      fc.asyncProperty(
        keycloakOperations(),
        fc.integer({ min: 1, max: 4 }),
        async (ops, pageSize) => {
          const { realm: kc } = applySequence(ops, realm({ pageSize }));
          const state = kc.state();
          const groups = await collect(kc.groups());
          expect(groups).toEqual(state.groups);
          const position = new Map(groups.map((group, i) => [group.id, i]));
          for (const group of groups) {
            if (group.parentId === undefined) continue;
            expect(position.get(group.parentId) ?? Infinity).toBeLessThan(
              position.get(group.id) ?? -1,
            );
          }
          const users = await collect(kc.users());
          expect(users.map((user) => user.id).sort()).toEqual(
            state.users.map((user) => user.id).sort(),
          );
          for (const group of state.groups) {
            expect([...(await collect(kc.groupMemberIds(group.id)))].sort()).toEqual(
              [...(state.members.get(group.id) ?? [])].sort(),
            );
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('replay deterministically: same operations, same ids, events and state', () => {
    fc.assert(
      fc.property(keycloakOperations(), (ops) => {
        const first = replaySequence(ops);
        const second = replaySequence(ops);
        expect(second.events).toEqual(first.events);
        expect(second.realm.state()).toEqual(first.realm.state());
        expect(formatRun(second.steps)).toBe(formatRun(first.steps));
      }),
      { numRuns: 50 },
    );
  });

  it('hit the interesting cases often', () => {
    const counts = {
      groupRecreatedUnderFormerName: 0,
      groupRenamedToFormerName: 0,
      userRenamedToFormerName: 0,
      emailTakenOverFromAnother: 0,
      subtreeDeletedWithMemberships: 0,
      userDeletedWithMemberships: 0,
      groupMoved: 0,
      moveRefused: 0,
      usernameRefused: 0,
      leaveThroughSubgroup: 0,
      rejoinIgnored: 0,
    };
    for (const ops of fc.sample(keycloakOperations({ minLength: 20 }), {
      seed: 42,
      numRuns: 200,
    })) {
      const runner = new OperationRunner(realm());
      const formerGroupNames = new Set<string>();
      const formerUsernames = new Set<string>();
      const formerEmails = new Set<string>();
      for (const op of ops) {
        const before = runner.realm.state();
        const pairsBefore = runner.realm.membershipPairs().length;
        const step = runner.apply(op);
        const after = runner.realm.state();
        const pairsAfter = runner.realm.membershipPairs().length;
        const afterGroups = new Map(after.groups.map((group) => [group.id, group]));
        const afterUsers = new Map(after.users.map((user) => [user.id, user]));
        if (!step.applied) {
          if (op.kind === 'moveGroup') counts.moveRefused += 1;
          if (step.reason.includes('same username')) counts.usernameRefused += 1;
          continue;
        }
        switch (op.kind) {
          case 'createGroup': {
            const created = after.groups.find(
              (group) => !before.groups.some((g) => g.id === group.id),
            );
            if (created !== undefined && formerGroupNames.has(created.name)) {
              counts.groupRecreatedUnderFormerName += 1;
            }
            break;
          }
          case 'renameGroup': {
            const renamed = before.groups.find((g) => afterGroups.get(g.id)?.name !== g.name);
            const name = renamed === undefined ? undefined : afterGroups.get(renamed.id)?.name;
            if (name !== undefined && formerGroupNames.has(name))
              counts.groupRenamedToFormerName += 1;
            break;
          }
          case 'updateUser': {
            for (const user of before.users) {
              const now = afterUsers.get(user.id);
              if (
                now !== undefined &&
                now.username !== user.username &&
                formerUsernames.has(now.username)
              ) {
                counts.userRenamedToFormerName += 1;
              }
              if (
                now?.email !== undefined &&
                now.email !== user.email &&
                formerEmails.has(now.email)
              ) {
                counts.emailTakenOverFromAnother += 1;
              }
            }
            break;
          }
          case 'deleteGroup':
            if (before.groups.length - after.groups.length > 1 && pairsAfter < pairsBefore) {
              counts.subtreeDeletedWithMemberships += 1;
            }
            break;
          case 'deleteUser':
            if (pairsAfter < pairsBefore) counts.userDeletedWithMemberships += 1;
            break;
          case 'moveGroup':
            if (before.groups.some((g) => afterGroups.get(g.id)?.parentId !== g.parentId)) {
              counts.groupMoved += 1;
            }
            break;
          case 'removeMember':
            if (step.events.length === 1 && pairsAfter === pairsBefore)
              counts.leaveThroughSubgroup += 1;
            break;
          case 'addMember':
            if (step.events.length === 0) counts.rejoinIgnored += 1;
            break;
          default:
            break;
        }
        // Names given up by this step become "former" names.
        for (const group of before.groups) {
          if (
            afterGroups.get(group.id)?.name !== group.name ||
            afterGroups.get(group.id)?.parentId !== group.parentId
          ) {
            formerGroupNames.add(group.name);
          }
        }
        for (const user of before.users) {
          const now = afterUsers.get(user.id);
          if (now?.username !== user.username) formerUsernames.add(user.username);
          if (user.email !== undefined && now?.email !== user.email) formerEmails.add(user.email);
        }
      }
    }
    for (const [name, count] of Object.entries(counts)) {
      expect(count, name).toBeGreaterThanOrEqual(10);
    }
  });

  it('print compactly, symbolically and resolved', () => {
    const ops: KeycloakOperation[] = [
      {
        kind: 'createUser',
        username: { pool: 0 },
        email: null,
        givenName: 1,
        familyName: null,
        enabled: null,
        upperCase: true,
        joinGroup: null,
      },
      { kind: 'createGroup', parent: null, name: { pool: 0 } },
      { kind: 'createGroup', parent: 0, name: { freed: 0 } },
      { kind: 'createGroup', parent: null, name: { pool: 0 } },
      { kind: 'addMember', user: 0, group: 1 },
      { kind: 'updateUser', user: 0, email: null, enabled: true },
      { kind: 'removeMember', membership: 0, up: 1 },
    ];
    expect(formatSequence(ops).split('\n')).toEqual([
      '  1. createUser(u=#0^ e=- gn=1 fn=- on=omit)',
      '  2. createGroup(top #0)',
      '  3. createGroup(under g0 freed0)',
      '  4. createGroup(top #0)',
      '  5. addMember(u0 → g1)',
      "  6. updateUser(u0: e='' on=true)",
      '  7. removeMember(m0 up1)',
    ]);
    const run = replaySequence(ops);
    expect(formatRun(run.steps).split('\n')).toEqual([
      '  1. createUser {"username":"ALICE","firstName":"Grace"}  [1 event]',
      '  2. createGroup /eng  [1 event]',
      // Nothing freed yet: the first name of the pool.
      '  3. createGroup /eng/eng  [1 event]',
      "  4. createGroup /eng  [skipped: 409 Top level group named 'eng' already exists.]",
      '  5. addMember alice → /eng/eng  [1 event]',
      '  6. updateUser alice {"email":"","enabled":true}  [1 event]',
      '  7. removeMember alice ✕ /eng (joined /eng/eng)  [1 event]',
    ]);
  });
});
