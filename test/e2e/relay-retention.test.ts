import { expect, inject, it } from 'vitest';
import { eventually, startRelayHarness } from '../support/relay-harness.js';
import { describeEachProfile } from '../support/scim-profiles.js';

describeEachProfile('run after a long outage, or on its first start', (profile) => {
  const facts = inject('testStack');

  it('reconciles everything when the checkpoint is older than the realm keeps events', async () => {
    const harness = await startRelayHarness(facts, {
      prefix: `retention-${profile.name}`,
      scim: profile.scim,
      env: { SOURCE: 'poll' },
      start: false,
    });
    try {
      // Changed while the relay was away, longer ago than the realm keeps events (7 days).
      const { id } = await harness.realm.admin.users.create({
        username: 'while-away',
        enabled: true,
      });
      const eightDaysAgo = Date.now() - 8 * 24 * 3600 * 1000;
      const stale = JSON.stringify({
        watermark: eightDaysAgo,
        seen: [],
        checkedAt: eightDaysAgo,
        modern: false,
      });
      harness.relay.store.putCheckpoint('poll.admin', stale);
      harness.relay.store.putCheckpoint('poll.user', stale);

      await harness.relay.start();
      const user = (await harness.control.state()).users.find((u) => u.userName === 'while-away');
      expect(user?.externalId).toBe(id);
      expect(harness.log.lines.join('\n')).toContain('events may have expired unseen');
      const checkpoint = JSON.parse(harness.relay.store.checkpoint('poll.admin') ?? '{}') as {
        checkedAt: number;
      };
      expect(checkpoint.checkedAt).toBeGreaterThan(Date.now() - 60_000);

      // Events flow again afterwards.
      await harness.realm.admin.users.create({ username: 'after-recovery', enabled: true });
      await eventually(async () => {
        const users = (await harness.control.state()).users.map((u) => u.userName);
        expect(users).toContain('after-recovery');
      });
    } finally {
      await harness.close();
    }
  });

  it('reconciles everything on its first start, then follows events', async () => {
    const harness = await startRelayHarness(facts, {
      prefix: `first-start-${profile.name}`,
      scim: profile.scim,
      env: { SOURCE: 'poll' },
      start: false,
    });
    try {
      const { admin } = harness.realm;
      const group = await admin.groups.create({ name: 'existing' });
      const { id } = await admin.users.create({ username: 'existing-user', enabled: true });
      await admin.users.addToGroup({ id, groupId: group.id });
      await harness.relay.start();
      const state = await harness.control.state();
      const user = state.users.find((u) => u.userName === 'existing-user');
      expect(state.groups.find((g) => g.displayName === '/existing')?.members).toEqual([user?.id]);
    } finally {
      await harness.close();
    }
  });
});
