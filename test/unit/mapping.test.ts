import { describe, expect, it } from 'vitest';
import { groupMatches, toScimGroup, toScimUser, userMatches } from '../../src/domain/mapping.js';

const alice = {
  id: 'kc-1',
  username: 'alice',
  email: 'Alice@Example.org',
  firstName: 'Alice',
  lastName: 'Liddell',
  enabled: true,
};

describe('Keycloak to SCIM mapping', () => {
  it('maps a user with the Keycloak id as externalId and the primary email', () => {
    expect(toScimUser(alice, { usernameSource: 'username', groupNameSource: 'path' })).toEqual({
      ok: true,
      resource: {
        userName: 'alice',
        externalId: 'kc-1',
        name: { givenName: 'Alice', familyName: 'Liddell' },
        emails: [{ value: 'Alice@Example.org', type: 'work', primary: true }],
        active: true,
      },
    });
  });

  it('takes userName from the email when so configured', () => {
    const mapped = toScimUser(alice, { usernameSource: 'email', groupNameSource: 'path' });
    expect(mapped.ok && mapped.resource.userName).toBe('Alice@Example.org');
  });

  it('says why a user without the needed field cannot be provisioned', () => {
    const mapped = toScimUser(
      { ...alice, email: undefined },
      { usernameSource: 'email', groupNameSource: 'path' },
    );
    expect(mapped).toEqual({
      ok: false,
      reason: expect.stringContaining('user kc-1 (alice) has no email') as unknown,
    });
  });

  it('maps a disabled user to active=false and omits empty names', () => {
    const mapped = toScimUser(
      { id: 'kc-2', username: 'bob', enabled: false, firstName: ' ' },
      { usernameSource: 'username', groupNameSource: 'path' },
    );
    expect(mapped).toEqual({
      ok: true,
      resource: { userName: 'bob', externalId: 'kc-2', active: false },
    });
  });

  it('names a group by its path or by its name', () => {
    const group = { id: 'g', name: 'backend', names: ['eng', 'backend'] };
    expect(toScimGroup(group, { usernameSource: 'username', groupNameSource: 'path' })).toEqual({
      displayName: '/eng/backend',
      externalId: 'g',
    });
    expect(toScimGroup(group, { usernameSource: 'username', groupNameSource: 'name' })).toEqual({
      displayName: 'backend',
      externalId: 'g',
    });
  });

  it('compares only what the relay owns, and emails case-insensitively', () => {
    const mapped = toScimUser(alice, { usernameSource: 'username', groupNameSource: 'path' });
    if (!mapped.ok) throw new Error('expected a mapping');
    const desired = mapped.resource;
    expect(
      userMatches({ ...desired, emails: [{ value: 'alice@example.org', primary: true }] }, desired),
    ).toBe(true);
    expect(userMatches({ ...desired, active: false }, desired)).toBe(false);
    expect(userMatches({ ...desired, name: { givenName: 'Al' } }, desired)).toBe(false);
    expect(
      groupMatches({ displayName: '/a', externalId: 'g' }, { displayName: '/b', externalId: 'g' }),
    ).toBe(false);
  });
});
