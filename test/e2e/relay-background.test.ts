import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mapWithConcurrency } from '../support/concurrency.js';
import { eventually, startRelayHarness, type RelayHarness } from '../support/relay-harness.js';

describe('run repairs what Keycloak never announces', () => {
  const facts = inject('testStack');
  let harness: RelayHarness;

  const state = () => harness.control.state();
  const membersOf = async (displayName: string) => {
    const s = await state();
    const group = s.groups.find((g) => g.displayName === displayName);
    if (group === undefined) throw new Error(`no SCIM group ${displayName} yet`);
    return group.members.map((id) => s.users.find((u) => u.id === id)?.userName);
  };

  beforeAll(async () => {
    harness = await startRelayHarness(facts, {
      prefix: 'background',
      env: { SOURCE: 'poll', RESYNC_INTERVAL_MS: '1500' },
    });
  });
  afterAll(async () => {
    await harness.close();
  });

  it('adds a user created with groups in the body to those groups', async () => {
    const { admin } = harness.realm;
    await admin.groups.create({ name: 'in-body' });
    await eventually(() => membersOf('/in-body'));
    await admin.users.create({ username: 'bodied', enabled: true, groups: ['/in-body'] });
    await eventually(async () => { expect(await membersOf('/in-body')).toEqual(['bodied']); });
  });

  it('adds a new user to the realm’s default groups', async () => {
    const { admin, name } = harness.realm;
    const group = await admin.groups.create({ name: 'everyone' });
    await admin.realms.addDefaultGroup({ realm: name, id: group.id });
    try {
      await admin.users.create({ username: 'newcomer', enabled: true });
      await eventually(async () => { expect(await membersOf('/everyone')).toEqual(['newcomer']); });
    } finally {
      await admin.realms.removeDefaultGroup({ realm: name, id: group.id });
    }
  });

  it('ends in the right state when events keep arriving during a full reconcile', async () => {
    const { admin } = harness.realm;
    const ids = await mapWithConcurrency(
      Array.from({ length: 40 }, (_, i) => i),
      8,
      async (i) => (await admin.users.create({ username: `busy-${i}`, enabled: true })).id,
    );
    await eventually(async () => {
      const names = (await state()).users.map((u) => u.userName);
      expect(names.filter((n) => n.startsWith('busy-'))).toHaveLength(40);
    });
    // Change half of them while a full reconcile runs.
    const full = harness.relay.reconcileAll();
    await mapWithConcurrency(ids.slice(0, 20), 4, async (id, i) => {
      await admin.users.update({ id }, { enabled: false, firstName: `changed-${i}` });
    });
    await full;
    await eventually(async () => {
      const users = (await state()).users.filter((u) => u.userName.startsWith('busy-'));
      expect(users).toHaveLength(40);
      for (const [i, id] of ids.entries()) {
        const user = users.find((u) => u.externalId === id);
        expect(user?.active).toBe(i >= 20);
        expect(user?.givenName).toBe(i < 20 ? `changed-${i}` : undefined);
      }
    });
  });
});
