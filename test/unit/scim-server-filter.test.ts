import { describe, expect, it } from 'vitest';
import { ScimError } from '../../packages/scim-server/src/errors.js';
import { parseFilter } from '../../packages/scim-server/src/filter.js';

const USER_ATTRIBUTES = ['id', 'userName', 'externalId'] as const;
const USER_URN = 'urn:ietf:params:scim:schemas:core:2.0:User';

function parse(text: string) {
  return parseFilter(text, USER_ATTRIBUTES, USER_URN);
}

function refusal(text: string): ScimError {
  try {
    parse(text);
  } catch (error) {
    if (error instanceof ScimError) return error;
    throw error;
  }
  throw new Error(`filter ${text} was accepted`);
}

describe('parseFilter', () => {
  it('reads one eq comparison', () => {
    expect(parse('userName eq "alice"')).toEqual([{ attribute: 'userName', value: 'alice' }]);
  });

  it('reads comparisons joined by and, in order', () => {
    expect(parse('userName eq "a" and externalId eq "X-1"')).toEqual([
      { attribute: 'userName', value: 'a' },
      { attribute: 'externalId', value: 'X-1' },
    ]);
  });

  it('matches attribute names and keywords case-insensitively and returns canonical names', () => {
    expect(parse('USERNAME EQ "a" AND externalid Eq "b"')).toEqual([
      { attribute: 'userName', value: 'a' },
      { attribute: 'externalId', value: 'b' },
    ]);
  });

  it('accepts the attribute qualified with its schema URN', () => {
    expect(parse(`${USER_URN}:userName eq "a"`)).toEqual([{ attribute: 'userName', value: 'a' }]);
  });

  it('unescapes JSON string escapes in values', () => {
    expect(parse('userName eq "say \\"hi\\""')[0]?.value).toBe('say "hi"');
    expect(parse('userName eq "back\\\\slash"')[0]?.value).toBe('back\\slash');
    expect(parse('userName eq "\\u00e9t\\u00e9"')[0]?.value).toBe('été');
    expect(parse('userName eq "a and b eq \\"c\\""')[0]?.value).toBe('a and b eq "c"');
  });

  it('keeps the value case and inner spaces as sent', () => {
    expect(parse('externalId eq "  Mixed Case  "')[0]?.value).toBe('  Mixed Case  ');
  });

  it('tolerates extra spaces between tokens', () => {
    expect(parse('  userName   eq   "a"   and  id eq "1"  ')).toHaveLength(2);
  });

  it.each([
    ['userName ne "a"', 'operator "ne" is not supported'],
    ['userName sw "a"', 'operator "sw" is not supported'],
    ['userName pr', 'operator "pr" is not supported'],
    ['userName eq "a" or userName eq "b"', '"or" operator is not supported'],
    ['not (userName eq "a")', '"not" operator is not supported'],
    ['(userName eq "a")', 'parentheses'],
    ['emails[type eq "work"]', 'complex attribute filter'],
    ['emails.value eq "a@b.c"', 'filtering on "emails.value" is not supported'],
    ['displayName eq "a"', 'filtering on "displayName" is not supported'],
    ['userName eq alice', 'must be a quoted string'],
    ['userName eq true', 'must be a quoted string'],
    ['userName eq "open', 'no closing quote'],
    ['userName eq "bad \\q escape"', 'invalid escape'],
    ['userName eq "a" userName eq "b"', 'expected "and"'],
    ['userName eq "a" and', 'expected a comparison after "and"'],
    ['userName', 'expected an operator'],
    ['userName foo "a"', 'expected the operator "eq"'],
    ['', 'expected an attribute name'],
  ])('refuses %s with invalidFilter', (text, detail) => {
    const error = refusal(text);
    expect(error.status).toBe(400);
    expect(error.scimType).toBe('invalidFilter');
    expect(error.detail).toContain(detail);
  });

  it('names the supported attributes when the attribute is not one of them', () => {
    expect(refusal('title eq "x"').detail).toContain('id, userName, externalId');
  });
});
