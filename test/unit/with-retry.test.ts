import { describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../../src/errors.js';
import { withRetry, type RetryNotice } from '../../src/retry/with-retry.js';

const fast = { maxAttempts: 4, minDelayMs: 1, maxDelayMs: 4, maxElapsedMs: 5_000 };

describe('withRetry', () => {
  it('retries transient failures until the operation succeeds', async () => {
    const notices: RetryNotice[] = [];
    let calls = 0;
    const result = await withRetry(
      () => {
        calls++;
        return calls < 3 ? Promise.reject(new TransientError('down')) : Promise.resolve('ok');
      },
      { policy: fast, onRetry: (n) => notices.push(n) },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(notices.map((n) => n.attempt)).toEqual([1, 2]);
  });

  it('does not retry a permanent failure', async () => {
    let calls = 0;
    await expect(
      withRetry(
        () => {
          calls++;
          return Promise.reject(new PermanentError('bad request'));
        },
        { policy: fast },
      ),
    ).rejects.toThrow('bad request');
    expect(calls).toBe(1);
  });

  it('stops after maxAttempts and surfaces the last error', async () => {
    let calls = 0;
    await expect(
      withRetry(
        () => {
          calls++;
          return Promise.reject(new TransientError(`down ${calls}`));
        },
        { policy: fast },
      ),
    ).rejects.toThrow('down 4');
    expect(calls).toBe(4);
  });

  it('waits what the server asked for', async () => {
    const notices: RetryNotice[] = [];
    let calls = 0;
    await withRetry(
      () => {
        calls++;
        return calls === 1
          ? Promise.reject(new TransientError('busy', { retryAfterMs: 20 }))
          : Promise.resolve();
      },
      { policy: fast, onRetry: (n) => notices.push(n) },
    );
    expect(notices[0]?.delayMs).toBe(20);
  });

  it('gives up at once, still transient, when the asked wait exceeds the time budget', async () => {
    let calls = 0;
    const error: unknown = await withRetry(
      () => {
        calls++;
        return Promise.reject(new TransientError('busy', { retryAfterMs: 60_000 }));
      },
      { policy: { ...fast, maxElapsedMs: 1_000 } },
    ).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).retryAfterMs).toBe(60_000);
    expect((error as TransientError).message).toMatch(/budget/);
  });
});
