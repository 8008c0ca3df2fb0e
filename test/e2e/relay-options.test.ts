import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { eventually, startRelayHarness, type RelayHarness } from '../support/relay-harness.js';
import { describeEachProfile } from '../support/scim-profiles.js';

describeEachProfile('run with the other mapping choices', (profile) => {
  const facts = inject('testStack');
  let harness: RelayHarness;

  const state = () => harness.control.state();
  const group = async (displayName: string) => {
    const found = (await state()).groups.find((g) => g.displayName === displayName);
    if (found === undefined) throw new Error(`no SCIM group ${displayName} yet`);
    return found;
  };
  const user = async (userName: string) => {
    const found = (await state()).users.find((u) => u.userName === userName);
    if (found === undefined) throw new Error(`no SCIM user ${userName} yet`);
    return found;
  };

  beforeAll(async () => {
    harness = await startRelayHarness(facts, {
      prefix: `options-${profile.name}`,
      scim: profile.scim,
      env: {
        SOURCE: 'poll',
        USERNAME_SOURCE: 'email',
        GROUP_NAME_SOURCE: 'name',
        USER_DELETE_MODE: 'deactivate',
        MEMBERSHIP_MODE: 'inherited',
      },
    });
  });
  afterAll(async () => {
    await harness.close();
  });

  it('takes the SCIM userName from the email', async () => {
    await harness.realm.admin.users.create({
      username: 'bob',
      email: 'bob@example.test',
      enabled: true,
    });
    expect((await eventually(() => user('bob@example.test'))).active).toBe(true);
  });

  it('deactivates a deleted user instead of removing its tenant access', async () => {
    const { id } = await harness.realm.admin.users.create({
      username: 'carol',
      email: 'carol@example.test',
      enabled: true,
    });
    await eventually(() => user('carol@example.test'));
    await harness.realm.admin.users.del({ id });
    await eventually(async () => {
      const carol = await user('carol@example.test');
      expect(carol.active).toBe(false);
      expect(carol.tenantAccess).toBe(true);
    });
  });

  it('counts a member of a child group as a member of its ancestors', async () => {
    const { admin } = harness.realm;
    const top = await admin.groups.create({ name: 'division' });
    const child = await admin.groups.createChildGroup({ id: top.id }, { name: 'squad' });
    const { id } = await admin.users.create({
      username: 'dan',
      email: 'dan@example.test',
      enabled: true,
    });
    const dan = await eventually(() => user('dan@example.test'));
    await admin.users.addToGroup({ id, groupId: child.id });
    await eventually(async () => {
      expect((await group('squad')).members).toEqual([dan.id]);
      expect((await group('division')).members).toEqual([dan.id]);
    });
    await admin.users.delFromGroup({ id, groupId: child.id });
    await eventually(async () => {
      expect((await group('squad')).members).toEqual([]);
      expect((await group('division')).members).toEqual([]);
    });
  });

  it('parks, with a reason that says what to do, a group whose name collides', async () => {
    const { admin } = harness.realm;
    const a = await admin.groups.create({ name: 'alpha' });
    const b = await admin.groups.create({ name: 'beta' });
    const first = await admin.groups.createChildGroup({ id: a.id }, { name: 'shared' });
    const second = await admin.groups.createChildGroup({ id: b.id }, { name: 'shared' });
    // Whichever reaches SCIM second is parked; which one that is depends on scheduling.
    const keys = [`group:${first.id}`, `group:${second.id}`];
    await eventually(() => {
      const parked = harness.relay.store.parked().filter((p) => keys.includes(p.key));
      expect(parked).toHaveLength(1);
      expect(parked[0]?.reason).toMatch(
        /already belongs to Keycloak group .*GROUP_NAME_SOURCE=path/,
      );
    });
    expect((await state()).groups.filter((g) => g.displayName === 'shared')).toHaveLength(1);
  });
});
