import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { deleteRelayQueues } from '../support/amqp-fixtures.js';
import { mapWithConcurrency } from '../support/concurrency.js';
import { eventually, startRelayHarness, type RelayHarness } from '../support/relay-harness.js';
import { describeEachProfile } from '../support/scim-profiles.js';

/**
 * The relay listens on a RabbitMQ exchange that nobody publishes to, as when the lossy listener
 * drops everything, and the backstop is off: only the periodic verification, in slices of the
 * interval, can bring these changes to SCIM.
 */
describeEachProfile('run repairs, in the background, what no event announced', (profile) => {
  const facts = inject('testStack');
  // Per profile: each suite has its own exchange, queue and realm.
  const suffix = `${profile.name}-${randomUUID().slice(0, 8)}`;
  const exchange = `test-silent-${suffix}`;
  const queue = `test-relay-background-${suffix}`;
  let harness: RelayHarness;

  const state = () => harness.control.state();
  const membersOf = async (displayName: string) => {
    const s = await state();
    const group = s.groups.find((g) => g.displayName === displayName);
    if (group === undefined) throw new Error(`no SCIM group ${displayName} yet`);
    return group.members.map((id) => s.users.find((u) => u.id === id)?.userName).sort();
  };

  beforeAll(async () => {
    const connection = await connect(facts.amqpUrl);
    const channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: false });
    await connection.close();
    harness = await startRelayHarness(facts, {
      prefix: `background-${profile.name}`,
      scim: profile.scim,
      env: {
        SOURCE: 'amqp',
        AMQP_URL: facts.amqpUrl,
        AMQP_EXCHANGE: exchange,
        AMQP_QUEUE: queue,
        RESYNC_INTERVAL_MS: '1500',
        BACKSTOP_INTERVAL_MS: '0',
      },
    });
  });
  afterAll(async () => {
    await harness.close();
    await deleteRelayQueues(facts.amqpUrl, queue, exchange);
  });

  it('adds a user created with groups in the body to those groups', async () => {
    const { admin } = harness.realm;
    await admin.groups.create({ name: 'in-body' });
    await admin.users.create({ username: 'bodied', enabled: true, groups: ['/in-body'] });
    await eventually(async () => {
      expect(await membersOf('/in-body')).toEqual(['bodied']);
    });
  });

  it('adds a new user to the realm’s default groups', async () => {
    const { admin, name } = harness.realm;
    const group = await admin.groups.create({ name: 'everyone' });
    await admin.realms.addDefaultGroup({ realm: name, id: group.id });
    try {
      await admin.users.create({ username: 'newcomer', enabled: true });
      await eventually(async () => {
        expect(await membersOf('/everyone')).toContain('newcomer');
      });
    } finally {
      await admin.realms.removeDefaultGroup({ realm: name, id: group.id });
    }
  });

  it('deletes the SCIM groups of a subtree deleted with its parent', async () => {
    const { admin } = harness.realm;
    const top = await admin.groups.create({ name: 'tree' });
    const mid = await admin.groups.createChildGroup({ id: top.id }, { name: 'branch' });
    await admin.groups.createChildGroup({ id: mid.id }, { name: 'leaf' });
    await eventually(() => membersOf('/tree/branch/leaf'));
    await admin.groups.del({ id: top.id });
    await eventually(async () => {
      const names = (await state()).groups.map((g) => g.displayName);
      expect(names.filter((n) => n.startsWith('/tree'))).toEqual([]);
    });
  });

  it('provisions what a partial import brought in', async () => {
    const { admin, name } = harness.realm;
    await admin.realms.partialImport({
      realm: name,
      rep: {
        ifResourceExists: 'SKIP',
        // Keycloak 25 finds an imported group by its path: without one, the import fails.
        groups: [{ name: 'imported', path: '/imported' }],
        users: [{ username: 'imported-user', enabled: true, groups: ['/imported'] }],
      },
    });
    await eventually(async () => {
      expect(await membersOf('/imported')).toEqual(['imported-user']);
    });
  });

  it('ends in the right state when changes keep coming during a full reconcile', async () => {
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
    // Change half of them while a full reconcile runs, and tell the relay as a source would.
    const full = harness.relay.reconcileAll();
    await mapWithConcurrency(ids.slice(0, 20), 4, async (id, i) => {
      await admin.users.update({ id }, { enabled: false, firstName: `changed-${i}` });
      void harness.relay.submit({ kind: 'user', userId: id });
    });
    await full;
    // Keycloak, not what this test sent, is what SCIM must match: under load, Keycloak 26.7.3
    // was seen to apply `enabled: false` and drop the `firstName` of the same update, and to
    // answer so from then on, to its admin console as to the relay.
    const inKeycloak = await mapWithConcurrency(ids, 8, async (id) => {
      const user = await admin.users.findOne({ id });
      return { id, enabled: user?.enabled, firstName: user?.firstName };
    });
    expect(inKeycloak.map((u) => u.enabled)).toEqual(ids.map((_, i) => i >= 20));
    // That took about one update in 800 here: most new names must have stuck, or this proves little.
    const renamed = inKeycloak.filter((u) => u.firstName?.startsWith('changed-') === true);
    expect(renamed.length).toBeGreaterThanOrEqual(15);
    await eventually(async () => {
      const users = (await state()).users.filter((u) => u.userName.startsWith('busy-'));
      expect(users).toHaveLength(40);
      for (const { id, enabled, firstName } of inKeycloak) {
        const user = users.find((u) => u.externalId === id);
        expect(user?.active, `the SCIM twin of Keycloak user ${id}`).toBe(enabled);
        expect(user?.givenName, `the SCIM twin of Keycloak user ${id}`).toBe(firstName);
      }
    });
  });
});
