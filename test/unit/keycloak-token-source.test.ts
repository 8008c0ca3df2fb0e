import { describe, expect, it } from 'vitest';
import { createTokenSource, type ExpiringToken } from '../../src/keycloak/token-source.js';

/** An `obtain` that counts calls and hands out tokens valid for `lifetimeMs` from `clock.now`. */
function issuer(clock: { now: number }, lifetimeMs: number) {
  let issued = 0;
  return {
    obtain: (): Promise<ExpiringToken> => {
      issued += 1;
      return Promise.resolve({ value: `token-${issued}`, expiresAtMs: clock.now + lifetimeMs });
    },
    issued: () => issued,
  };
}

describe('createTokenSource', () => {
  it('reuses a token until the renewal margin before its expiry, then renews', async () => {
    const clock = { now: 0 };
    const tokens = issuer(clock, 300_000);
    const source = createTokenSource(tokens.obtain, { now: () => clock.now });
    expect(await source.getToken()).toBe('token-1');
    clock.now = 269_999;
    expect(await source.getToken()).toBe('token-1');
    clock.now = 270_000;
    expect(await source.getToken()).toBe('token-2');
    expect(tokens.issued()).toBe(2);
  });

  it('caps the margin at a fifth of the lifetime for short-lived tokens', async () => {
    const clock = { now: 0 };
    const tokens = issuer(clock, 10_000);
    const source = createTokenSource(tokens.obtain, { now: () => clock.now });
    await source.getToken();
    clock.now = 7_999;
    expect(await source.getToken()).toBe('token-1');
    clock.now = 8_000;
    expect(await source.getToken()).toBe('token-2');
  });

  it('lets concurrent callers share one renewal', async () => {
    let release: (token: ExpiringToken) => void = () => undefined;
    let calls = 0;
    const source = createTokenSource(() => {
      calls += 1;
      return new Promise<ExpiringToken>((resolve) => {
        release = resolve;
      });
    });
    const waiting = Array.from({ length: 10 }, () => source.getToken());
    release({ value: 'shared', expiresAtMs: Date.now() + 60_000 });
    expect(await Promise.all(waiting)).toEqual(Array.from({ length: 10 }, () => 'shared'));
    expect(calls).toBe(1);
  });

  it('hands a failed renewal to every waiting caller and retries on the next call', async () => {
    let calls = 0;
    const source = createTokenSource(() => {
      calls += 1;
      return calls === 1
        ? Promise.reject(new Error('token endpoint down'))
        : Promise.resolve({ value: 'second', expiresAtMs: Date.now() + 60_000 });
    });
    const results = await Promise.allSettled([source.getToken(), source.getToken()]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(await source.getToken()).toBe('second');
    expect(calls).toBe(2);
  });

  it('obtains a new token after invalidate, and ignores a renewal started before it', async () => {
    const clock = { now: 0 };
    const tokens = issuer(clock, 300_000);
    const source = createTokenSource(tokens.obtain, { now: () => clock.now });
    expect(await source.getToken()).toBe('token-1');
    source.invalidate();
    expect(await source.getToken()).toBe('token-2');

    let releaseStale: (token: ExpiringToken) => void = () => undefined;
    let calls = 0;
    const racing = createTokenSource(() => {
      calls += 1;
      if (calls === 1) {
        return new Promise<ExpiringToken>((resolve) => {
          releaseStale = resolve;
        });
      }
      return Promise.resolve({ value: 'fresh', expiresAtMs: Date.now() + 60_000 });
    });
    const stale = racing.getToken();
    racing.invalidate();
    releaseStale({ value: 'stale', expiresAtMs: Date.now() + 60_000 });
    expect(await stale).toBe('stale');
    expect(await racing.getToken()).toBe('fresh');
  });
});
