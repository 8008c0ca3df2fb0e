import { describe, expect, it } from 'vitest';
import { groupHint, membershipHint, userHint } from '../../src/domain/hint.js';
import {
  adminEventSchema,
  describeParseError,
  hintsFromAdminEvent,
  hintsFromUserEvent,
  type AdminEvent,
} from '../../src/domain/keycloak-event.js';

const admin = (fields: Partial<AdminEvent>): AdminEvent => ({
  time: 1,
  realmId: 'r',
  operationType: 'UPDATE',
  ...fields,
});

describe('admin events to hints', () => {
  it('routes a user change by its path', () => {
    for (const operationType of ['CREATE', 'UPDATE', 'DELETE']) {
      expect(
        hintsFromAdminEvent(
          admin({ operationType, resourceType: 'USER', resourcePath: 'users/u1' }),
        ),
      ).toEqual({ hints: [userHint('u1')] });
    }
  });

  it('reads paths with empty segments, as Keycloak records them for `POST users/`', () => {
    expect(
      hintsFromAdminEvent(admin({ operationType: 'CREATE', resourcePath: 'users//u1' })).hints,
    ).toEqual([userHint('u1')]);
    expect(
      hintsFromAdminEvent(admin({ operationType: 'CREATE', resourcePath: 'groups//g1/' })).hints,
    ).toEqual([groupHint('g1', false)]);
  });

  it('ignores user sub-resources such as a password reset', () => {
    const meaning = hintsFromAdminEvent(
      admin({
        operationType: 'ACTION',
        resourceType: 'USER',
        resourcePath: 'users/u1/reset-password',
      }),
    );
    expect(meaning.hints).toEqual([]);
    expect(meaning).toHaveProperty('ignored', 'user sub-resource users/u1/reset-password');
  });

  it('routes memberships to the user and group pair', () => {
    expect(
      hintsFromAdminEvent(
        admin({
          operationType: 'DELETE',
          resourceType: 'GROUP_MEMBERSHIP',
          resourcePath: 'users/u1/groups/g1',
        }),
      ),
    ).toEqual({ hints: [membershipHint('u1', 'g1')] });
  });

  it('treats a created top-level group as itself and a rename or delete as its subtree', () => {
    expect(
      hintsFromAdminEvent(admin({ operationType: 'CREATE', resourcePath: 'groups/g1' })).hints,
    ).toEqual([groupHint('g1', false)]);
    expect(
      hintsFromAdminEvent(admin({ operationType: 'UPDATE', resourcePath: 'groups/g1' })).hints,
    ).toEqual([groupHint('g1', true)]);
    expect(
      hintsFromAdminEvent(admin({ operationType: 'DELETE', resourcePath: 'groups/g1' })).hints,
    ).toEqual([groupHint('g1', true)]);
  });

  it('finds a created subgroup’s id in the representation only', () => {
    expect(
      hintsFromAdminEvent(
        admin({
          operationType: 'CREATE',
          resourcePath: 'groups/parent/children',
          representation: JSON.stringify({ id: 'child', name: 'c' }),
        }),
      ).hints,
    ).toEqual([groupHint('child', true)]);
  });

  it('falls back to the parent’s subtree when the representation is missing', () => {
    expect(
      hintsFromAdminEvent(
        admin({ operationType: 'CREATE', resourcePath: 'groups/parent/children' }),
      ).hints,
    ).toEqual([groupHint('parent', true)]);
  });

  it('routes a group moved to the top level by its representation', () => {
    expect(
      hintsFromAdminEvent(
        admin({ resourcePath: 'groups', representation: JSON.stringify({ id: 'moved' }) }),
      ).hints,
    ).toEqual([groupHint('moved', true)]);
  });

  it('ignores failed operations and resources it does not provision', () => {
    expect(hintsFromAdminEvent(admin({ resourcePath: 'users/u1', error: 'oops' })).hints).toEqual(
      [],
    );
    expect(
      hintsFromAdminEvent(admin({ resourceType: 'CLIENT', resourcePath: 'clients/c1' })).hints,
    ).toEqual([]);
  });

  it('names every bad field of a malformed event', () => {
    const result = adminEventSchema.safeParse({ time: 'yesterday', operationType: '' });
    expect(result.success).toBe(false);
    if (result.success) return;
    const message = describeParseError('admin event', result.error);
    expect(message).toMatch(/^malformed admin event: /);
    expect(message).toContain('time');
    expect(message).toContain('realmId');
    expect(message).toContain('operationType');
  });
});

describe('user events to hints', () => {
  const event = { time: 1, realmId: 'r', userId: 'u1' };

  it.each(['REGISTER', 'UPDATE_PROFILE', 'UPDATE_EMAIL', 'DELETE_ACCOUNT'])(
    'reconciles the user after %s',
    (type) => {
      expect(hintsFromUserEvent({ ...event, type })).toEqual({ hints: [userHint('u1')] });
    },
  );

  it('ignores logins, errors and events without a user', () => {
    expect(hintsFromUserEvent({ ...event, type: 'LOGIN' }).hints).toEqual([]);
    expect(hintsFromUserEvent({ ...event, type: 'REGISTER', error: 'invalid' }).hints).toEqual([]);
    expect(hintsFromUserEvent({ time: 1, realmId: 'r', type: 'REGISTER' }).hints).toEqual([]);
  });
});
