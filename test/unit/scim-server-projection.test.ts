import { describe, expect, it } from 'vitest';
import {
  FULL_PROJECTION,
  parseProjection,
  projectResource,
  wantsAttribute,
} from '../../packages/scim-server/src/attribute-projection.js';

const GROUP_URN = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const USER_URN = 'urn:ietf:params:scim:schemas:core:2.0:User';

const group = {
  schemas: [GROUP_URN],
  id: 'g1',
  displayName: 'Ops',
  members: [
    { value: 'u1', display: 'Alice' },
    { value: 'u2', display: 'Bob' },
  ],
  meta: { resourceType: 'Group' },
};

describe('attribute projection', () => {
  it('keeps everything when nothing is asked', () => {
    expect(projectResource(group, FULL_PROJECTION)).toEqual(group);
    expect(wantsAttribute(parseProjection(undefined, undefined, GROUP_URN), 'members')).toBe(true);
  });

  it('excludes members, case-insensitively', () => {
    const projection = parseProjection(undefined, 'MEMBERS', GROUP_URN);
    expect(wantsAttribute(projection, 'members')).toBe(false);
    expect(projectResource(group, projection)).toEqual({
      schemas: [GROUP_URN],
      id: 'g1',
      displayName: 'Ops',
      meta: { resourceType: 'Group' },
    });
  });

  it('returns only the asked attributes plus id and schemas', () => {
    const projection = parseProjection('displayName', undefined, GROUP_URN);
    expect(wantsAttribute(projection, 'members')).toBe(false);
    expect(wantsAttribute(projection, 'id')).toBe(true);
    expect(projectResource(group, projection)).toEqual({
      schemas: [GROUP_URN],
      id: 'g1',
      displayName: 'Ops',
    });
  });

  it('never drops id or schemas, even when excluded', () => {
    const projection = parseProjection(undefined, 'id,schemas,displayName', GROUP_URN);
    expect(projectResource(group, projection)).toEqual({
      schemas: [GROUP_URN],
      id: 'g1',
      members: group.members,
      meta: group.meta,
    });
  });

  it('selects and removes sub-attributes of complex and multi-valued attributes', () => {
    expect(projectResource(group, parseProjection('members.value', undefined, GROUP_URN))).toEqual({
      schemas: [GROUP_URN],
      id: 'g1',
      members: [{ value: 'u1' }, { value: 'u2' }],
    });
    const user = { schemas: [USER_URN], id: 'u1', name: { givenName: 'A', familyName: 'B' } };
    expect(projectResource(user, parseProjection(undefined, 'name.familyName', USER_URN))).toEqual({
      schemas: [USER_URN],
      id: 'u1',
      name: { givenName: 'A' },
    });
  });

  it('accepts URN-qualified names and the array form of a .search body', () => {
    const projection = parseProjection([`${GROUP_URN}:displayName`], undefined, GROUP_URN);
    expect(Object.keys(projectResource(group, projection))).toEqual([
      'schemas',
      'id',
      'displayName',
    ]);
  });

  it('refuses a parameter that is not a list of names', () => {
    expect(() => parseProjection(42, undefined, GROUP_URN)).toThrow(/attributes must be a list/);
    expect(() => parseProjection(undefined, [1], GROUP_URN)).toThrow(/excludedAttributes/);
  });
});
