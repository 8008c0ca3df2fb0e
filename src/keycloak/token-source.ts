/** An access token and the moment (epoch ms) it stops being accepted. */
export interface ExpiringToken {
  value: string;
  expiresAtMs: number;
}

/** Hands out a valid access token, renewing it shortly before it expires. */
export interface TokenSource {
  /** A token valid for at least the renewal margin; concurrent callers share one renewal. */
  getToken(): Promise<string>;
  /** Forget the current token (e.g. after a 401), so the next call obtains a fresh one. */
  invalidate(): void;
}

/** Tuning for {@link createTokenSource}. */
export interface TokenSourceOptions {
  /** Renew this long before expiry, at most. Default: 30 000 ms. */
  renewMarginMs?: number;
  /** Clock, injectable for tests. Default: `Date.now`. */
  now?: () => number;
}

/**
 * A token cache around `obtain`. The margin is capped at a fifth of the token's lifetime so that
 * a realm with very short tokens (seconds) does not renew on every request.
 */
export function createTokenSource(
  obtain: () => Promise<ExpiringToken>,
  options: TokenSourceOptions = {},
): TokenSource {
  const renewMarginMs = options.renewMarginMs ?? 30_000;
  const now = options.now ?? Date.now;
  let current: { token: ExpiringToken; renewAtMs: number } | undefined;
  let pending: Promise<ExpiringToken> | undefined;
  // Bumped by invalidate(): a renewal that started before it must not reinstate its token.
  let generation = 0;

  const renew = (): Promise<ExpiringToken> => {
    if (pending !== undefined) return pending;
    const startedAt = now();
    const startedGeneration = generation;
    const renewal = obtain().then((token) => {
      const lifetime = Math.max(0, token.expiresAtMs - startedAt);
      const margin = Math.min(renewMarginMs, lifetime / 5);
      if (startedGeneration === generation) {
        current = { token, renewAtMs: token.expiresAtMs - margin };
      }
      return token;
    });
    pending = renewal;
    // Clear the shared promise whatever the outcome, so a failed renewal is retried next time.
    const clear = (): void => {
      if (pending === renewal) pending = undefined;
    };
    renewal.then(clear, clear);
    return renewal;
  };

  return {
    async getToken() {
      if (current !== undefined && now() < current.renewAtMs) return current.token.value;
      const token = await renew();
      return token.value;
    },
    invalidate() {
      generation += 1;
      current = undefined;
      pending = undefined;
    },
  };
}
