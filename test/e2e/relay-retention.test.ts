import { describe, expect, inject, it } from 'vitest';
import { startRelayHarness } from '../support/relay-harness.js';

describe('run after a long outage', () => {
  const facts = inject('testStack');

  it('refuses to poll past a gap longer than the realm keeps events, and says to resync', async () => {
    const harness = await startRelayHarness(facts, {
      prefix: 'retention',
      env: { SOURCE: 'poll' },
      start: false,
    });
    try {
      // The demo realm keeps events for 7 days; the relay last looked 8 days ago.
      const eightDaysAgo = Date.now() - 8 * 24 * 3600 * 1000;
      harness.relay.store.putCheckpoint(
        'poll.admin',
        JSON.stringify({
          watermark: eightDaysAgo,
          seen: [],
          checkedAt: eightDaysAgo,
          modern: false,
        }),
      );
      const failure: unknown = await harness.relay.start().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).message).toMatch(
        /admin-event checkpoint is from .* older than the realm's event retention \(604800 s\).*resync/,
      );
      // Nothing was applied, and the checkpoint still tells the truth.
      expect(JSON.parse(harness.relay.store.checkpoint('poll.admin') ?? '{}')).toMatchObject({
        checkedAt: eightDaysAgo,
      });
    } finally {
      await harness.close();
    }
  });
});
