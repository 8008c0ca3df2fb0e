import { describe, expect, it } from 'vitest';
import { planGroup, type GroupFacts } from '../../src/domain/group-plan.js';
import type { KeycloakGroup } from '../../src/domain/keycloak-model.js';
import type { ScimGroupView } from '../../src/domain/scim-views.js';

const byPath = { mapping: { usernameSource: 'username', groupNameSource: 'path' } } as const;
const byName = { mapping: { usernameSource: 'username', groupNameSource: 'name' } } as const;
const backend: KeycloakGroup = {
  id: 'kc-b',
  name: 'backend',
  path: '/eng/backend',
  names: ['eng', 'backend'],
  parentId: 'kc-eng',
};
const twin: ScimGroupView = { id: 's-b', displayName: '/eng/backend', externalId: 'kc-b' };
const facts = (parts: Partial<GroupFacts>): GroupFacts => ({
  keycloakId: 'kc-b',
  group: backend,
  outOfScope: undefined,
  twin: undefined,
  twinFoundBy: undefined,
  holder: undefined,
  ...parts,
});

describe('the decision about one group', () => {
  it('creates a group by path, empty, with its parent for the id map', () => {
    expect(planGroup(facts({}), byPath)).toEqual({
      op: 'create',
      keycloakId: 'kc-b',
      parentId: 'kc-eng',
      desired: { displayName: '/eng/backend', externalId: 'kc-b' },
    });
  });

  it('renames a twin by PATCH after a rename or move above it', () => {
    const moved = {
      ...backend,
      path: '/platform/backend',
      names: ['platform', 'backend'],
      parentId: 'kc-platform',
    };
    expect(planGroup(facts({ group: moved, twin, twinFoundBy: 'id map' }), byPath)).toMatchObject({
      op: 'update',
      parentId: 'kc-platform',
      changes: [{ op: 'replace', path: 'displayName', value: '/platform/backend' }],
    });
  });

  it('keeps the twin as it is when the name does not change, and reports the new parent', () => {
    const moved = {
      ...backend,
      path: '/platform/backend',
      names: ['platform', 'backend'],
      parentId: 'kc-platform',
    };
    expect(
      planGroup(
        facts({ group: moved, twin: { ...twin, displayName: 'backend' }, twinFoundBy: 'id map' }),
        byName,
      ),
    ).toMatchObject({ op: 'none', provisioned: true, parentId: 'kc-platform' });
  });

  it('deletes the twin of a group that is gone or outside SCOPE_GROUP_PATH', () => {
    expect(
      planGroup(facts({ group: undefined, twin, twinFoundBy: 'id map' }), byPath),
    ).toMatchObject({ op: 'deprovision', scimId: 's-b', reason: 'gone from Keycloak' });
    expect(
      planGroup(
        facts({ outOfScope: 'outside SCOPE_GROUP_PATH', twin, twinFoundBy: 'id map' }),
        byPath,
      ),
    ).toMatchObject({ op: 'deprovision', reason: 'outside SCOPE_GROUP_PATH' });
    expect(planGroup(facts({ group: undefined }), byPath)).toMatchObject({
      op: 'none',
      provisioned: false,
    });
  });

  it('takes over the group a deleted group left under the same name', () => {
    const left = { id: 's-old', displayName: '/eng/backend', externalId: 'kc-old' };
    expect(
      planGroup(
        facts({
          holder: {
            resource: left,
            owner: 'kc-old',
            ownerLive: false,
            ownersTwin: true,
            ownerWants: undefined,
          },
        }),
        byPath,
      ),
    ).toMatchObject({
      op: 'update',
      scimId: 's-old',
      adopted: { foundBy: 'name', leftBy: 'kc-old' },
      changes: [{ op: 'replace', path: 'externalId', value: 'kc-b' }],
    });
  });

  it('names two live groups that want one displayName, saying how to keep them apart', () => {
    const other = { id: 's-o', displayName: 'backend', externalId: 'kc-o' };
    expect(
      planGroup(
        facts({
          holder: {
            resource: other,
            owner: 'kc-o',
            ownerLive: true,
            ownersTwin: true,
            ownerWants: 'backend',
          },
        }),
        byName,
      ),
    ).toMatchObject({
      op: 'problem',
      reason: expect.stringContaining(
        'GROUP_NAME_SOURCE=path keeps same-named groups apart',
      ) as unknown,
    });
  });
});

describe('a group whose name holds a slash', () => {
  const slashed: KeycloakGroup = {
    id: 'kc-ab',
    name: 'a/b',
    path: '/a/b',
    names: ['a/b'],
    parentId: undefined,
  };
  const child: KeycloakGroup = {
    id: 'kc-b',
    name: 'b',
    path: '/a/b',
    names: ['a', 'b'],
    parentId: 'kc-a',
  };

  it('wants a displayName that Keycloak’s path cannot give, apart from the child b of a', () => {
    expect(planGroup(facts({ keycloakId: 'kc-ab', group: slashed }), byPath)).toMatchObject({
      op: 'create',
      desired: { displayName: '/a~/b', externalId: 'kc-ab' },
    });
    expect(planGroup(facts({ keycloakId: 'kc-b', group: child }), byPath)).toMatchObject({
      op: 'create',
      desired: { displayName: '/a/b', externalId: 'kc-b' },
    });
  });

  it('renames its twin named by the old rule (its path) by PATCH, saying from what', () => {
    const old: ScimGroupView = { id: 's-ab', displayName: '/a/b', externalId: 'kc-ab' };
    expect(
      planGroup(
        facts({ keycloakId: 'kc-ab', group: slashed, twin: old, twinFoundBy: 'id map' }),
        byPath,
      ),
    ).toEqual({
      op: 'update',
      keycloakId: 'kc-ab',
      parentId: undefined,
      scimId: 's-ab',
      desired: { displayName: '/a~/b', externalId: 'kc-ab' },
      changes: [{ op: 'replace', path: 'displayName', value: '/a~/b' }],
      adopted: undefined,
      renamedFrom: '/a/b',
    });
  });

  it('has the child b of a wait while the old twin of a/b still holds /a/b and moves away', () => {
    const old: ScimGroupView = { id: 's-ab', displayName: '/a/b', externalId: 'kc-ab' };
    expect(
      planGroup(
        facts({
          keycloakId: 'kc-b',
          group: child,
          holder: {
            resource: old,
            owner: 'kc-ab',
            ownerLive: true,
            ownersTwin: true,
            ownerWants: '/a~/b',
          },
        }),
        byPath,
      ),
    ).toMatchObject({ op: 'wait', keycloakId: 'kc-b', displayName: '/a/b', owner: 'kc-ab' });
  });

  it('keeps its bare name under GROUP_NAME_SOURCE=name', () => {
    expect(planGroup(facts({ keycloakId: 'kc-ab', group: slashed }), byName)).toMatchObject({
      op: 'create',
      desired: { displayName: 'a/b', externalId: 'kc-ab' },
    });
  });
});
