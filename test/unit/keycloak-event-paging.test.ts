import { describe, expect, it } from 'vitest';
import { pagedEvents, pagingFieldsOf, type PagedEvent } from '../../src/keycloak/event-paging.js';
import { paged } from '../../src/keycloak/paging.js';

interface FakeEvent extends PagedEvent {
  path: string;
}

/** A small deterministic PRNG, so a failing shuffle can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * Keycloak's listing as observed: sorted by time (newest first) and nothing else, so rows of
 * the same millisecond come back in a different order on every query.
 */
function keycloakLikeTable(events: readonly FakeEvent[], seed: number) {
  const random = prng(seed);
  let requests = 0;
  return {
    fetchPage: (first: number, max: number): Promise<FakeEvent[]> => {
      requests += 1;
      const order = events
        .map((event) => ({ event, tieBreak: random() }))
        .sort((a, b) => b.event.time - a.event.time || a.tieBreak - b.tieBreak)
        .map(({ event }) => event);
      return Promise.resolve(order.slice(first, first + max));
    },
    requests: () => requests,
  };
}

/** `count` events whose times repeat in runs of 1..maxRun. */
function eventsWithRuns(count: number, maxRun: number, seed: number, withIds: boolean) {
  const random = prng(seed);
  const events: FakeEvent[] = [];
  let time = 1_700_000_000_000;
  while (events.length < count) {
    const run = 1 + Math.floor(random() * maxRun);
    for (let index = 0; index < run && events.length < count; index += 1) {
      const path = `users/${events.length}`;
      events.push(withIds ? { id: `id-${events.length}`, time, path } : { time, path });
    }
    time += 1 + Math.floor(random() * 3);
  }
  return events;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describe('pagedEvents', () => {
  it('plain first/max paging over such a table repeats and skips events (the problem)', async () => {
    const events = eventsWithRuns(120, 6, 1, true);
    let broken = 0;
    for (let seed = 0; seed < 20; seed += 1) {
      const read = await collect(paged(keycloakLikeTable(events, seed).fetchPage, 7));
      if (new Set(read.map((event) => event.path)).size !== events.length) broken += 1;
    }
    expect(broken).toBeGreaterThan(0);
  });

  for (const withIds of [true, false]) {
    it(`yields every event exactly once across page boundaries (${withIds ? 'with' : 'without'} ids)`, async () => {
      for (const pageSize of [1, 2, 3, 7, 10, 50]) {
        for (let seed = 0; seed < 15; seed += 1) {
          const events = eventsWithRuns(97, 12, seed, withIds);
          const read = await collect(
            pagedEvents(keycloakLikeTable(events, seed * 31 + pageSize).fetchPage, pageSize),
          );
          expect(read.map((event) => event.path).sort()).toEqual(
            events.map((event) => event.path).sort(),
          );
        }
      }
    });
  }

  it('handles a run longer than several pages', async () => {
    const events: FakeEvent[] = Array.from({ length: 40 }, (_, index) => ({
      id: `id-${index}`,
      time: index < 5 ? 2_000 + index : 1_000,
      path: `p${index}`,
    }));
    const read = await collect(pagedEvents(keycloakLikeTable(events, 9).fetchPage, 3));
    expect(read.map((event) => event.path).sort()).toEqual(
      events.map((event) => event.path).sort(),
    );
  });

  it('reads a table without runs with one request per page', async () => {
    const events = Array.from({ length: 20 }, (_, index) => ({
      time: 5_000 - index,
      path: `p${index}`,
    }));
    const table = keycloakLikeTable(events, 3);
    const read = await collect(pagedEvents(table.fetchPage, 7));
    expect(read.map((event) => event.path)).toEqual(events.map((event) => event.path));
    expect(table.requests()).toBe(3);
  });

  it('yields nothing for an empty listing and rejects a bad page size', async () => {
    expect(await collect(pagedEvents(() => Promise.resolve([]), 5))).toEqual([]);
    await expect(collect(pagedEvents(() => Promise.resolve([]), 0))).rejects.toThrow(
      /pageSize must be a positive integer/,
    );
  });
});

describe('pagedEvents and malformed events', () => {
  it('yields an event it cannot page by (no numeric time) instead of failing the listing', async () => {
    const events: unknown[] = [
      { id: 'a', time: 3 },
      { id: 'b', time: 2 },
      { id: 'no-time', time: 'yesterday' },
      null,
      { id: 'c', time: 2 },
      { id: 'd', time: 1 },
    ];
    const read = await collect(
      pagedEvents((first, max) => Promise.resolve(events.slice(first, first + max)), 2),
    );
    expect(read).toEqual(events);
  });

  it('reads only time and id, each where it has the right type', () => {
    expect(pagingFieldsOf({ time: 5, id: 'x', operationType: 1 })).toEqual({ time: 5, id: 'x' });
    expect(pagingFieldsOf({ time: '5', id: 7 })).toEqual({});
    expect(pagingFieldsOf('not an event')).toEqual({});
  });
});
