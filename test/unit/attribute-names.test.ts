import { describe, expect, it } from 'vitest';
import { canonicalAttributeNames } from '../../src/scim/attribute-names.js';

describe('SCIM attribute names, read case-insensitively (RFC 7643 §2.1)', () => {
  it('spells every known name canonically, at any depth', () => {
    expect(
      canonicalAttributeNames({
        TOTALRESULTS: 1,
        resources: [
          {
            ID: 'u1',
            username: 'ada',
            EXTERNALID: 'kc-1',
            Name: { GivenName: 'Ada', familyname: 'Lovelace' },
            Emails: [{ VALUE: 'a@example.test', Primary: true }],
            META: { Version: 'W/"2"' },
          },
        ],
      }),
    ).toEqual({
      totalResults: 1,
      Resources: [
        {
          id: 'u1',
          userName: 'ada',
          externalId: 'kc-1',
          name: { givenName: 'Ada', familyName: 'Lovelace' },
          emails: [{ value: 'a@example.test', primary: true }],
          meta: { version: 'W/"2"' },
        },
      ],
    });
  });

  it('keeps unknown names, schema-qualified ones and every value as sent', () => {
    const extension = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
    expect(
      canonicalAttributeNames({ Department: 'R&D', [extension]: { MANAGER: 'x' }, schemas: ['A'] }),
    ).toEqual({ Department: 'R&D', [extension]: { MANAGER: 'x' }, schemas: ['A'] });
  });
});
