import { describe, expect, it } from 'vitest';
import { groupHint, membershipHint, userHint, type Hint } from '../../src/domain/hint.js';
import {
  CredentialsRefusedError,
  PermanentError,
  ScimError,
  TransientError,
  WaitingError,
} from '../../src/errors.js';
import { createLogger, memoryDestination } from '../../src/logger.js';
import { QueueClosedError, WorkQueue, type WorkQueueHooks } from '../../src/sync/work-queue.js';

const options = { concurrency: 2, minDelayMs: 1, maxDelayMs: 2, maxTransientAttempts: 3 };

function recordingHooks() {
  const parked = new Map<string, string>();
  const unparked: string[] = [];
  const hooks: WorkQueueHooks = {
    park: (key, _hint, reason) => parked.set(key, reason),
    unpark: (key) => unparked.push(key),
  };
  return { hooks, parked, unparked };
}

/** A run function whose calls finish only when the test says so. */
function gatedRun() {
  const started: Hint[] = [];
  const gates: (() => void)[] = [];
  let active = 0;
  let maxActive = 0;
  const run = (hint: Hint) => {
    started.push(hint);
    active++;
    maxActive = Math.max(maxActive, active);
    return new Promise<void>((resolve) =>
      gates.push(() => {
        active--;
        resolve();
      }),
    );
  };
  const releaseAll = async () => {
    while (gates.length > 0 || started.length === 0) {
      gates.shift()?.();
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  return { run, started, gates, releaseAll, maxActive: () => maxActive };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('WorkQueue', () => {
  it('runs one entity’s hints one at a time, in order', async () => {
    const gated = gatedRun();
    const queue = new WorkQueue(gated.run, recordingHooks().hooks, options);
    const done = [
      queue.submit(userHint('u1')),
      queue.submit(membershipHint('u1', 'g1')),
      queue.submit(membershipHint('u1', 'g2')),
    ];
    await tick();
    expect(gated.started).toEqual([userHint('u1')]);
    await gated.releaseAll();
    await expect(Promise.all(done)).resolves.toEqual(['applied', 'applied', 'applied']);
    expect(gated.started).toEqual([
      userHint('u1'),
      membershipHint('u1', 'g1'),
      membershipHint('u1', 'g2'),
    ]);
    expect(gated.maxActive()).toBe(1);
  });

  it('runs different entities in parallel, up to the concurrency', async () => {
    const gated = gatedRun();
    const queue = new WorkQueue(gated.run, recordingHooks().hooks, options);
    const done = ['a', 'b', 'c', 'd'].map((id) => queue.submit(userHint(id)));
    await tick();
    expect(gated.started).toHaveLength(2);
    await gated.releaseAll();
    await Promise.all(done);
    expect(gated.started).toHaveLength(4);
    expect(gated.maxActive()).toBe(2);
  });

  it('collapses a burst for one entity into one reconcile', async () => {
    const gated = gatedRun();
    const queue = new WorkQueue(gated.run, recordingHooks().hooks, options);
    const first = queue.submit(groupHint('g'));
    await tick();
    // While the first runs, a burst arrives: it collapses into one follow-up.
    const burst = [
      queue.submit(groupHint('g')),
      queue.submit(groupHint('g', true)),
      queue.submit(groupHint('g', false, true)),
      queue.submit(groupHint('g')),
    ];
    await gated.releaseAll();
    await expect(Promise.all([first, ...burst])).resolves.toEqual([
      'applied',
      'applied',
      'applied',
      'applied',
      'applied',
    ]);
    // The follow-up does what every hint of the burst asked for: the subtree and the members.
    expect(gated.started).toEqual([groupHint('g'), groupHint('g', true, true)]);
  });

  it('retries a transient failure, then clears any parked entry on success', async () => {
    const { hooks, unparked, parked } = recordingHooks();
    let calls = 0;
    const queue = new WorkQueue(
      () => (++calls < 3 ? Promise.reject(new TransientError('down')) : Promise.resolve()),
      hooks,
      options,
    );
    await expect(queue.submit(userHint('u'))).resolves.toBe('applied');
    expect(calls).toBe(3);
    expect(unparked).toEqual(['user:u']);
    expect(parked.size).toBe(0);
  });

  it('does not try again sooner than a Retry-After the error carries, even wrapped', async () => {
    const { hooks } = recordingHooks();
    const tries: number[] = [];
    const rateLimited = new ScimError({
      status: 429,
      operation: 'GET /Users/x',
      retryAfterMs: 120,
    });
    const queue = new WorkQueue(
      () => {
        tries.push(performance.now());
        if (tries.length === 1) return Promise.reject(rateLimited);
        if (tries.length === 2) {
          return Promise.reject(new TransientError('gave up', { cause: rateLimited }));
        }
        return Promise.resolve();
      },
      hooks,
      options,
    );
    await expect(queue.submit(userHint('u'))).resolves.toBe('applied');
    const [first = 0, second = 0, third = 0] = tries;
    // The queue's own backoff here is 1 to 2 ms; the server asked for 120.
    expect(second - first).toBeGreaterThanOrEqual(115);
    expect(third - second).toBeGreaterThanOrEqual(115);
  });

  it('parks a permanent failure with its reason, and keeps going with the others', async () => {
    const { hooks, parked } = recordingHooks();
    const queue = new WorkQueue(
      (hint) =>
        hint.kind === 'user' && hint.userId === 'bad'
          ? Promise.reject(new PermanentError('user bad has no email'))
          : Promise.resolve(),
      hooks,
      options,
    );
    const outcomes = await Promise.all([
      queue.submit(userHint('bad')),
      queue.submit(userHint('good')),
    ]);
    expect(outcomes).toEqual(['parked', 'applied']);
    expect(parked.get('user:bad')).toBe('user bad has no email');
  });

  it('parks a failure that stays transient, so it stops holding a slot', async () => {
    const { hooks, parked } = recordingHooks();
    const queue = new WorkQueue(
      () => Promise.reject(new TransientError('HTTP 500')),
      hooks,
      options,
    );
    await expect(queue.submit(userHint('u'))).resolves.toBe('parked');
    expect(parked.get('user:u')).toMatch(/still failing after 3 attempts: HTTP 500/);
  });

  it('waits out a target that refuses everyone (403) instead of parking', async () => {
    const { hooks, parked } = recordingHooks();
    let calls = 0;
    const queue = new WorkQueue(
      () =>
        ++calls < 6
          ? Promise.reject(new ScimError({ status: 403, operation: 'POST /Users' }))
          : Promise.resolve(),
      hooks,
      options,
    );
    await expect(queue.submit(userHint('u'))).resolves.toBe('applied');
    expect(calls).toBe(6);
    expect(parked.size).toBe(0);
  });

  it.each([
    ['Keycloak refusing the client credentials', () => new CredentialsRefusedError('HTTP 401')],
    [
      'SCIM refusing the token (401)',
      () => new ScimError({ status: 401, operation: 'POST /Users' }),
    ],
    [
      'a refusal wrapped by a caller',
      () => new Error('reading user u failed', { cause: new CredentialsRefusedError('HTTP 401') }),
    ],
  ])(
    'holds the change while %s, past maxTransientAttempts, logging it only at debug',
    async (_what, refusal) => {
      const { hooks, parked } = recordingHooks();
      const log = memoryDestination();
      let calls = 0;
      const queue = new WorkQueue(
        () => (++calls < 8 ? Promise.reject(refusal()) : Promise.resolve()),
        hooks,
        { ...options, logger: createLogger({ level: 'debug', secrets: [], destination: log }) },
      );
      await expect(queue.submit(userHint('u'))).resolves.toBe('applied');
      expect(calls).toBe(8);
      expect(parked.size).toBe(0);
      const levels = log.records().map((record) => record['level']);
      expect(levels).toHaveLength(7);
      expect(new Set(levels)).toEqual(new Set(['debug']));
    },
  );

  it('lets the entity a waiter waits for run in the waiter’s slot, instead of parking the waiter', async () => {
    const { hooks, parked } = recordingHooks();
    const ran: string[] = [];
    let blockerDone = false;
    const queue = new WorkQueue(
      (hint) => {
        const id = hint.kind === 'user' ? hint.userId : '';
        ran.push(id);
        if (id === 'blocker') blockerDone = true;
        else if (!blockerDone) throw new WaitingError(`${id} waits for blocker`);
        return Promise.resolve();
      },
      hooks,
      { ...options, concurrency: 1 },
    );
    const waiter = queue.submit(userHint('waiter'));
    const blocker = queue.submit(userHint('blocker'));
    await expect(Promise.all([waiter, blocker])).resolves.toEqual(['applied', 'applied']);
    expect(parked.size).toBe(0);
    expect(ran).toEqual(['waiter', 'blocker', 'waiter']);
  });

  it('counts a waiter between its attempts as work: idle waits for it, close refuses it', async () => {
    let attempts = 0;
    const queue = new WorkQueue(
      () => {
        attempts++;
        return attempts < 3 ? Promise.reject(new WaitingError('waits')) : Promise.resolve();
      },
      recordingHooks().hooks,
      { ...options, minDelayMs: 20, maxDelayMs: 20, maxTransientAttempts: 5 },
    );
    const applied = queue.submit(userHint('a'));
    await tick();
    expect(queue.size).toBe(1);
    await queue.idle();
    expect(attempts).toBe(3);
    await expect(applied).resolves.toBe('applied');

    const stuck = new WorkQueue(
      () => Promise.reject(new WaitingError('waits for good')),
      recordingHooks().hooks,
      { ...options, minDelayMs: 50, maxDelayMs: 50, maxTransientAttempts: 100 },
    );
    const refused = stuck.submit(userHint('b'));
    await tick();
    await stuck.close();
    await expect(refused).rejects.toBeInstanceOf(QueueClosedError);
  });

  it('parks a waiter after as many attempts as any transient failure, counted across its waits', async () => {
    const { hooks, parked } = recordingHooks();
    const queue = new WorkQueue(
      () => Promise.reject(new WaitingError('waits for someone who never comes')),
      hooks,
      options,
    );
    await expect(queue.submit(userHint('u'))).resolves.toBe('parked');
    expect(parked.get('user:u')).toMatch(/after 3 attempts: waits for someone/);
  });

  it('refuses, on close, the hints that never started, so nobody acks them', async () => {
    const gated = gatedRun();
    const queue = new WorkQueue(gated.run, recordingHooks().hooks, { ...options, concurrency: 1 });
    const running = queue.submit(userHint('a'));
    const waiting = queue.submit(userHint('b'));
    await tick();
    const closing = queue.close();
    gated.gates.shift()?.();
    await closing;
    await expect(running).resolves.toBe('applied');
    await expect(waiting).rejects.toBeInstanceOf(QueueClosedError);
    await expect(queue.submit(userHint('c'))).rejects.toBeInstanceOf(QueueClosedError);
  });

  it('tells when it is idle', async () => {
    const gated = gatedRun();
    const queue = new WorkQueue(gated.run, recordingHooks().hooks, options);
    void queue.submit(userHint('a'));
    let idle = false;
    const waiting = queue.idle().then(() => (idle = true));
    await tick();
    expect(idle).toBe(false);
    await gated.releaseAll();
    await waiting;
    expect(queue.size).toBe(0);
  });
});
