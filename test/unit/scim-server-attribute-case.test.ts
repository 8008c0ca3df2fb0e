import { describe, expect, it } from 'vitest';
import { spellAttributes } from '../../packages/scim-server/src/attribute-case.js';

const USER_URN = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE_URN = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

const list = {
  schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
  totalResults: 1,
  itemsPerPage: 1,
  startIndex: 1,
  Resources: [
    {
      schemas: [USER_URN, ENTERPRISE_URN],
      id: 'u1',
      userName: 'Alice',
      name: { givenName: 'Alice', familyName: 'Liddell' },
      emails: [{ value: 'Alice@Example.org', primary: true }],
      [ENTERPRISE_URN]: { employeeNumber: 'E-1', manager: { displayName: 'Bob' } },
      meta: { resourceType: 'User', lastModified: 'T' },
    },
  ],
};

describe('spellAttributes', () => {
  it('leaves a body as it is in canonical case', () => {
    expect(spellAttributes(list, 'canonical')).toBe(list);
  });

  it('lower-cases every attribute name at every depth, and no value', () => {
    expect(spellAttributes(list, 'lower')).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
      totalresults: 1,
      itemsperpage: 1,
      startindex: 1,
      resources: [
        {
          schemas: [USER_URN, ENTERPRISE_URN],
          id: 'u1',
          username: 'Alice',
          name: { givenname: 'Alice', familyname: 'Liddell' },
          emails: [{ value: 'Alice@Example.org', primary: true }],
          [ENTERPRISE_URN]: { employeenumber: 'E-1', manager: { displayname: 'Bob' } },
          meta: { resourcetype: 'User', lastmodified: 'T' },
        },
      ],
    });
  });

  it('keeps scalars and null as they are', () => {
    expect(spellAttributes('Text', 'lower')).toBe('Text');
    expect(spellAttributes(null, 'lower')).toBeNull();
    expect(spellAttributes([1, 'A'], 'lower')).toEqual([1, 'A']);
  });
});
