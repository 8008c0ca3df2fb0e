import { describe, expect, it } from 'vitest';
import { ScimError } from '../../packages/scim-server/src/errors.js';
import { parsePageRequest } from '../../packages/scim-server/src/paging.js';

describe('parsePageRequest', () => {
  it('defaults to the first page of the largest size', () => {
    expect(parsePageRequest(undefined, undefined, 100)).toEqual({ startIndex: 1, count: 100 });
  });

  it('reads query-string and JSON numbers alike', () => {
    expect(parsePageRequest('21', '10', 100)).toEqual({ startIndex: 21, count: 10 });
    expect(parsePageRequest(21, 10, 100)).toEqual({ startIndex: 21, count: 10 });
  });

  it('treats a startIndex below 1 as 1 and a negative count as 0 (RFC 7644 §3.4.2.4)', () => {
    expect(parsePageRequest('0', '-5', 100)).toEqual({ startIndex: 1, count: 0 });
    expect(parsePageRequest(-3, 0, 100)).toEqual({ startIndex: 1, count: 0 });
  });

  it('caps count at the maximum page size', () => {
    expect(parsePageRequest(1, 5000, 100).count).toBe(100);
  });

  it.each([
    ['abc', undefined, 'startIndex'],
    [undefined, '1.5', 'count'],
    [true, undefined, 'startIndex'],
  ])('refuses startIndex=%s count=%s naming the parameter', (startIndex, count, name) => {
    let caught: unknown;
    try {
      parsePageRequest(startIndex, count, 100);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ScimError);
    expect(caught).toMatchObject({ status: 400, scimType: 'invalidValue' });
    expect((caught as ScimError).detail).toContain(name);
  });
});
