import { describe, expect, it } from 'vitest';
import { paged } from '../../src/keycloak/paging.js';

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describe('paged', () => {
  it('asks page by page and stops after the first short page', async () => {
    const items = Array.from({ length: 23 }, (_, index) => index);
    const requests: [number, number][] = [];
    const read = await collect(
      paged((first, max) => {
        requests.push([first, max]);
        return Promise.resolve(items.slice(first, first + max));
      }, 7),
    );
    expect(read).toEqual(items);
    expect(requests).toEqual([
      [0, 7],
      [7, 7],
      [14, 7],
      [21, 7],
    ]);
  });

  it('needs one empty page to end a listing that is a multiple of the page size', async () => {
    const items = Array.from({ length: 14 }, (_, index) => index);
    let requests = 0;
    const read = await collect(
      paged((first, max) => {
        requests += 1;
        return Promise.resolve(items.slice(first, first + max));
      }, 7),
    );
    expect(read).toEqual(items);
    expect(requests).toBe(3);
  });

  it('fetches no further page than the consumer reads', async () => {
    let requests = 0;
    for await (const item of paged((first, max) => {
      requests += 1;
      return Promise.resolve(Array.from({ length: max }, (_, index) => first + index));
    }, 5)) {
      if (item === 2) break;
    }
    expect(requests).toBe(1);
  });

  it('rejects a page size that is not a positive integer', async () => {
    await expect(collect(paged(() => Promise.resolve([]), 1.5))).rejects.toThrow(RangeError);
  });
});
