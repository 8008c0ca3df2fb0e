import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/retry/backoff.js';

const policy = { minDelayMs: 100, maxDelayMs: 1000 };

describe('backoff', () => {
  it('doubles the step with each retry, half fixed and half random', () => {
    expect(backoffDelay(1, policy, () => 0)).toBe(50);
    expect(backoffDelay(1, policy, () => 1)).toBe(100);
    expect(backoffDelay(2, policy, () => 0)).toBe(100);
    expect(backoffDelay(3, policy, () => 1)).toBe(400);
  });

  it('never waits longer than the cap', () => {
    expect(backoffDelay(10, policy, () => 1)).toBe(1000);
    expect(backoffDelay(10_000, policy, () => 1)).toBe(1000);
  });

  it('keeps a floor of half the step, so a retry never comes at once', () => {
    for (let retry = 1; retry < 8; retry++) {
      const low = backoffDelay(retry, policy, () => 0);
      const high = backoffDelay(retry, policy, () => 0.999);
      expect(low).toBeGreaterThan(0);
      expect(high).toBeGreaterThanOrEqual(low);
      expect(high).toBeLessThanOrEqual(2 * low);
    }
  });

  it('obeys the server when it says how long to wait, even above the cap', () => {
    expect(backoffDelay(1, policy, () => 0.5, 5000)).toBe(5000);
    expect(backoffDelay(4, policy, () => 0.5, 0)).toBe(0);
  });
});
