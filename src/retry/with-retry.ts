import pRetry from 'p-retry';
import { TransientError, describeError, isTransient } from '../errors.js';
import { backoffDelay, type BackoffPolicy } from './backoff.js';

/** Told before each wait, so the caller can log and count retries. */
export interface RetryNotice {
  readonly error: unknown;
  /** The attempt that just failed, from 1. */
  readonly attempt: number;
  readonly delayMs: number;
}

export interface RetryOptions {
  readonly policy: BackoffPolicy;
  readonly onRetry?: (notice: RetryNotice) => void;
  readonly signal?: AbortSignal;
  /** For tests of the policy; `Math.random` otherwise. */
  readonly random?: () => number;
}

/**
 * Runs `operation` until it succeeds, a permanent error occurs, or the attempt or time budget is
 * spent. Only errors that `isTransient` accepts are retried. The wait honours a `retryAfterMs`
 * carried by the error (from `Retry-After`).
 *
 * p-retry counts attempts and the time budget; the waits are ours (its own timeouts are set to
 * zero), because p-retry cannot take a per-error delay such as `Retry-After`.
 *
 * When a server asks for a wait longer than the time left, we give up at once rather than
 * sleep past the budget: the error stays transient, so the caller keeps the work for later.
 */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { policy, onRetry, signal } = options;
  const random = options.random ?? Math.random;
  const startedAt = performance.now();

  return pRetry(operation, {
    retries: Math.max(0, policy.maxAttempts - 1),
    minTimeout: 0,
    maxTimeout: 0,
    maxRetryTime: policy.maxElapsedMs,
    ...(signal === undefined ? {} : { signal }),
    onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
      if (!isTransient(error) || retriesLeft === 0) return;
      const delayMs = backoffDelay(attemptNumber, policy, random, retryAfterOf(error));
      const elapsed = performance.now() - startedAt;
      if (elapsed + delayMs > policy.maxElapsedMs) {
        throw new TransientError(
          `gave up after ${attemptNumber} attempt(s): the next wait (${delayMs} ms) would exceed the ${policy.maxElapsedMs} ms budget; last error: ${describeError(error)}`,
          { cause: error, retryAfterMs: retryAfterOf(error) },
        );
      }
      onRetry?.({ error, attempt: attemptNumber, delayMs });
      await sleep(delayMs, signal);
    },
    shouldRetry: ({ error }) => isTransient(error),
  });
}

/** The wait a server asked for (`Retry-After`), carried by the error or one it wraps. */
export function retryAfterOf(error: unknown): number | undefined {
  for (let current = error, depth = 0; depth < 8; depth += 1) {
    if (typeof current !== 'object' || current === null) return undefined;
    if ('retryAfterMs' in current && typeof current.retryAfterMs === 'number') {
      return current.retryAfterMs;
    }
    current = 'cause' in current ? current.cause : undefined;
  }
  return undefined;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
