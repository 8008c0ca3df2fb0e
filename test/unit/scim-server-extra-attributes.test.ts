import { describe, expect, it } from 'vitest';
import { ScimError } from '../../packages/scim-server/src/errors.js';
import {
  extraAttributesOf,
  isKeptElsewhere,
} from '../../packages/scim-server/src/extra-attributes.js';
import {
  applyUserPatch,
  applyUserPatchKeepingExtras,
  parsePatchRequest,
  type PatchOperation,
} from '../../packages/scim-server/src/patch.js';
import type { ExtraAttributes, UserAttributes } from '../../packages/scim-server/src/records.js';

const PATCH_URN = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const USER_URN = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE_URN = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

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
  emails: [{ value: 'alice@example.org', primary: true }],
  active: true,
};

const extra: ExtraAttributes = {
  title: 'CTO',
  phoneNumbers: [{ value: '+1 555', type: 'work' }],
  name: { formatted: 'Alice Liddell' },
  [ENTERPRISE_URN]: { department: 'R&D' },
};

describe('extraAttributesOf', () => {
  it('keeps every attribute the known parser leaves, as spelled, and the rest of name', () => {
    expect(
      extraAttributesOf({
        schemas: [USER_URN],
        id: 'ignored',
        meta: { version: 'x' },
        userName: 'alice',
        externalId: 'kc-1',
        active: true,
        emails: [],
        groups: [{ value: 'g' }],
        name: { givenName: 'Alice', FamilyName: 'L', formatted: 'Alice L', middleName: null },
        title: 'CTO',
        nickName: 'al',
        phoneNumbers: [{ value: '1' }],
        [ENTERPRISE_URN]: { department: 'R&D' },
      }),
    ).toEqual({
      name: { formatted: 'Alice L' },
      title: 'CTO',
      nickName: 'al',
      phoneNumbers: [{ value: '1' }],
      [ENTERPRISE_URN]: { department: 'R&D' },
    });
  });

  it('drops null values, core-schema qualified known attributes and a core container', () => {
    expect(
      extraAttributesOf({
        title: null,
        [`${USER_URN}:userName`]: 'alice',
        [`${USER_URN}:displayName`]: 'Alice',
        [USER_URN]: { userName: 'x' },
        name: { givenName: 'Alice' },
      }),
    ).toEqual({ displayName: 'Alice' });
  });

  it('keeps one key per attribute whatever its spelling: the last one sent', () => {
    expect(extraAttributesOf({ title: 'a', Title: 'b' })).toEqual({ Title: 'b' });
  });
});

describe('isKeptElsewhere', () => {
  it('names the attributes that are not extra ones', () => {
    expect(isKeptElsewhere('UserName')).toBe(true);
    expect(isKeptElsewhere(`${USER_URN}:emails`)).toBe(true);
    expect(isKeptElsewhere('title')).toBe(false);
    expect(isKeptElsewhere('name')).toBe(false);
  });
});

describe('applyUserPatchKeepingExtras', () => {
  it('replaces, adds and removes a simple extra attribute, keeping its first spelling', () => {
    const result = applyUserPatchKeepingExtras(
      alice,
      extra,
      ops(
        { op: 'replace', path: 'TITLE', value: 'CEO' },
        { op: 'add', path: 'nickName', value: 'al' },
        { op: 'remove', path: `${USER_URN}:phoneNumbers` },
      ),
    );
    expect(result.attributes).toEqual(alice);
    expect(result.extra).toEqual({
      title: 'CEO',
      name: { formatted: 'Alice Liddell' },
      [ENTERPRISE_URN]: { department: 'R&D' },
      nickName: 'al',
    });
  });

  it('appends to a multi-valued attribute on add, without duplicates, and replaces on replace', () => {
    const added = applyUserPatchKeepingExtras(
      alice,
      extra,
      ops({
        op: 'add',
        path: 'phoneNumbers',
        value: [
          { value: '+1 555', type: 'work' },
          { value: '+1 777', type: 'home' },
        ],
      }),
    );
    expect(added.extra['phoneNumbers']).toEqual([
      { value: '+1 555', type: 'work' },
      { value: '+1 777', type: 'home' },
    ]);
    const replaced = applyUserPatchKeepingExtras(
      alice,
      extra,
      ops({ op: 'replace', path: 'phoneNumbers', value: [{ value: '0' }] }),
    );
    expect(replaced.extra['phoneNumbers']).toEqual([{ value: '0' }]);
  });

  it('changes sub-attributes of name beside the ones Kestra keeps', () => {
    const result = applyUserPatchKeepingExtras(
      alice,
      extra,
      ops(
        { op: 'replace', path: 'name.formatted', value: 'A. Liddell' },
        { op: 'add', path: 'name.middleName', value: 'P' },
        { op: 'replace', path: 'name.givenName', value: 'Al' },
      ),
    );
    expect(result.attributes).toEqual({ ...alice, givenName: 'Al' });
    expect(result.extra['name']).toEqual({ formatted: 'A. Liddell', middleName: 'P' });
  });

  it('merges a name value and clears all of name on remove', () => {
    const merged = applyUserPatchKeepingExtras(
      alice,
      extra,
      ops({ op: 'replace', path: 'Name', value: { familyName: 'L', honorificPrefix: 'Ms' } }),
    );
    expect(merged.attributes).toEqual({ ...alice, familyName: 'L' });
    expect(merged.extra['name']).toEqual({ formatted: 'Alice Liddell', honorificPrefix: 'Ms' });
    const removed = applyUserPatchKeepingExtras(alice, extra, ops({ op: 'remove', path: 'name' }));
    expect(removed.attributes).toMatchObject({ givenName: undefined, familyName: undefined });
    expect(removed.extra).not.toHaveProperty('name');
  });

  it('changes a sub-attribute of a complex extra and drops the attribute once empty', () => {
    const withAddress = { ...extra, manager: { value: 'm1', displayName: 'Bob' } };
    const changed = applyUserPatchKeepingExtras(
      alice,
      withAddress,
      ops({ op: 'replace', path: 'manager.displayName', value: 'Robert' }),
    );
    expect(changed.extra['manager']).toEqual({ value: 'm1', displayName: 'Robert' });
    const emptied = applyUserPatchKeepingExtras(
      alice,
      { manager: { value: 'm1' } },
      ops({ op: 'remove', path: 'manager.value' }),
    );
    expect(emptied.extra).toEqual({});
  });

  it('writes extension attributes into their container, by path or by a no-path value', () => {
    const byPath = applyUserPatchKeepingExtras(
      alice,
      extra,
      ops(
        { op: 'replace', path: `${ENTERPRISE_URN}:department`, value: 'Ops' },
        { op: 'add', path: `${ENTERPRISE_URN}:manager.value`, value: 'm1' },
      ),
    );
    expect(byPath.extra[ENTERPRISE_URN]).toEqual({ department: 'Ops', manager: { value: 'm1' } });
    const byValue = applyUserPatchKeepingExtras(
      alice,
      extra,
      ops({ op: 'replace', value: { [ENTERPRISE_URN]: { costCenter: '7' }, title: 'CEO' } }),
    );
    expect(byValue.extra[ENTERPRISE_URN]).toEqual({ department: 'R&D', costCenter: '7' });
    expect(byValue.extra['title']).toBe('CEO');
    const removed = applyUserPatchKeepingExtras(
      alice,
      extra,
      ops({ op: 'remove', path: `${ENTERPRISE_URN}:department` }),
    );
    expect(removed.extra).not.toHaveProperty(ENTERPRISE_URN);
  });

  it('never changes the extra attributes it was given', () => {
    const frozen = structuredClone(extra);
    applyUserPatchKeepingExtras(
      alice,
      extra,
      ops(
        { op: 'replace', path: 'name.formatted', value: 'x' },
        { op: 'add', path: 'phoneNumbers', value: [{ value: '2' }] },
        { op: 'replace', path: `${ENTERPRISE_URN}:department`, value: 'x' },
      ),
    );
    expect(extra).toEqual(frozen);
  });

  it.each([
    [{ op: 'replace', path: 'phoneNumbers[type eq "work"].value', value: '1' }, 'value filters'],
    [{ op: 'replace', path: 'phoneNumbers.value', value: '1' }, 'multi-valued'],
    [{ op: 'replace', path: 'title.value', value: '1' }, 'not a complex attribute'],
  ])('refuses a path it cannot apply faithfully (%j)', (operation, why) => {
    const error = refusal(() => applyUserPatchKeepingExtras(alice, extra, ops(operation)));
    expect(error).toMatchObject({ status: 400, scimType: 'invalidPath' });
    expect(error.detail).toContain(why);
  });

  it('keeps the rules of the known attributes, e.g. a required userName', () => {
    const error = refusal(() =>
      applyUserPatchKeepingExtras(alice, extra, ops({ op: 'remove', path: 'userName' })),
    );
    expect(error).toMatchObject({ status: 400, scimType: 'invalidValue' });
  });

  it('leaves the kestra patch ignoring the same operations', () => {
    expect(
      applyUserPatch(
        alice,
        ops(
          { op: 'replace', path: 'title', value: 'CEO' },
          { op: 'replace', path: `${ENTERPRISE_URN}:userName`, value: 'x' },
          { op: 'replace', value: { [ENTERPRISE_URN]: { userName: 'y' } } },
        ),
      ),
    ).toEqual(alice);
  });
});
