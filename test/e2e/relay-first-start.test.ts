import { afterEach, describe, expect, inject, it } from 'vitest';
import { mapWithConcurrency } from '../support/concurrency.js';
import { eventually, startRelayHarness, type RelayHarness } from '../support/relay-harness.js';
import { createTestRealm } from '../support/test-realm.js';

/**
 * `run` started right after many changes: its first full reconcile provisions them all, then the
 * first poll reads the same changes again from its overlap window. Those events are hints for
 * what SCIM already holds now, so they must cost reads, not writes.
 */
describe.each(['kestra', 'generic'] as const)(
  'a first start after many changes, on the %s profile',
  (profile) => {
    const facts = inject('testStack');
    let harness: RelayHarness | undefined;
    afterEach(async () => {
      await harness?.close();
    });

    it('writes each membership once: the first poll’s overlap window sends nothing', async () => {
      const realm = await createTestRealm(facts, { prefix: `first-start-${profile}` });
      const { admin } = realm;
      const group = await admin.groups.create({ name: 'crowd' });
      const users = await mapWithConcurrency(
        Array.from({ length: 40 }, (_, i) => `early-${String(i).padStart(2, '0')}`),
        8,
        async (username) => (await admin.users.create({ username, enabled: true })).id,
      );
      await mapWithConcurrency(users, 8, (id) => admin.users.addToGroup({ id, groupId: group.id }));

      harness = await startRelayHarness(facts, {
        prefix: `first-start-${profile}`,
        realm,
        env: { SOURCE: 'poll', POLL_INTERVAL_MS: '250' },
        scim: { profile, patchDelayMs: 10 },
      });
      const reconciled = harness.log.records().find((r) => r['msg'] === 'full reconcile done');
      expect(reconciled).toBeDefined();
      const after = Date.parse(String(reconciled?.['time']));

      // The first polls apply the 120 stored events (user creates, joins) as hints.
      await eventually(async () => {
        const text = (await harness?.relay.metrics.render()) ?? '';
        expect(adminEventsReceived(text)).toBeGreaterThanOrEqual(80);
      });
      await harness.relay.engine.queue.idle();
      const state = await harness.control.state();
      expect(state.groups.find((g) => g.displayName === '/crowd')?.members).toHaveLength(40);
      const requests = await harness.control.requests();
      const writesAfter = requests.filter((r) => r.method !== 'GET' && Date.parse(r.time) > after);
      expect(writesAfter.map((r) => `${r.method} ${r.scimPath ?? ''}`)).toEqual([]);
      await realm.delete();
    });
  },
);

function adminEventsReceived(metrics: string): number {
  const line = /^scim_relay_events_received_total\{kind="admin"\} (\d+)/m.exec(metrics);
  return Number(line?.[1] ?? 0);
}
