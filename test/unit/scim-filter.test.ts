import { describe, expect, it } from 'vitest';
import { and, eq } from '../../src/scim/filter.js';

describe('SCIM filter building', () => {
  it('quotes a plain value as a JSON string', () => {
    expect(eq('userName', 'alice')).toBe('userName eq "alice"');
  });

  it('escapes quotes and backslashes inside the value', () => {
    expect(eq('displayName', 'R&D "core" \\ team')).toBe(
      'displayName eq "R&D \\"core\\" \\\\ team"',
    );
  });

  it('escapes control characters so a value cannot end the expression', () => {
    expect(eq('userName', 'a\nb\u0001')).toBe('userName eq "a\\nb\\u0001"');
  });

  it('keeps non-ASCII characters as they are; URL encoding happens later', () => {
    expect(eq('userName', 'zoë@exämple.org')).toBe('userName eq "zoë@exämple.org"');
  });

  it('accepts a sub-attribute path', () => {
    expect(eq('name.familyName', 'Doe')).toBe('name.familyName eq "Doe"');
  });

  it('refuses an attribute path that could inject an expression', () => {
    expect(() => eq('userName eq "x" or userName', 'y')).toThrow(/not a SCIM attribute path/);
  });

  it('joins filters with and, each parenthesised', () => {
    expect(and(eq('userName', 'a'), eq('externalId', 'b'))).toBe(
      '(userName eq "a") and (externalId eq "b")',
    );
  });

  it('leaves a single filter as it is', () => {
    expect(and(eq('userName', 'a'))).toBe('userName eq "a"');
  });
});
