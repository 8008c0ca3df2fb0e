import { describe, expect, it } from 'vitest';
import {
  EVERYTHING,
  groupInScope,
  scopeKeycloakSide,
  scopesUsers,
  userInScope,
} from '../../src/domain/scope.js';

describe('provisioning scope', () => {
  it('takes everything when unset', () => {
    expect(groupInScope(EVERYTHING, '/anything')).toBe(true);
    expect(userInScope(EVERYTHING, [])).toBe(true);
    expect(scopesUsers(EVERYTHING)).toBe(false);
  });

  it('keeps a group path and what lies below it, not a sibling with a longer name', () => {
    const scope = { userGroups: [], groupPath: '/kestra' };
    expect(groupInScope(scope, '/kestra')).toBe(true);
    expect(groupInScope(scope, '/kestra/admins')).toBe(true);
    expect(groupInScope(scope, '/kestra-legacy')).toBe(false);
    expect(groupInScope(scope, '/other/kestra')).toBe(false);
  });

  it('keeps users who belong to a scope group or one below it', () => {
    const scope = { userGroups: ['/staff', '/contractors/kestra'], groupPath: undefined };
    expect(scopesUsers(scope)).toBe(true);
    expect(userInScope(scope, ['/staff'])).toBe(true);
    expect(userInScope(scope, ['/other', '/staff/eng/backend'])).toBe(true);
    expect(userInScope(scope, ['/contractors/kestra'])).toBe(true);
    expect(userInScope(scope, ['/contractors'])).toBe(false);
    expect(userInScope(scope, ['/staffing'])).toBe(false);
    expect(userInScope(scope, [])).toBe(false);
  });
});

describe('scoping a full reconcile', () => {
  const side = {
    users: [{ id: 'ann' }, { id: 'bob' }, { id: 'cid' }],
    groups: [
      { id: 'staff', path: '/staff' },
      { id: 'eng', path: '/staff/eng' },
      { id: 'k', path: '/kestra' },
      { id: 'ka', path: '/kestra/admins' },
      { id: 'x', path: '/other' },
    ],
    members: new Map([
      ['eng', ['ann']],
      ['ka', ['ann', 'bob']],
      ['x', ['cid']],
    ]),
  };

  it('keeps in-scope users, in-scope groups, and memberships between them', () => {
    const scoped = scopeKeycloakSide(side, { userGroups: ['/staff'], groupPath: '/kestra' });
    expect(scoped.users.map((u) => u.id)).toEqual(['ann']);
    expect(scoped.groups.map((g) => g.id)).toEqual(['k', 'ka']);
    expect(scoped.members.get('ka')).toEqual(['ann']);
    expect(scoped.members.has('eng')).toBe(false);
  });

  it('leaves everything as it is without a scope', () => {
    expect(scopeKeycloakSide(side, EVERYTHING)).toBe(side);
  });
});
