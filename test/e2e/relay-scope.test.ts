import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { eventually, startRelayHarness, type RelayHarness } from '../support/relay-harness.js';
import { describeEachProfile } from '../support/scim-profiles.js';

describeEachProfile('run and resync with a provisioning scope', (profile) => {
  const facts = inject('testStack');
  let harness: RelayHarness;

  const state = () => harness.control.state();
  const scimUser = async (userName: string) =>
    (await state()).users.find((u) => u.userName === userName);

  beforeAll(async () => {
    harness = await startRelayHarness(facts, {
      prefix: `scope-${profile.name}`,
      scim: profile.scim,
      env: { SOURCE: 'poll', SCOPE_GROUPS: '/kestra-users', SCOPE_GROUP_PATH: '/kestra' },
    });
  });
  afterAll(async () => {
    await harness.close();
  });

  it('provisions a user who enters the scope and deprovisions one who leaves it', async () => {
    const { admin } = harness.realm;
    const gate = await admin.groups.create({ name: 'kestra-users' });
    const { id } = await admin.users.create({ username: 'outsider', enabled: true });
    // Not in a scope group: never provisioned.
    await harness.relay.engine.reconciler.reconcileUser(id, { why: 'test' });
    expect(await scimUser('outsider')).toBeUndefined();

    await admin.users.addToGroup({ id, groupId: gate.id });
    await eventually(async () => {
      expect((await scimUser('outsider'))?.tenantAccess).toBe(true);
    });

    await admin.users.delFromGroup({ id, groupId: gate.id });
    await eventually(async () => {
      profile.expectAccessRemoved(await scimUser('outsider'));
    });
  });

  it('provisions only groups at or below the scope path', async () => {
    const { admin } = harness.realm;
    const kestra = await admin.groups.create({ name: 'kestra' });
    await admin.groups.createChildGroup({ id: kestra.id }, { name: 'admins' });
    await admin.groups.create({ name: 'finance' });
    await eventually(async () => {
      const names = (await state()).groups.map((g) => g.displayName);
      expect(names).toContain('/kestra/admins');
    });
    const names = (await state()).groups.map((g) => g.displayName);
    expect(names).not.toContain('/finance');
    expect(names).not.toContain('/kestra-users');
  });

  it('makes a full reconcile apply the same scope', async () => {
    const { admin } = harness.realm;
    const [gate] = await admin.groups.find({ search: 'kestra-users', exact: true });
    if (gate?.id === undefined) throw new Error('no /kestra-users group');
    const { id } = await admin.users.create({ username: 'insider', enabled: true });
    await admin.users.addToGroup({ id, groupId: gate.id });
    await admin.users.create({ username: 'bystander', enabled: true });
    await harness.relay.reconcileAll();
    expect((await scimUser('insider'))?.tenantAccess).toBe(true);
    expect(await scimUser('bystander')).toBeUndefined();
    expect((await state()).groups.map((g) => g.displayName)).not.toContain('/finance');
  });
});
