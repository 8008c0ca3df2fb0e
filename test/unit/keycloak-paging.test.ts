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

  it('keeps `ahead` further pages asked for while one is read, and yields them in order', async () => {
    const items = Array.from({ length: 23 }, (_, index) => index);
    let inFlight = 0;
    let mostInFlight = 0;
    const requests: number[] = [];
    const read = await collect(
      paged(
        async (first, max) => {
          requests.push(first);
          inFlight += 1;
          mostInFlight = Math.max(mostInFlight, inFlight);
          // Later pages answer first: the order must come from the positions, not the answers.
          await new Promise((resolve) => setTimeout(resolve, 20 - first / 2));
          inFlight -= 1;
          return items.slice(first, first + max);
        },
        5,
        0,
        2,
      ),
    );
    expect(read).toEqual(items);
    expect(mostInFlight).toBe(3);
    // Pages 0 to 20 hold items; 25 and 30 were asked for ahead and are dropped.
    expect(requests).toEqual([0, 5, 10, 15, 20, 25, 30]);
  });

  it('fails with a page asked for ahead only when that page is read', async () => {
    const read: number[] = [];
    const listing = paged(
      (first, max) =>
        first === 10
          ? Promise.reject(new Error('page at 10 refused'))
          : Promise.resolve(Array.from({ length: max }, (_, index) => first + index)),
      5,
      0,
      2,
    );
    await expect(
      (async () => {
        for await (const item of listing) read.push(item);
      })(),
    ).rejects.toThrow('page at 10 refused');
    expect(read).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('leaves no unhandled rejection behind when a listing is abandoned with pages ahead', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      for await (const item of paged(
        (first, max) =>
          first === 0
            ? Promise.resolve(Array.from({ length: max }, (_, index) => index))
            : Promise.reject(new Error(`page at ${first} refused`)),
        5,
        0,
        3,
      )) {
        if (item === 1) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('rejects a page size that is not a positive integer', async () => {
    await expect(collect(paged(() => Promise.resolve([]), 1.5))).rejects.toThrow(RangeError);
  });
});
