import { describe, expect, it } from 'vitest';
import type { KeycloakGroup, KeycloakUser } from '../../src/domain/keycloak-model.js';
import {
  judgeDeletions,
  planResync,
  type IdLink,
  type ResyncInput,
  type ResyncOptions,
} from '../../src/domain/resync-plan.js';
import type { ScimGroupListing, ScimUserView } from '../../src/domain/scim-views.js';

const options: ResyncOptions = {
  mapping: { usernameSource: 'username', groupNameSource: 'path' },
  userDeleteMode: 'delete',
  membershipMode: 'direct',
  scope: 'all',
  prune: false,
  guard: { maxDeletes: 100, maxDeleteShare: 1 },
  confirmed: false,
};

const kcUser = (id: string, username: string, extra: Partial<KeycloakUser> = {}): KeycloakUser => ({
  id,
  username,
  email: `${username}@example.test`,
  enabled: true,
  ...extra,
});

const kcGroup = (id: string, path: string, parentId?: string): KeycloakGroup => ({
  id,
  name: path.split('/').at(-1) ?? path,
  path,
  names: path.split('/').slice(1),
  parentId,
});

/** The SCIM twin the relay would have written for `user`. */
const twin = (scimId: string, user: KeycloakUser): ScimUserView => ({
  id: scimId,
  userName: user.username,
  externalId: user.id,
  emails: [{ value: `${user.username}@example.test`, type: 'work', primary: true }],
  active: user.enabled,
});

const groupTwin = (
  scimId: string,
  group: KeycloakGroup,
  memberIds: string[] = [],
): ScimGroupListing => ({
  id: scimId,
  displayName: group.path,
  externalId: group.id,
  memberIds,
});

function input(parts: {
  users?: KeycloakUser[];
  groups?: KeycloakGroup[];
  members?: Record<string, string[]>;
  scimUsers?: ScimUserView[];
  scimGroups?: ScimGroupListing[];
  userLinks?: IdLink[];
  groupLinks?: IdLink[];
}): ResyncInput {
  return {
    keycloak: {
      users: parts.users ?? [],
      groups: parts.groups ?? [],
      members: new Map(Object.entries(parts.members ?? {})),
    },
    scim: { users: parts.scimUsers ?? [], groups: parts.scimGroups ?? [] },
    idMap: { users: parts.userLinks ?? [], groups: parts.groupLinks ?? [] },
  };
}

const ada = kcUser('kc-ada', 'ada');
const bob = kcUser('kc-bob', 'bob');
const eng = kcGroup('kc-eng', '/eng');
const backend = kcGroup('kc-backend', '/eng/backend', 'kc-eng');

describe('resync plan: a cold start', () => {
  it('creates every user and group, and adds members by Keycloak id', () => {
    const plan = planResync(
      input({
        users: [ada, bob],
        groups: [eng, backend],
        members: { 'kc-backend': ['kc-ada', 'kc-bob'] },
      }),
      options,
    );
    expect(plan.users.map((s) => [s.op, s.keycloakId])).toEqual([
      ['create', 'kc-ada'],
      ['create', 'kc-bob'],
    ]);
    expect(plan.groups).toEqual([
      {
        op: 'create',
        keycloakId: 'kc-eng',
        parentId: undefined,
        desired: { displayName: '/eng', externalId: 'kc-eng' },
      },
      {
        op: 'create',
        keycloakId: 'kc-backend',
        parentId: 'kc-eng',
        desired: { displayName: '/eng/backend', externalId: 'kc-backend' },
      },
    ]);
    expect(plan.members).toEqual([
      {
        groupKeycloakId: 'kc-backend',
        groupScimId: undefined,
        displayName: '/eng/backend',
        add: ['kc-ada', 'kc-bob'],
        remove: [],
      },
    ]);
    expect(plan.prune).toEqual([]);
    expect(plan.guard.blocked).toBe(false);
  });

  it('leaves service accounts out, and names users it cannot map', () => {
    const plan = planResync(
      input({
        users: [
          kcUser('kc-sa', 'service-account-relay', { serviceAccountClientId: 'relay' }),
          kcUser('kc-nomail', 'nomail', { email: undefined }),
        ],
        groups: [eng],
        members: { 'kc-eng': ['kc-sa', 'kc-nomail'] },
      }),
      { ...options, mapping: { usernameSource: 'email', groupNameSource: 'path' } },
    );
    expect(plan.users).toEqual([]);
    expect(plan.problems).toEqual([
      {
        kind: 'user',
        keycloakId: 'kc-nomail',
        name: 'nomail',
        reason: expect.stringContaining('has no email') as unknown,
      },
    ]);
    expect(plan.members).toEqual([]);
  });

  it('refuses the second of two users that map to the same userName', () => {
    const plan = planResync(
      input({
        users: [
          kcUser('kc-1', 'one', { email: 'same@example.test' }),
          kcUser('kc-2', 'two', { email: 'SAME@example.test' }),
        ],
      }),
      { ...options, mapping: { usernameSource: 'email', groupNameSource: 'path' } },
    );
    expect(plan.users.map((s) => s.keycloakId)).toEqual(['kc-1']);
    expect(plan.problems).toEqual([
      expect.objectContaining({
        keycloakId: 'kc-2',
        reason: expect.stringContaining('kc-1') as unknown,
      }),
    ]);
  });
});

describe('resync plan: no drift', () => {
  it('plans no write at all when both sides and the id map agree', () => {
    const plan = planResync(
      input({
        users: [ada, bob],
        groups: [eng, backend],
        members: { 'kc-backend': ['kc-ada'] },
        scimUsers: [twin('s-ada', ada), twin('s-bob', bob)],
        scimGroups: [groupTwin('s-eng', eng), groupTwin('s-backend', backend, ['s-ada'])],
        userLinks: [
          { keycloakId: 'kc-ada', scimId: 's-ada', name: 'ada' },
          { keycloakId: 'kc-bob', scimId: 's-bob', name: 'bob' },
        ],
        groupLinks: [
          { keycloakId: 'kc-eng', scimId: 's-eng', name: '/eng' },
          {
            keycloakId: 'kc-backend',
            scimId: 's-backend',
            name: '/eng/backend',
            parentId: 'kc-eng',
          },
        ],
      }),
      { ...options, prune: true },
    );
    expect(plan).toMatchObject({
      users: [],
      groups: [],
      members: [],
      prune: [],
      links: [],
      problems: [],
      unchanged: { users: 2, groups: 2 },
    });
    expect(plan.userScimIds.get('kc-ada')).toBe('s-ada');
  });
});

describe('resync plan: adoption', () => {
  it('matches through the id map first, even when the externalId was overwritten', () => {
    const plan = planResync(
      input({
        users: [ada],
        scimUsers: [{ ...twin('s-ada', ada), externalId: 'other' }, twin('s-dup', ada)],
        userLinks: [{ keycloakId: 'kc-ada', scimId: 's-ada', name: 'ada' }],
      }),
      options,
    );
    expect(plan.users).toEqual([
      expect.objectContaining({ op: 'update', scimId: 's-ada', adopted: undefined }),
    ]);
  });

  it('adopts by externalId, writing only the id map when nothing differs', () => {
    const plan = planResync(input({ users: [ada], scimUsers: [twin('s-ada', ada)] }), options);
    expect(plan.users).toEqual([]);
    expect(plan.links).toEqual([
      { kind: 'user', keycloakId: 'kc-ada', scimId: 's-ada', name: 'ada' },
    ]);
    expect(plan.unchanged.users).toBe(1);
  });

  it('adopts an unmanaged user by userName, case-insensitively, and sets its externalId', () => {
    const plan = planResync(
      input({
        users: [ada],
        scimUsers: [{ id: 's-pre', userName: 'ADA', active: true }],
      }),
      options,
    );
    expect(plan.users).toEqual([
      expect.objectContaining({
        op: 'update',
        scimId: 's-pre',
        adopted: { foundBy: 'name', leftBy: undefined, version: undefined },
        desired: expect.objectContaining({ userName: 'ada', externalId: 'kc-ada' }) as unknown,
      }),
    ]);
  });

  it('adopts a user left behind by a Keycloak user that no longer exists', () => {
    const plan = planResync(
      input({ users: [ada], scimUsers: [{ ...twin('s-old', ada), externalId: 'kc-gone' }] }),
      options,
    );
    expect(plan.users).toEqual([expect.objectContaining({ op: 'update', scimId: 's-old' })]);
  });

  it('never takes a SCIM user that belongs to another live Keycloak user', () => {
    const renamed = kcUser('kc-other', 'other');
    const plan = planResync(
      input({
        users: [ada, renamed],
        // kc-other's twin still carries the name "ada"; kc-other claims it by externalId.
        scimUsers: [{ ...twin('s-other', renamed), userName: 'ada' }],
      }),
      options,
    );
    // kc-other renames its twin away; only then can kc-ada have the name (not the resource).
    expect(plan.users).toEqual([
      expect.objectContaining({ op: 'update', keycloakId: 'kc-other', scimId: 's-other' }),
    ]);
    expect(plan.waits).toEqual([
      expect.objectContaining({
        kind: 'user',
        keycloakId: 'kc-ada',
        owner: 'kc-other',
        moveAside: undefined,
      }),
    ]);
  });

  it('reports a name owned by a live Keycloak user that claimed another twin', () => {
    const other = kcUser('kc-other', 'other');
    const plan = planResync(
      input({
        users: [ada, other],
        scimUsers: [twin('s-other', other), { ...twin('s-stray', ada), externalId: 'kc-other' }],
        userLinks: [{ keycloakId: 'kc-other', scimId: 's-other', name: 'other' }],
      }),
      { ...options, prune: true },
    );
    expect(plan.problems).toEqual([
      expect.objectContaining({
        keycloakId: 'kc-ada',
        reason: expect.stringContaining('already belongs to Keycloak user kc-other') as unknown,
      }),
    ]);
    // The stray twin of a live user is not pruned either: a person has to look at it.
    expect(plan.prune).toEqual([]);
  });

  it('adopts a group by displayName and renames a group whose path changed', () => {
    const renamedEng = kcGroup('kc-eng', '/engineering');
    const plan = planResync(
      input({
        groups: [renamedEng, kcGroup('kc-ops', '/ops')],
        scimGroups: [groupTwin('s-eng', eng), { id: 's-ops', displayName: '/OPS', memberIds: [] }],
        groupLinks: [{ keycloakId: 'kc-eng', scimId: 's-eng', name: '/eng' }],
      }),
      options,
    );
    expect(plan.groups).toEqual([
      expect.objectContaining({
        op: 'update',
        scimId: 's-eng',
        adopted: undefined,
        desired: { displayName: '/engineering', externalId: 'kc-eng' },
      }),
      expect.objectContaining({
        op: 'update',
        scimId: 's-ops',
        adopted: expect.objectContaining({ foundBy: 'name' }) as unknown,
      }),
    ]);
  });

  it('rewrites the id map of a group moved under another parent, without a SCIM write', () => {
    const moved = { ...backend, parentId: 'kc-ops' };
    const plan = planResync(
      input({
        groups: [moved],
        scimGroups: [
          { id: 's-b', displayName: 'backend', externalId: 'kc-backend', memberIds: [] },
        ],
        groupLinks: [
          { keycloakId: 'kc-backend', scimId: 's-b', name: 'backend', parentId: 'kc-eng' },
        ],
      }),
      { ...options, mapping: { usernameSource: 'username', groupNameSource: 'name' } },
    );
    expect(plan.groups).toEqual([]);
    expect(plan.links).toEqual([
      {
        kind: 'group',
        keycloakId: 'kc-backend',
        scimId: 's-b',
        name: 'backend',
        parentId: 'kc-ops',
      },
    ]);
  });

  it('names both groups when two map to the same displayName', () => {
    const plan = planResync(
      input({ groups: [kcGroup('g1', '/a/team', 'a'), kcGroup('g2', '/b/team', 'b')] }),
      { ...options, mapping: { usernameSource: 'username', groupNameSource: 'name' } },
    );
    expect(plan.groups.map((s) => s.keycloakId)).toEqual(['g1']);
    expect(plan.problems).toEqual([
      expect.objectContaining({
        kind: 'group',
        keycloakId: 'g2',
        reason: expect.stringContaining('g1') as unknown,
      }),
    ]);
  });
});

describe('resync plan: memberships', () => {
  const scimSide = {
    users: [ada, bob],
    scimUsers: [twin('s-ada', ada), twin('s-bob', bob)],
  };

  it('adds the missing and removes the extra members, as deltas', () => {
    const plan = planResync(
      input({
        ...scimSide,
        groups: [eng],
        members: { 'kc-eng': ['kc-ada'] },
        scimGroups: [groupTwin('s-eng', eng, ['s-bob', 's-unmanaged'])],
      }),
      options,
    );
    expect(plan.members).toEqual([
      {
        groupKeycloakId: 'kc-eng',
        groupScimId: 's-eng',
        displayName: '/eng',
        add: ['kc-ada'],
        remove: ['s-bob', 's-unmanaged'],
      },
    ]);
  });

  it('counts a member of a child group as a member of its ancestors in inherited mode', () => {
    const plan = planResync(
      input({
        ...scimSide,
        groups: [eng, backend],
        members: { 'kc-backend': ['kc-bob'], 'kc-eng': ['kc-ada'] },
        scimGroups: [
          groupTwin('s-eng', eng, ['s-ada']),
          groupTwin('s-backend', backend, ['s-bob']),
        ],
      }),
      { ...options, membershipMode: 'inherited' },
    );
    expect(plan.members).toEqual([
      expect.objectContaining({ groupScimId: 's-eng', add: ['kc-bob'], remove: [] }),
    ]);
  });

  it('leaves members of users the SCIM DELETE removes anyway, but removes deactivated ones', () => {
    const gone = { ...twin('s-gone', kcUser('kc-gone', 'gone')) };
    const base = input({
      groups: [eng],
      scimUsers: [gone],
      scimGroups: [groupTwin('s-eng', eng, ['s-gone'])],
    });
    const deleting = planResync(base, { ...options, prune: true });
    expect(deleting.members).toEqual([]);
    expect(deleting.prune).toEqual([
      expect.objectContaining({ kind: 'user', op: 'delete', scimId: 's-gone' }),
    ]);
    const deactivating = planResync(base, {
      ...options,
      prune: true,
      userDeleteMode: 'deactivate',
    });
    expect(deactivating.members).toEqual([expect.objectContaining({ remove: ['s-gone'] })]);
  });

  it('with --groups, skips members whose user has no SCIM twin instead of creating it', () => {
    const plan = planResync(
      input({
        users: [ada, bob],
        scimUsers: [twin('s-ada', ada)],
        groups: [eng],
        members: { 'kc-eng': ['kc-ada', 'kc-bob'] },
        scimGroups: [groupTwin('s-eng', eng)],
      }),
      { ...options, scope: 'groups' },
    );
    expect(plan.users).toEqual([]);
    expect(plan.members).toEqual([expect.objectContaining({ add: ['kc-ada'] })]);
    expect(plan.membersSkipped).toBe(1);
  });

  it('with --users, plans nothing for groups or members', () => {
    const plan = planResync(
      input({ users: [ada], groups: [eng], members: { 'kc-eng': ['kc-ada'] } }),
      { ...options, scope: 'users', prune: true },
    );
    expect(plan.groups).toEqual([]);
    expect(plan.members).toEqual([]);
    expect(plan.users).toHaveLength(1);
  });
});

describe('resync plan: prune', () => {
  const managedGone = twin('s-gone', kcUser('kc-gone', 'gone'));
  const unmanaged: ScimUserView = { id: 's-local', userName: 'local-admin', active: true };
  const goneGroup: ScimGroupListing = {
    id: 's-old',
    displayName: '/old',
    externalId: 'kc-old',
    memberIds: [],
  };
  const handMade: ScimGroupListing = { id: 's-hand', displayName: '/hand', memberIds: [] };
  const state = input({
    users: [ada],
    scimUsers: [twin('s-ada', ada), managedGone, unmanaged],
    scimGroups: [goneGroup, handMade],
  });

  it('prunes nothing unless asked', () => {
    expect(planResync(state, options).prune).toEqual([]);
  });

  it('removes only managed resources that Keycloak no longer has', () => {
    const plan = planResync(state, { ...options, prune: true });
    expect(plan.prune).toEqual([
      {
        kind: 'user',
        op: 'delete',
        scimId: 's-gone',
        name: 'gone',
        externalId: 'kc-gone',
        reason: 'gone from Keycloak',
      },
      {
        kind: 'group',
        op: 'delete',
        scimId: 's-old',
        name: '/old',
        externalId: 'kc-old',
        reason: 'gone from Keycloak',
      },
    ]);
    expect(plan.guard).toMatchObject({ deletions: 2, managed: 3, blocked: false });
  });

  it('deactivates instead in deactivate mode, and leaves already inactive users alone', () => {
    const plan = planResync(
      input({
        scimUsers: [managedGone, { ...twin('s-off', kcUser('kc-off', 'off')), active: false }],
      }),
      { ...options, prune: true, userDeleteMode: 'deactivate' },
    );
    expect(plan.prune).toEqual([expect.objectContaining({ op: 'deactivate', scimId: 's-gone' })]);
  });

  it('deprovisions the twin of a Keycloak service account, saying so', () => {
    const sa = kcUser('kc-sa', 'service-account-x', { serviceAccountClientId: 'x' });
    const plan = planResync(input({ users: [sa], scimUsers: [twin('s-sa', sa)] }), {
      ...options,
      prune: true,
    });
    expect(plan.prune).toEqual([
      expect.objectContaining({ scimId: 's-sa', reason: 'service account of client x' }),
    ]);
  });

  it('holds deletions back over the count limit, and says why', () => {
    const plan = planResync(state, {
      ...options,
      prune: true,
      guard: { maxDeletes: 1, maxDeleteShare: 1 },
    });
    expect(plan.guard).toEqual({
      deletions: 2,
      managed: 3,
      blocked: true,
      reason: '2 deletions exceed the limit of 1; nothing is deleted without --yes',
    });
  });
});

describe('the mass-deletion guard', () => {
  const guard = { maxDeletes: 10, maxDeleteShare: 0.5 };

  it('blocks over the share even under the count', () => {
    expect(judgeDeletions(3, 4, { guard, confirmed: false })).toEqual({
      deletions: 3,
      managed: 4,
      blocked: true,
      reason:
        '3 of 4 managed SCIM resources (75%) exceed the limit of 50%; nothing is deleted without --yes',
    });
  });

  it('lets a confirmed run through, still naming what it exceeds', () => {
    const verdict = judgeDeletions(30, 40, { guard, confirmed: true });
    expect(verdict.blocked).toBe(false);
    expect(verdict.reason).toContain('30 deletions exceed the limit of 10');
    expect(verdict.reason).toContain('confirmed with --yes');
  });

  it('passes within both limits, and with nothing to delete', () => {
    expect(judgeDeletions(2, 4, { guard, confirmed: false }).blocked).toBe(false);
    expect(judgeDeletions(0, 0, { guard, confirmed: false })).toEqual({
      deletions: 0,
      managed: 0,
      blocked: false,
      reason: undefined,
    });
  });
});

describe('resync plan: groups named by the rule before slashes were escaped', () => {
  const named = (id: string, names: string[], parentId?: string): KeycloakGroup => ({
    id,
    name: names.at(-1) ?? '',
    // What Keycloak reports: the names joined, a `/` inside one left as it is.
    path: `/${names.join('/')}`,
    names,
    parentId,
  });
  const slashed = named('kc-ab', ['a/b']);
  const a = named('kc-a', ['a']);
  const b = named('kc-b', ['a', 'b'], 'kc-a');
  const c = named('kc-c', ['a', 'b', 'c'], 'kc-b');
  const tilde = named('kc-t', ['t~1']);
  const u1 = kcUser('kc-u1', 'u1');
  const u3 = kcUser('kc-u3', 'u3');
  const old = (scimId: string, group: KeycloakGroup, memberIds: string[] = []) => ({
    listing: { id: scimId, displayName: group.path, externalId: group.id, memberIds },
    link: { keycloakId: group.id, scimId, name: group.path, parentId: group.parentId },
  });

  it('renames the twins whose name changes and has the child b of a wait for /a/b', () => {
    // Before: a/b was seen first and took /a/b; the child b of a was refused it (no twin).
    const twins = [old('s-ab', slashed, ['s-u1']), old('s-a', a), old('s-c', c), old('s-t', tilde)];
    const plan = planResync(
      input({
        users: [u1, u3],
        groups: [slashed, a, b, c, tilde],
        members: { 'kc-ab': ['kc-u1'], 'kc-b': ['kc-u3'] },
        scimUsers: [twin('s-u1', u1), twin('s-u3', u3)],
        userLinks: [
          { keycloakId: 'kc-u1', scimId: 's-u1', name: 'u1' },
          { keycloakId: 'kc-u3', scimId: 's-u3', name: 'u3' },
        ],
        scimGroups: twins.map((t) => t.listing),
        groupLinks: twins.map((t) => t.link),
      }),
      { ...options, prune: true },
    );
    expect(plan.problems).toEqual([]);
    expect(plan.prune).toEqual([]);
    expect(plan.groups).toEqual([
      expect.objectContaining({
        op: 'update',
        keycloakId: 'kc-ab',
        scimId: 's-ab',
        renamedFrom: '/a/b',
        desired: { displayName: '/a~/b', externalId: 'kc-ab' },
        changes: [{ op: 'replace', path: 'displayName', value: '/a~/b' }],
      }),
      expect.objectContaining({
        op: 'update',
        keycloakId: 'kc-t',
        scimId: 's-t',
        renamedFrom: '/t~1',
        desired: { displayName: '/t~~1', externalId: 'kc-t' },
      }),
    ]);
    expect(plan.waits).toEqual([
      expect.objectContaining({ kind: 'group', keycloakId: 'kc-b', displayName: '/a/b' }),
    ]);
    expect(plan.unchanged.groups).toBe(2);
    // The members of the renamed twin stay; nothing is removed from it.
    expect(plan.members.filter((m) => m.groupKeycloakId === 'kc-ab')).toEqual([]);
  });

  it('plans nothing once the twins carry the new names', () => {
    const groups = [slashed, a, b, c, tilde];
    const displayName: Record<string, string> = {
      'kc-ab': '/a~/b',
      'kc-a': '/a',
      'kc-b': '/a/b',
      'kc-c': '/a/b/c',
      'kc-t': '/t~~1',
    };
    const plan = planResync(
      input({
        groups,
        scimGroups: groups.map((g) => ({
          id: `s-${g.id}`,
          displayName: displayName[g.id] ?? '',
          externalId: g.id,
          memberIds: [],
        })),
        groupLinks: groups.map((g) => ({
          keycloakId: g.id,
          scimId: `s-${g.id}`,
          name: displayName[g.id] ?? '',
          parentId: g.parentId,
        })),
      }),
      { ...options, prune: true },
    );
    expect(plan.groups).toEqual([]);
    expect(plan.waits).toEqual([]);
    expect(plan.links).toEqual([]);
    expect(plan.problems).toEqual([]);
    expect(plan.unchanged.groups).toBe(5);
  });
});
