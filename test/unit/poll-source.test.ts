import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { userHint, type Hint } from '../../src/domain/hint.js';
import { pagedEvents, pagingFieldsOf } from '../../src/keycloak/event-paging.js';
import { createLogger, memoryDestination } from '../../src/logger.js';
import type { PollCheckpoint } from '../../src/sources/event-window.js';
import { PollSource, type EventApi, type EventWindowQuery } from '../../src/sources/poll-source.js';
import { StateStore } from '../../src/state/state-store.js';

/**
 * Keycloak's stored events as the reader yields them: unvalidated, through the reader's own
 * paging (two per page, so malformed events cross page boundaries), newest first unless asked
 * for `direction=asc` (26.2+), filtered by an epoch-ms `dateFrom` only when one is given.
 */
class StoredEvents implements EventApi {
  readonly admin: unknown[] = [];
  readonly user: unknown[] = [];

  adminEvents(query: EventWindowQuery): AsyncIterable<unknown> {
    return listing(this.admin, query);
  }

  userEvents(query: EventWindowQuery): AsyncIterable<unknown> {
    return listing(this.user, query);
  }
}

function listing(events: readonly unknown[], query: EventWindowQuery): AsyncIterable<unknown> {
  const timeOf = (event: unknown): number => pagingFieldsOf(event).time ?? 0;
  const from = /^\d+$/.test(query.dateFrom) ? Number(query.dateFrom) : 0;
  const ordered = events
    .filter((event) => timeOf(event) >= from)
    .sort((a, b) => (query.direction === 'asc' ? timeOf(a) - timeOf(b) : timeOf(b) - timeOf(a)));
  return pagedEvents((first, max) => Promise.resolve(ordered.slice(first, first + max)), 2);
}

const adminUserEvent = (time: number, userId: string): Record<string, unknown> => ({
  time,
  realmId: 'realm-id',
  resourceType: 'USER',
  operationType: 'UPDATE',
  resourcePath: `users/${userId}`,
  representation: `{"username":"${userId}"}`,
});

describe('PollSource and malformed stored events', () => {
  let store: StateStore;
  let events: StoredEvents;
  let submitted: Hint[];
  let malformed: string[];
  let destination: ReturnType<typeof memoryDestination>;
  let source: PollSource;
  // Where both checkpoints stand when a test starts: every stored event is newer.
  const base = Date.now() - 10_000;

  beforeEach(() => {
    store = StateStore.open(':memory:');
    for (const stream of ['admin', 'user']) {
      store.putCheckpoint(
        `poll.${stream}`,
        JSON.stringify({ watermark: base, seen: [], checkedAt: Date.now(), modern: false }),
      );
    }
    events = new StoredEvents();
    submitted = [];
    malformed = [];
    destination = memoryDestination();
    source = new PollSource(
      events,
      store,
      (hint) => {
        submitted.push(hint);
        return Promise.resolve('applied');
      },
      {
        intervalMs: 60_000,
        overlapMs: 60_000,
        logger: createLogger({ level: 'info', secrets: [], destination }),
      },
      { onMalformed: (reason) => malformed.push(reason) },
    );
  });
  afterEach(async () => {
    await store.close();
  });

  const watermark = (stream: 'admin' | 'user'): number | undefined => {
    const saved = store.checkpoint(`poll.${stream}`);
    return saved === undefined ? undefined : (JSON.parse(saved) as PollCheckpoint).watermark;
  };
  const errorLines = () => destination.records().filter((record) => record.level === 'error');

  it('reports a malformed admin event, skips it, and applies and passes the good ones around it', async () => {
    const broken = { ...adminUserEvent(base + 2, 'u2'), operationType: undefined };
    events.admin.push(adminUserEvent(base + 1, 'u1'), broken, adminUserEvent(base + 3, 'u3'));

    expect(await source.pollOnce()).toBe(3);
    expect(submitted).toEqual([userHint('u1'), userHint('u3')]);
    expect(malformed).toEqual([expect.stringMatching(/^malformed admin event: operationType: /)]);
    expect(errorLines()).toEqual([
      expect.objectContaining({
        stream: 'admin',
        time: base + 2,
        msg: expect.stringContaining('operationType') as unknown,
      }),
    ]);
    expect(watermark('admin')).toBe(base + 3);

    // The next poll is not held at the bad event: it sees only what is new.
    events.admin.push(adminUserEvent(base + 4, 'u4'));
    expect(await source.pollOnce()).toBe(1);
    expect(submitted).toEqual([userHint('u1'), userHint('u3'), userHint('u4')]);
    expect(malformed).toHaveLength(1);
    expect(watermark('admin')).toBe(base + 4);
  });

  it('reports an event without a numeric time once, by that field, and polls on past it', async () => {
    const untimed = { ...adminUserEvent(0, 'u2'), time: 'yesterday' };
    events.admin.push(adminUserEvent(base + 1, 'u1'), untimed, adminUserEvent(base + 3, 'u3'));

    await source.pollOnce();
    expect(submitted).toEqual([userHint('u1'), userHint('u3')]);
    expect(malformed).toEqual([expect.stringMatching(/^malformed admin event: time: /)]);
    expect(errorLines()).toHaveLength(1);
    expect(watermark('admin')).toBe(base + 3);

    // Keycloak returns it on every poll; it was reported already and counts once.
    events.admin.push(adminUserEvent(base + 4, 'u4'));
    await source.pollOnce();
    expect(submitted).toEqual([userHint('u1'), userHint('u3'), userHint('u4')]);
    expect(malformed).toHaveLength(1);
    expect(watermark('admin')).toBe(base + 4);
  });

  it('reports a malformed user event and applies the user events around it', async () => {
    const userEvent = (time: number, userId: string) => ({
      time,
      type: 'UPDATE_PROFILE',
      realmId: 'realm-id',
      userId,
    });
    events.user.push(
      userEvent(base + 1, 'u1'),
      { time: base + 2, realmId: 'realm-id', userId: 'u2' },
      userEvent(base + 3, 'u3'),
    );

    await source.pollOnce();
    expect(submitted).toEqual([userHint('u1'), userHint('u3')]);
    expect(malformed).toEqual([expect.stringMatching(/^malformed user event: type: /)]);
    expect(watermark('user')).toBe(base + 3);
  });

  it('accepts what Keycloak leaves out or nulls: no resourceType, a null representation', async () => {
    events.admin.push({
      time: base + 1,
      realmId: 'realm-id',
      operationType: 'DELETE',
      resourcePath: 'users/u1',
      representation: null,
    });

    await source.pollOnce();
    expect(submitted).toEqual([userHint('u1')]);
    expect(malformed).toEqual([]);
  });
});
