import { describe, expect, it } from 'vitest';
import { ScimError } from '../../packages/scim-server/src/errors.js';
import {
  applyGroupPatch,
  applyUserPatch,
  parsePatchRequest,
  type PatchOperation,
} from '../../packages/scim-server/src/patch.js';
import type { GroupAttributes, UserAttributes } from '../../packages/scim-server/src/records.js';

const PATCH_URN = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const USER_URN = 'urn:ietf:params:scim:schemas:core:2.0:User';

function ops(...operations: unknown[]): PatchOperation[] {
  return parsePatchRequest({ schemas: [PATCH_URN], Operations: operations });
}

function refusal(run: () => unknown): ScimError {
  try {
    run();
  } catch (error) {
    if (error instanceof ScimError) return error;
    throw error;
  }
  throw new Error('the operation was accepted');
}

const alice: UserAttributes = {
  userName: 'alice',
  externalId: 'kc-1',
  givenName: 'Alice',
  familyName: 'Liddell',
  emails: [{ value: 'alice@example.org', type: 'work', primary: true }],
  active: true,
};

const ops1: GroupAttributes = { displayName: 'Ops', externalId: undefined };

describe('parsePatchRequest', () => {
  it('accepts op names in any case', () => {
    const parsed = ops(
      { op: 'Add', path: 'active', value: true },
      { op: 'REPLACE', path: 'active', value: false },
      { op: 'remove', path: 'externalId' },
    );
    expect(parsed.map((o) => o.op)).toEqual(['add', 'replace', 'remove']);
  });

  it.each([
    [{ Operations: [{ op: 'add', path: 'a', value: 1 }] }, 'invalidSyntax', 'schemas'],
    [{ schemas: [PATCH_URN], Operations: [] }, 'invalidSyntax', 'Operations'],
    [{ schemas: [PATCH_URN] }, 'invalidSyntax', 'Operations'],
    [{ schemas: [PATCH_URN], Operations: [{ op: 'move', path: 'a' }] }, 'invalidSyntax', '.op'],
    [{ schemas: [PATCH_URN], Operations: [{ op: 'remove' }] }, 'noTarget', 'needs a path'],
    [{ schemas: [PATCH_URN], Operations: [{ op: 'add', path: 'a' }] }, 'invalidValue', 'value'],
    [
      { schemas: [PATCH_URN], Operations: [{ op: 'add', path: 5, value: 1 }] },
      'invalidPath',
      'path',
    ],
    ['not an object', 'invalidSyntax', 'JSON object'],
  ])('refuses a malformed request (%j)', (body, scimType, detail) => {
    const error = refusal(() => parsePatchRequest(body));
    expect(error.status).toBe(400);
    expect(error.scimType).toBe(scimType);
    expect(error.detail).toContain(detail);
  });

  it.each([
    { op: 'replace', path: 'password', value: 'x' },
    { op: 'replace', path: `${USER_URN}:password`, value: 'x' },
    { op: 'replace', value: { active: true, password: 'x' } },
    { op: 'add', value: { PassWord: 'x' } },
  ])('refuses any operation carrying a password (%j)', (operation) => {
    const error = refusal(() => ops(operation));
    expect(error).toMatchObject({ status: 400, scimType: 'invalidValue' });
    expect(error.detail).toContain('password');
  });

  it('refuses a password nested in the core schema namespace when applied', () => {
    const parsed = ops({ op: 'replace', value: { [USER_URN]: { password: 'x' } } });
    expect(refusal(() => applyUserPatch(alice, parsed)).detail).toContain('password');
  });
});

describe('applyUserPatch', () => {
  it('applies operations in order', () => {
    const result = applyUserPatch(
      alice,
      ops(
        { op: 'replace', path: 'userName', value: 'first' },
        { op: 'replace', path: 'userName', value: 'second' },
      ),
    );
    expect(result.userName).toBe('second');
  });

  it('sets and removes simple attributes, with paths in any case or URN-qualified', () => {
    const result = applyUserPatch(
      alice,
      ops(
        { op: 'replace', path: 'ACTIVE', value: false },
        { op: 'remove', path: `${USER_URN}:externalId` },
        { op: 'replace', path: 'name.givenName', value: 'Al' },
        { op: 'remove', path: 'name.familyName' },
      ),
    );
    expect(result).toMatchObject({
      active: false,
      externalId: undefined,
      givenName: 'Al',
      familyName: undefined,
    });
  });

  it('replaces with an object value when there is no path, merging name', () => {
    const result = applyUserPatch(
      alice,
      ops({ op: 'replace', value: { active: false, name: { familyName: 'L.' }, userName: 'al' } }),
    );
    expect(result).toMatchObject({
      active: false,
      userName: 'al',
      givenName: 'Alice',
      familyName: 'L.',
    });
  });

  it('ignores attributes Kestra does not keep and extension namespaces', () => {
    const result = applyUserPatch(
      alice,
      ops(
        { op: 'replace', path: 'displayName', value: 'A. Liddell' },
        { op: 'add', path: 'phoneNumbers', value: [{ value: '1' }] },
        { op: 'replace', path: 'name.formatted', value: 'x' },
        {
          op: 'replace',
          path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department',
          value: 'x',
        },
        { op: 'replace', value: { nickName: 'al', active: false } },
      ),
    );
    expect(result).toEqual({ ...alice, active: false });
  });

  it('adds an email, demoting the old primary, and replaces or removes the whole list', () => {
    const added = applyUserPatch(
      alice,
      ops({ op: 'add', path: 'emails', value: [{ value: 'new@example.org', primary: true }] }),
    );
    expect(added.emails).toEqual([
      { value: 'alice@example.org', type: 'work', primary: false },
      { value: 'new@example.org', primary: true },
    ]);
    const replaced = applyUserPatch(
      alice,
      ops({ op: 'replace', path: 'emails', value: [{ value: 'only@example.org' }] }),
    );
    expect(replaced.emails).toEqual([{ value: 'only@example.org' }]);
    expect(applyUserPatch(alice, ops({ op: 'remove', path: 'emails' })).emails).toEqual([]);
  });

  it('leaves the original untouched and throws when a later operation fails (atomic)', () => {
    const before = structuredClone(alice);
    const error = refusal(() =>
      applyUserPatch(
        alice,
        ops(
          { op: 'replace', path: 'userName', value: 'changed' },
          { op: 'replace', path: 'active', value: 'yes' },
        ),
      ),
    );
    expect(error).toMatchObject({ status: 400, scimType: 'invalidValue' });
    expect(error.detail).toContain('active');
    expect(alice).toEqual(before);
  });

  it.each([
    [{ op: 'remove', path: 'userName' }, 'invalidValue', 'cannot be removed'],
    [{ op: 'remove', path: 'active' }, 'invalidValue', 'cannot be removed'],
    [{ op: 'replace', path: 'userName', value: '  ' }, 'invalidValue', 'userName'],
    [{ op: 'replace', path: 'id', value: 'x' }, 'mutability', 'read-only'],
    [{ op: 'add', path: 'groups', value: [{ value: 'g' }] }, 'mutability', 'read-only'],
    [{ op: 'replace', path: 'emails[type eq "work"].value', value: 'x' }, 'invalidPath', 'emails'],
    [{ op: 'replace', path: 'user name', value: 'x' }, 'invalidPath', 'not a valid'],
    [{ op: 'replace', value: 'x' }, 'invalidValue', 'must be an object'],
    [{ op: 'add', path: 'emails', value: [{ type: 'work' }] }, 'invalidValue', 'emails[0].value'],
  ])('refuses %j', (operation, scimType, detail) => {
    const error = refusal(() => applyUserPatch(alice, ops(operation)));
    expect(error.scimType).toBe(scimType);
    expect(error.detail).toContain(detail);
  });
});

describe('applyGroupPatch', () => {
  const members = new Map<string, string | undefined>([
    ['u1', 'Alice'],
    ['u2', undefined],
  ]);

  it('adds members without duplicating those already there', () => {
    const { members: change } = applyGroupPatch(
      ops1,
      members,
      ops({ op: 'add', path: 'members', value: [{ value: 'u2' }, { value: 'u3', display: 'C' }] }),
    );
    expect(change.cleared).toBe(false);
    expect([...change.added]).toEqual([['u3', 'C']]);
    expect([...change.removed]).toEqual([]);
  });

  it('removes a member by a value filter path; a non-member is a no-op', () => {
    const { members: change } = applyGroupPatch(
      ops1,
      members,
      ops(
        { op: 'remove', path: 'members[value eq "u1"]' },
        { op: 'remove', path: 'members[value eq "nobody"]' },
      ),
    );
    expect([...change.removed]).toEqual(['u1']);
    expect(change.added.size).toBe(0);
  });

  it('removes listed members when remove carries a value, and all without one', () => {
    const listed = applyGroupPatch(
      ops1,
      members,
      ops({ op: 'remove', path: 'members', value: [{ value: 'u2' }] }),
    );
    expect([...listed.members.removed]).toEqual(['u2']);
    const all = applyGroupPatch(ops1, members, ops({ op: 'remove', path: 'members' }));
    expect(all.members.cleared).toBe(true);
  });

  it('replace clears then adds; a member removed then re-added is unchanged', () => {
    const replaced = applyGroupPatch(
      ops1,
      members,
      ops({ op: 'replace', path: 'members', value: [{ value: 'u2' }, { value: 'u9' }] }),
    );
    expect(replaced.members.cleared).toBe(true);
    expect([...replaced.members.added.keys()]).toEqual(['u2', 'u9']);
    const roundTrip = applyGroupPatch(
      ops1,
      members,
      ops(
        { op: 'remove', path: 'members[value eq "u1"]' },
        { op: 'add', path: 'members', value: [{ value: 'u1' }] },
      ),
    );
    expect(roundTrip.members.removed.size + roundTrip.members.added.size).toBe(0);
  });

  it('renames with a path or a no-path object (skipping read-only keys in it), input untouched', () => {
    const byPath = applyGroupPatch(
      ops1,
      members,
      ops({ op: 'replace', path: 'displayName', value: 'SRE' }),
    );
    expect(byPath.attributes.displayName).toBe('SRE');
    const byObject = applyGroupPatch(
      ops1,
      members,
      ops({ op: 'replace', value: { displayName: 'Ops 2', externalId: 'kc-g' } }),
    );
    expect(byObject.attributes).toEqual({ displayName: 'Ops 2', externalId: 'kc-g' });
    const withOwnId = applyGroupPatch(
      ops1,
      members,
      ops({ op: 'replace', value: { id: 'g1', schemas: [], displayName: 'Ops 3' } }),
    );
    expect(withOwnId.attributes.displayName).toBe('Ops 3');
    expect(ops1.displayName).toBe('Ops');
    expect([...members.keys()]).toEqual(['u1', 'u2']);
  });

  it.each([
    [{ op: 'add', path: 'members[value eq "u1"]', value: [{ value: 'u1' }] }, 'invalidPath'],
    [{ op: 'remove', path: 'members[display eq "Alice"]' }, 'invalidFilter'],
    [{ op: 'remove', path: 'members[value eq "a" or value eq "b"]' }, 'invalidFilter'],
    [{ op: 'remove', path: 'members.value' }, 'invalidPath'],
    [{ op: 'remove', path: 'displayName' }, 'invalidValue'],
    [{ op: 'add', path: 'members', value: [{ display: 'no id' }] }, 'invalidValue'],
    [{ op: 'add', path: 'members', value: 'u1' }, 'invalidValue'],
  ])('refuses %j', (operation, scimType) => {
    expect(refusal(() => applyGroupPatch(ops1, members, ops(operation))).scimType).toBe(scimType);
  });
});
