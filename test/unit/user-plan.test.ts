import { describe, expect, it } from 'vitest';
import type { KeycloakUser } from '../../src/domain/keycloak-model.js';
import type { Holder } from '../../src/domain/ownership.js';
import type { ScimUserView } from '../../src/domain/scim-views.js';
import { planUser, type UserFacts, type UserPlanOptions } from '../../src/domain/user-plan.js';

const options: UserPlanOptions = {
  mapping: { usernameSource: 'username', groupNameSource: 'path' },
  userDeleteMode: 'delete',
};
const ada: KeycloakUser = {
  id: 'kc-ada',
  username: 'ada',
  email: 'ada@example.test',
  enabled: true,
};
const twinOf = (user: KeycloakUser, extra: Partial<ScimUserView> = {}): ScimUserView => ({
  id: 's-ada',
  userName: user.username,
  externalId: user.id,
  emails: [{ value: user.email ?? '', type: 'work', primary: true }],
  active: user.enabled,
  ...extra,
});
const facts = (parts: Partial<UserFacts>): UserFacts => ({
  keycloakId: 'kc-ada',
  user: ada,
  outOfScope: undefined,
  twin: undefined,
  twinFoundBy: undefined,
  holder: undefined,
  ...parts,
});
const holder = (parts: Partial<Holder<ScimUserView>>): Holder<ScimUserView> => ({
  resource: { id: 's-other', userName: 'ada', externalId: 'kc-other', version: 'W/"4"' },
  owner: 'kc-other',
  ownerLive: true,
  ownersTwin: true,
  ownerWants: 'other',
  ...parts,
});

describe('the decision about one user', () => {
  it('creates a user with no twin and a free name', () => {
    expect(planUser(facts({}), options)).toMatchObject({
      op: 'create',
      desired: { userName: 'ada', externalId: 'kc-ada', active: true },
    });
  });

  it('writes nothing to a twin that says it all, and relinks one found without the id map', () => {
    expect(planUser(facts({ twin: twinOf(ada), twinFoundBy: 'id map' }), options)).toEqual({
      op: 'none',
      keycloakId: 'kc-ada',
      provisioned: true,
      scimId: 's-ada',
      userName: 'ada',
      relink: false,
    });
    expect(
      planUser(facts({ twin: twinOf(ada), twinFoundBy: 'externalId' }), options),
    ).toMatchObject({ op: 'none', relink: true });
  });

  it('PATCHes only the owned attributes that differ, and removes a cleared name', () => {
    const twin = twinOf(ada, { name: { givenName: 'Old', familyName: 'Name' }, active: false });
    const decision = planUser(
      facts({ user: { ...ada, firstName: 'Ada' }, twin, twinFoundBy: 'id map' }),
      options,
    );
    expect(decision).toMatchObject({
      op: 'update',
      scimId: 's-ada',
      adopted: undefined,
      changes: [
        { op: 'replace', path: 'name.givenName', value: 'Ada' },
        { op: 'remove', path: 'name.familyName' },
        { op: 'replace', path: 'active', value: true },
      ],
    });
  });

  it('adopts a resource holding its name that nobody owns, or that a deleted user left', () => {
    for (const left of [holder({ owner: undefined }), holder({ ownerLive: false })]) {
      expect(planUser(facts({ holder: left }), options)).toMatchObject({
        op: 'update',
        scimId: 's-other',
        adopted: { foundBy: 'name', version: 'W/"4"' },
        changes: expect.arrayContaining([
          { op: 'replace', path: 'externalId', value: 'kc-ada' },
        ]) as unknown,
      });
    }
  });

  it('waits for a live owner renaming its twin away, moving its own twin aside for a swap', () => {
    expect(planUser(facts({ holder: holder({}) }), options)).toMatchObject({
      op: 'wait',
      owner: 'kc-other',
      moveAside: undefined,
    });
    const twin = twinOf(ada, { userName: 'previous' });
    expect(
      planUser(facts({ twin, twinFoundBy: 'id map', holder: holder({}) }), options),
    ).toMatchObject({
      op: 'wait',
      moveAside: {
        scimId: 's-ada',
        name: 'renaming-kc-ada',
        changes: [{ op: 'replace', path: 'userName', value: 'renaming-kc-ada' }],
      },
    });
  });

  it('refuses a name a live user keeps, moving its own stale twin out of the way', () => {
    const twin = twinOf(ada, { userName: 'previous' });
    expect(
      planUser(
        facts({ twin, twinFoundBy: 'id map', holder: holder({ ownerWants: 'ADA' }) }),
        options,
      ),
    ).toMatchObject({
      op: 'problem',
      reason: expect.stringContaining('already belongs to Keycloak user kc-other') as unknown,
      moveAside: { scimId: 's-ada' },
    });
  });

  it('with a twin of its own, waits for a deleted user’s leftover to be deleted, or names it', () => {
    const twin = twinOf(ada, { userName: 'previous' });
    const left = holder({ ownerLive: false });
    expect(planUser(facts({ twin, twinFoundBy: 'id map', holder: left }), options)).toMatchObject({
      op: 'wait',
      owner: 'kc-other',
    });
    expect(
      planUser(facts({ twin, twinFoundBy: 'id map', holder: left }), {
        ...options,
        userDeleteMode: 'deactivate',
      }),
    ).toMatchObject({
      op: 'problem',
      reason: expect.stringContaining(
        'left deactivated by deleted Keycloak user kc-other',
      ) as unknown,
    });
  });

  it('deprovisions the twin of a user that is gone, out of scope, a service account or unmappable', () => {
    const twin = twinOf(ada);
    const cases: [Partial<UserFacts>, string][] = [
      [{ user: undefined }, 'gone from Keycloak'],
      [{ outOfScope: 'outside SCOPE_GROUPS' }, 'outside SCOPE_GROUPS'],
      [{ user: { ...ada, serviceAccountClientId: 'ci' } }, 'service account of client ci'],
      [{ user: { ...ada, username: ' ' } }, 'has no username'],
    ];
    for (const [parts, reason] of cases) {
      expect(planUser(facts({ twin, twinFoundBy: 'id map', ...parts }), options)).toMatchObject({
        op: 'deprovision',
        scimId: 's-ada',
        how: 'delete',
        reason: expect.stringContaining(reason) as unknown,
      });
    }
  });

  it('deactivates instead when so configured, once', () => {
    const deactivate = { ...options, userDeleteMode: 'deactivate' as const };
    expect(planUser(facts({ user: undefined, twin: twinOf(ada) }), deactivate)).toMatchObject({
      op: 'deprovision',
      how: 'deactivate',
    });
    expect(
      planUser(facts({ user: undefined, twin: twinOf(ada, { active: false }) }), deactivate),
    ).toMatchObject({ op: 'none', provisioned: false, scimId: 's-ada' });
  });

  it('names a user it cannot map and has no twin for', () => {
    expect(
      planUser(facts({ user: { ...ada, email: undefined } }), {
        ...options,
        mapping: { usernameSource: 'email', groupNameSource: 'path' },
      }),
    ).toMatchObject({ op: 'problem', reason: expect.stringContaining('has no email') as unknown });
  });
});
