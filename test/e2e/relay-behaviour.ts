import { expect, it } from 'vitest';
import type { ScimServerState } from '../../packages/scim-server/src/test-api-schema.js';
import { eventually, type RelayHarness } from '../support/relay-harness.js';
import type { ScimProfileCase } from '../support/scim-profiles.js';

/**
 * The behaviours of issue "run", driven through Keycloak's admin API and asserted on the SCIM
 * server's state. Shared by the poll and the AMQP suites: both sources must pass all of them,
 * against each SCIM profile (`profile` says where that server legitimately differs).
 */
export function relayBehaviour(harness: () => RelayHarness, profile: ScimProfileCase): void {
  const state = (): Promise<ScimServerState> => harness().control.state();
  const userNamed = async (userName: string) => {
    const found = (await state()).users.find((u) => u.userName === userName);
    if (found === undefined) throw new Error(`no SCIM user ${userName} yet`);
    return found;
  };
  const groupNamed = async (displayName: string) => {
    const found = (await state()).groups.find((g) => g.displayName === displayName);
    if (found === undefined) throw new Error(`no SCIM group ${displayName} yet`);
    return found;
  };

  it('creates a user with its names, primary email, active flag and Keycloak id', async () => {
    const { admin } = harness().realm;
    const { id } = await admin.users.create({
      username: 'ada',
      email: 'ada@example.test',
      firstName: 'Ada',
      lastName: 'Lovelace',
      enabled: true,
    });
    const user = await eventually(() => userNamed('ada'));
    expect(user).toMatchObject({
      externalId: id,
      active: true,
      tenantAccess: true,
      givenName: 'Ada',
      familyName: 'Lovelace',
    });
    expect(user.emails).toEqual([
      expect.objectContaining({ value: 'ada@example.test', primary: true }),
    ]);
  });

  it('updates the same SCIM user when the username, email or name change', async () => {
    const { admin } = harness().realm;
    const { id } = await admin.users.create({
      username: 'grace',
      email: 'g@example.test',
      enabled: true,
    });
    const before = await eventually(() => userNamed('grace'));
    await admin.realms.update({ realm: harness().realm.name }, { editUsernameAllowed: true });
    await admin.users.update(
      { id },
      { username: 'grace.hopper', email: 'grace@example.test', firstName: 'Grace' },
    );
    const after = await eventually(async () => {
      const u = await userNamed('grace.hopper');
      expect(u.emails[0]?.value).toBe('grace@example.test');
      return u;
    });
    expect(after.id).toBe(before.id);
    expect(after.givenName).toBe('Grace');
    expect((await state()).users.filter((u) => u.externalId === id)).toHaveLength(1);
  });

  it('deactivates a disabled user and reactivates an enabled one', async () => {
    const { admin } = harness().realm;
    const { id } = await admin.users.create({ username: 'toggle', enabled: true });
    await eventually(() => userNamed('toggle'));
    await admin.users.update({ id }, { enabled: false });
    await eventually(async () => {
      expect((await userNamed('toggle')).active).toBe(false);
    });
    await admin.users.update({ id }, { enabled: true });
    await eventually(async () => {
      expect((await userNamed('toggle')).active).toBe(true);
    });
  });

  it('adopts an existing SCIM user with the same userName instead of duplicating it', async () => {
    const { admin } = harness().realm;
    const seeded = await harness().control.seedUser({ userName: 'preexisting' });
    const { id } = await admin.users.create({ username: 'preexisting', enabled: true });
    const user = await eventually(async () => {
      const u = await userNamed('preexisting');
      expect(u.externalId).toBe(id);
      return u;
    });
    expect(user.id).toBe(seeded.id);
    expect((await state()).users.filter((u) => u.userName === 'preexisting')).toHaveLength(1);
  });

  it('removes the tenant access of a deleted user', async () => {
    const { admin } = harness().realm;
    const { id } = await admin.users.create({ username: 'leaver', enabled: true });
    await eventually(() => userNamed('leaver'));
    await admin.users.del({ id });
    await eventually(async () => {
      profile.expectAccessRemoved((await state()).users.find((u) => u.userName === 'leaver'));
    });
  });

  it('creates groups by path, so same-named groups under different parents do not collide', async () => {
    const { admin } = harness().realm;
    const eng = await admin.groups.create({ name: 'eng' });
    const ops = await admin.groups.create({ name: 'ops' });
    const engTeam = await admin.groups.createChildGroup({ id: eng.id }, { name: 'team' });
    const opsTeam = await admin.groups.createChildGroup({ id: ops.id }, { name: 'team' });
    const a = await eventually(() => groupNamed('/eng/team'));
    const b = await eventually(() => groupNamed('/ops/team'));
    expect(a.externalId).toBe(engTeam.id);
    expect(b.externalId).toBe(opsTeam.id);
  });

  it('renames a group and every descendant path with it', async () => {
    const { admin } = harness().realm;
    const top = await admin.groups.create({ name: 'sales' });
    const child = await admin.groups.createChildGroup({ id: top.id }, { name: 'emea' });
    await eventually(() => groupNamed('/sales/emea'));
    await admin.groups.update({ id: top.id }, { name: 'revenue' });
    const renamed = await eventually(() => groupNamed('/revenue/emea'));
    expect(renamed.externalId).toBe(child.id);
    await eventually(() => groupNamed('/revenue'));
    const names = (await state()).groups.map((g) => g.displayName);
    expect(names).not.toContain('/sales');
    expect(names).not.toContain('/sales/emea');
  });

  it('adds and removes one member with a PATCH each', async () => {
    const { admin } = harness().realm;
    const group = await admin.groups.create({ name: 'members' });
    const { id } = await admin.users.create({ username: 'joiner', enabled: true });
    const user = await eventually(() => userNamed('joiner'));
    await eventually(() => groupNamed('/members'));
    await admin.users.addToGroup({ id, groupId: group.id });
    await eventually(async () => {
      expect((await groupNamed('/members')).members).toEqual([user.id]);
    });
    await admin.users.delFromGroup({ id, groupId: group.id });
    await eventually(async () => {
      expect((await groupNamed('/members')).members).toEqual([]);
    });
  });

  it('provisions a member that is missing on the SCIM side before adding it', async () => {
    const { admin } = harness().realm;
    const group = await admin.groups.create({ name: 'late' });
    const { id } = await admin.users.create({ username: 'latecomer', enabled: true });
    const user = await eventually(() => userNamed('latecomer'));
    // Someone removed the user's tenant access in Kestra (or, on a plain server, the user)
    // behind the relay's back.
    await fetch(`${harness().server.baseUrl}/Users/${user.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${harness().scimToken}` },
    });
    await admin.users.addToGroup({ id, groupId: group.id });
    await eventually(async () => {
      const restored = await userNamed('latecomer');
      expect(restored.tenantAccess).toBe(true);
      expect((await groupNamed('/late')).members).toEqual([restored.id]);
    });
  });

  it('deletes a group together with the SCIM groups of its whole subtree', async () => {
    const { admin } = harness().realm;
    const root = await admin.groups.create({ name: 'doomed' });
    const mid = await admin.groups.createChildGroup({ id: root.id }, { name: 'mid' });
    await admin.groups.createChildGroup({ id: mid.id }, { name: 'leaf' });
    await eventually(() => groupNamed('/doomed/mid/leaf'));
    await admin.groups.del({ id: root.id });
    await eventually(async () => {
      const names = (await state()).groups.map((g) => g.displayName);
      expect(names.filter((n) => n.startsWith('/doomed'))).toEqual([]);
    });
  });

  it('reconciles a user after a self-service profile update (a user event)', async () => {
    const { admin, name: realmName } = harness().realm;
    const { id } = await admin.users.create({
      username: 'selfie',
      email: 'selfie@example.test',
      firstName: 'Old',
      lastName: 'Name',
      enabled: true,
      emailVerified: true,
    });
    await admin.users.resetPassword({
      id,
      credential: { type: 'password', value: 'Pa55-word!', temporary: false },
    });
    await eventually(() => userNamed('selfie'));
    // The account console's client may log a user in directly, for this test only.
    const [accountConsole] = await admin.clients.find({ clientId: 'account-console' });
    if (accountConsole?.id === undefined) throw new Error('no account-console client');
    await admin.clients.update(
      { id: accountConsole.id },
      { ...accountConsole, directAccessGrantsEnabled: true },
    );
    const base = harness().relay.config.keycloak.url;
    const token = await fetch(`${base}/realms/${realmName}/protocol/openid-connect/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'password',
        client_id: 'account-console',
        username: 'selfie',
        password: 'Pa55-word!',
      }).toString(),
    });
    expect(token.status).toBe(200);
    const { access_token: accessToken } = (await token.json()) as { access_token: string };
    const update = await fetch(`${base}/realms/${realmName}/account/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        username: 'selfie',
        email: 'selfie@example.test',
        firstName: 'New',
        lastName: 'Name',
      }),
    });
    expect(update.status).toBeLessThan(300);
    await eventually(async () => {
      expect((await userNamed('selfie')).givenName).toBe('New');
    });
  });
}
