/** How long to wait between attempts. Every field is in milliseconds except `maxAttempts`. */
export interface BackoffPolicy {
  /** Attempts in all, the first included. 1 means "never retry". */
  readonly maxAttempts: number;
  /** The base of the exponential: the first retry waits around this long. */
  readonly minDelayMs: number;
  /** No single wait is longer than this, unless the server asked for longer (`Retry-After`). */
  readonly maxDelayMs: number;
  /** The whole operation, retries and waits included, gives up after this long. */
  readonly maxElapsedMs: number;
}

/**
 * The wait before retry number `retry` (1 for the first retry).
 *
 * "Equal jitter": half of the exponential step is fixed, half is random. The fixed half keeps a
 * floor under the wait (full jitter can retry almost at once, which a struggling server does not
 * need); the random half spreads a crowd of clients that failed together.
 *
 * When the server said how long to wait (`retryAfterMs`) that wins, even above `maxDelayMs`:
 * it knows its own recovery better than our guess does.
 */
export function backoffDelay(
  retry: number,
  policy: Pick<BackoffPolicy, 'minDelayMs' | 'maxDelayMs'>,
  random: () => number,
  retryAfterMs?: number,
): number {
  if (retryAfterMs !== undefined) return retryAfterMs;
  const exponent = Math.max(0, retry - 1);
  // Cap the exponent before Math.pow so a long outage cannot overflow to Infinity.
  const step = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** Math.min(exponent, 30));
  const half = step / 2;
  return Math.round(half + random() * half);
}
