import { describe, expect, it } from 'vitest';
import { etagMatches, preconditionFailed, weakEtag } from '../../packages/scim-server/src/etag.js';

describe('weakEtag', () => {
  it('renders a version as a weak entity tag', () => {
    expect(weakEtag(1)).toBe('W/"1"');
    expect(weakEtag(42)).toBe('W/"42"');
  });
});

describe('etagMatches', () => {
  it.each([
    ['W/"3"', true],
    ['"3"', true],
    [' W/"3" ', true],
    ['*', true],
    ['W/"1", W/"3"', true],
    ['"2",*', true],
    ['W/"4"', false],
    ['W/"33"', false],
    ['3', false],
    ['W/3', false],
    ['', false],
  ])('compares %j weakly with version 3: %s', (header, expected) => {
    expect(etagMatches(header, 3)).toBe(expected);
  });
});

describe('preconditionFailed', () => {
  it('is a 412 without scimType that names both versions', () => {
    const error = preconditionFailed('Group "g1"', 'W/"1"', 2);
    expect(error.status).toBe(412);
    expect(error.scimType).toBeUndefined();
    expect(error.detail).toBe(
      'Group "g1" has changed: If-Match W/"1" does not match its version W/"2"',
    );
  });
});
