import type { Logger } from 'pino';
import { describeHint, hintKey, parkKey, type Hint } from '../domain/hint.js';
import {
  WaitingError,
  credentialsRefusedBy,
  describeError,
  isHeldBack,
  isTransient,
} from '../errors.js';
import { backoffDelay } from '../retry/backoff.js';
import { retryAfterOf } from '../retry/with-retry.js';

/** How a submitted hint ended. Either way the work is safe: applied, or parked with its reason. */
export type Outcome = 'applied' | 'parked';

/** Thrown to waiters when the queue closes before their hint ran: do not ack; it will come back. */
export class QueueClosedError extends Error {
  constructor() {
    super('the work queue closed before this change was applied');
    this.name = 'QueueClosedError';
  }
}

export interface WorkQueueOptions {
  /** Hints of different keys run in parallel up to this many. */
  readonly concurrency: number;
  /** Waits between attempts of one hint after a transient failure. */
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** After this many transient failures in a row a hint is parked, so it stops holding a slot. */
  readonly maxTransientAttempts: number;
  readonly logger?: Logger;
  readonly random?: () => number;
}

export interface WorkQueueHooks {
  readonly park: (key: string, hint: Hint, reason: string) => void;
  readonly unpark: (key: string) => void;
  readonly onApplied?: (hint: Hint, durationMs: number) => void;
  readonly onParked?: (hint: Hint, reason: string) => void;
  readonly onRetry?: (hint: Hint, error: unknown) => void;
}

interface Pending {
  hint: Hint;
  readonly waiters: { resolve: (outcome: Outcome) => void; reject: (error: Error) => void }[];
  /** Transient failures in a row so far, kept while the hint waits outside its slot. */
  failures: number;
}

/**
 * Runs reconciles. Hints with the same key (one entity) run one at a time, in arrival order;
 * different keys run in parallel up to `concurrency`. A hint equal to one still waiting joins it,
 * so a burst of events for one entity costs one reconcile.
 *
 * Failures: a transient one is retried with capped exponential backoff while holding its slot,
 * so that when the target is down the work waits instead of spinning. A hint that waits for
 * another entity's reconcile ({@link WaitingError}) gives its slot back while it waits, and
 * queues again after its delay: otherwise enough waiters fill every slot, and the reconcile
 * they wait for never gets one. A side that refuses us as a whole (Keycloak refusing the
 * client credentials, SCIM answering 401 or 403: a rotated secret or token, a disabled
 * integration) is waited out indefinitely, since parking every change would only move the
 * outage into the parked list. A permanent failure, or one that stays transient for
 * `maxTransientAttempts`, is parked with its reason and does not block anything else.
 */
export class WorkQueue {
  private readonly waiting = new Map<string, Pending[]>();
  private readonly readyKeys: string[] = [];
  private readonly runningKeys = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  private readonly idleWaiters: (() => void)[] = [];
  /** Hints that wait outside a slot for their next attempt, by the timer that queues them. */
  private readonly later = new Map<NodeJS.Timeout, Pending>();
  private closed = false;
  private readonly stopController = new AbortController();

  constructor(
    private readonly run: (hint: Hint, signal: AbortSignal) => Promise<void>,
    private readonly hooks: WorkQueueHooks,
    private readonly options: WorkQueueOptions,
  ) {}

  /** Resolves once the hint is applied or parked; rejects with QueueClosedError on close. */
  submit(hint: Hint): Promise<Outcome> {
    if (this.closed) return Promise.reject(new QueueClosedError());
    return new Promise<Outcome>((resolve, reject) => {
      this.enqueue(hintKey(hint), { hint, waiters: [{ resolve, reject }], failures: 0 }, 'last');
    });
  }

  /**
   * Puts `pending` in its entity's line, `first` for a hint that already had its turn; a hint
   * still waiting there that does the same work takes it in instead: one reconcile for both.
   */
  private enqueue(key: string, pending: Pending, place: 'first' | 'last'): void {
    const queue = this.waiting.get(key) ?? [];
    const twin = queue.find((other) => absorbs(other.hint, pending.hint));
    if (twin !== undefined) {
      twin.hint = merge(twin.hint, pending.hint);
      twin.waiters.push(...pending.waiters);
      twin.failures = Math.max(twin.failures, pending.failures);
      return;
    }
    if (place === 'first') queue.unshift(pending);
    else queue.push(pending);
    if (!this.waiting.has(key)) {
      this.waiting.set(key, queue);
      if (!this.runningKeys.has(key)) this.readyKeys.push(key);
    }
    this.pump();
  }

  /** Hints waiting, running, or between attempts outside a slot. */
  get size(): number {
    let n = this.runningKeys.size + this.later.size;
    for (const queue of this.waiting.values()) n += queue.length;
    return n;
  }

  /** Resolves when nothing is waiting or running. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops taking work and waits for what is running (its retries are cut short). Hints that
   * never started are refused with QueueClosedError, so their sources do not ack them.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.stopController.abort();
    for (const queue of this.waiting.values()) {
      for (const pending of queue) {
        for (const waiter of pending.waiters) waiter.reject(new QueueClosedError());
      }
    }
    this.waiting.clear();
    this.readyKeys.length = 0;
    for (const [timer, pending] of this.later) {
      clearTimeout(timer);
      for (const waiter of pending.waiters) waiter.reject(new QueueClosedError());
    }
    this.later.clear();
    await Promise.allSettled([...this.running]);
    this.notifyIdle();
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.options.concurrency) {
      const key = this.readyKeys.shift();
      if (key === undefined) return;
      const queue = this.waiting.get(key);
      const pending = queue?.shift();
      if (queue === undefined || pending === undefined) continue;
      if (queue.length === 0) this.waiting.delete(key);

      this.runningKeys.add(key);
      const task = this.execute(key, pending).finally(() => {
        this.running.delete(task);
        this.runningKeys.delete(key);
        // The entity's next hint goes to the back of the line: fairness between entities.
        if (this.waiting.has(key)) this.readyKeys.push(key);
        this.pump();
        this.notifyIdle();
      });
      this.running.add(task);
    }
  }

  private async execute(key: string, pending: Pending): Promise<void> {
    const { hint } = pending;
    const signal = this.stopController.signal;
    const startedAt = performance.now();
    for (;;) {
      try {
        await this.run(hint, signal);
        this.hooks.unpark(parkKey(hint));
        this.hooks.onApplied?.(hint, performance.now() - startedAt);
        for (const waiter of pending.waiters) waiter.resolve('applied');
        return;
      } catch (error) {
        if (signal.aborted) {
          for (const waiter of pending.waiters) waiter.reject(new QueueClosedError());
          return;
        }
        const targetWide = isHeldBack(error);
        if (!targetWide && !isTransient(error)) {
          this.parkWith(key, pending, describeError(error));
          return;
        }
        pending.failures++;
        const transientFailures = pending.failures;
        if (!targetWide && transientFailures >= this.options.maxTransientAttempts) {
          this.parkWith(
            key,
            pending,
            `still failing after ${transientFailures} attempts: ${describeError(error)}`,
          );
          return;
        }
        this.hooks.onRetry?.(hint, error);
        // A server that said how long to wait (429 or 503 with Retry-After) is not asked again
        // sooner, even once the request's own retries are spent.
        const delayMs = Math.max(
          backoffDelay(transientFailures, this.options, this.options.random ?? Math.random),
          retryAfterOf(error) ?? 0,
        );
        const refusedBy = credentialsRefusedBy(error);
        // Refused credentials are logged once for all changes, by whoever watches them.
        this.options.logger?.[refusedBy === undefined ? 'warn' : 'debug'](
          { hint, attempt: transientFailures, delayMs, error: describeError(error) },
          refusedBy !== undefined
            ? `${refusedBy === 'scim' ? 'SCIM' : 'Keycloak'} refused the relay's credentials for ${describeHint(hint)}; holding the change and retrying in ${delayMs} ms`
            : targetWide
              ? `SCIM refused ${describeHint(hint)} (integration disabled); holding the change and retrying in ${delayMs} ms`
              : `${describeHint(hint)} failed, retrying in ${delayMs} ms`,
        );
        if (error instanceof WaitingError) {
          this.again(key, pending, delayMs);
          return;
        }
        await sleep(delayMs, signal);
      }
    }
  }

  /** Queues `pending` again for its entity after `delayMs`, outside any slot meanwhile. */
  private again(key: string, pending: Pending, delayMs: number): void {
    const timer = setTimeout(() => {
      this.later.delete(timer);
      this.enqueue(key, pending, 'first');
    }, delayMs);
    this.later.set(timer, pending);
  }

  private parkWith(key: string, pending: Pending, reason: string): void {
    this.hooks.park(parkKey(pending.hint), pending.hint, reason);
    this.hooks.onParked?.(pending.hint, reason);
    this.options.logger?.error(
      { hint: pending.hint, reason },
      `parked ${describeHint(pending.hint)}: ${reason}`,
    );
    for (const waiter of pending.waiters) waiter.resolve('parked');
  }

  private notifyIdle(): void {
    if (this.size !== 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

/** Whether waiting hint `a` can absorb a new hint `b`: the same work, or less of it. */
function absorbs(a: Hint, b: Hint): boolean {
  if (a.kind === 'group' && b.kind === 'group') return a.groupId === b.groupId;
  if (a.kind === 'user' && b.kind === 'user') return a.userId === b.userId;
  if (a.kind === 'membership' && b.kind === 'membership') {
    return a.userId === b.userId && a.groupId === b.groupId;
  }
  return false;
}

function merge(a: Hint, b: Hint): Hint {
  if (a.kind === 'group' && b.kind === 'group') {
    const members = a.members === true || b.members === true;
    return { ...a, subtree: a.subtree || b.subtree, ...(members ? { members } : {}) };
  }
  return a;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
