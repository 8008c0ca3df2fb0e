import { describe, expect, it } from 'vitest';
import { nextStartIndex } from '../../src/scim/paging.js';

const page = (startIndex: number, count: number, totalResults: number) => ({
  startIndex,
  itemsPerPage: count,
  totalResults,
  Resources: Array.from({ length: count }, (_, i) => ({ id: String(startIndex + i) })),
});

describe('SCIM paging', () => {
  it('continues after the returned items while more remain', () => {
    expect(nextStartIndex(1, page(1, 10, 25))).toBe(11);
    expect(nextStartIndex(11, page(11, 10, 25))).toBe(21);
  });

  it('stops when startIndex + itemsPerPage passes totalResults', () => {
    expect(nextStartIndex(21, page(21, 5, 25))).toBeUndefined();
  });

  it('stops exactly at the last item when the total is a multiple of the page', () => {
    expect(nextStartIndex(11, page(11, 10, 20))).toBeUndefined();
  });

  it('follows what the server returned when it returns fewer than asked for', () => {
    expect(nextStartIndex(1, page(1, 3, 10))).toBe(4);
  });

  it('stops on an empty page even when totalResults claims more', () => {
    expect(nextStartIndex(1, { totalResults: 50, Resources: [] })).toBeUndefined();
    expect(nextStartIndex(1, { totalResults: 50 })).toBeUndefined();
  });

  it('uses the requested startIndex when the server omits it', () => {
    expect(nextStartIndex(5, { totalResults: 10, Resources: [{}, {}] })).toBe(7);
  });

  it('counts returned items, not an itemsPerPage that states the page size', () => {
    expect(
      nextStartIndex(1, {
        startIndex: 1,
        itemsPerPage: 100,
        totalResults: 150,
        Resources: [{}, {}],
      }),
    ).toBe(3);
  });
});
