import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RequestLogEntry } from '../../packages/scim-server/src/test-api-schema.js';
import type { ResyncReport } from '../../src/sync/resync.js';
import { resyncCommandWith, resyncWith } from '../support/harness-resync.js';
import { addMemberships, seedGroups, seedUsers } from '../support/keycloak-seed.js';
import { startRelayHarness, type RelayHarness } from '../support/relay-harness.js';
import { describeEachProfile } from '../support/scim-profiles.js';

const facts = inject('testStack');

/** The write requests (anything but GET) the SCIM server received while `work` ran. */
async function writesDuring(harness: RelayHarness, work: () => Promise<unknown>) {
  const before = (await harness.control.requests()).at(-1)?.seq ?? 0;
  await work();
  const after = await harness.control.requests({ since: before });
  return after.filter((r: RequestLogEntry) => r.method !== 'GET');
}

describeEachProfile('resync', (profile) => {
  describe('resync: cold start, idempotence and dry run', () => {
    let h: RelayHarness;
    beforeAll(async () => {
      h = await startRelayHarness(facts, {
        prefix: `resync-cold-${profile.name}`,
        start: false,
        scim: profile.scim,
      });
    });
    afterAll(async () => {
      await h.close();
    });

    it('plans everything on a dry run and writes nothing', async () => {
      const { admin } = h.realm;
      const users = await seedUsers(admin, 6, { prefix: 'cold' });
      const groups = await seedGroups(admin, [
        { name: 'eng', children: [{ name: 'backend' }, { name: 'frontend' }] },
        { name: 'ops' },
      ]);
      const byPath = new Map(groups.map((g) => [g.path, g.id]));
      const id = (path: string): string => byPath.get(path) ?? '';
      const user = (i: number): string => users[i]?.id ?? '';
      await addMemberships(admin, [
        { userId: user(0), groupId: id('/eng/backend') },
        { userId: user(1), groupId: id('/eng/backend') },
        { userId: user(2), groupId: id('/eng') },
        { userId: user(3), groupId: id('/ops') },
      ]);

      let run: Awaited<ReturnType<typeof resyncCommandWith>> | undefined;
      const writes = await writesDuring(h, async () => {
        run = await resyncCommandWith(h, ['--dry-run']);
      });
      expect(writes).toEqual([]);
      expect(h.relay.store.users()).toEqual([]);
      expect(run?.code).toBe(0);
      const out = run?.out ?? [];
      expect(out).toContain('  + create user cold-0000 [' + user(0) + ']');
      expect(out).toContain('  + create group /eng/backend [' + id('/eng/backend') + ']');
      expect(out).toContain(`  + add member cold-0001 to group /eng/backend [${user(1)}]`);
      expect(out).toContain(
        'users:       created 6, updated 0 (adopted 0), deactivated 0, deleted 0, unchanged 0, failed 0',
      );
      expect(out).toContain('memberships: added 4, removed 0, skipped 0, failed 0');
    });

    it('creates every user, group (empty) and membership on a cold resync', async () => {
      let report: ResyncReport = await resyncWith(h, ['--dry-run']);
      const writes = await writesDuring(h, async () => {
        report = await resyncWith(h);
      });
      const groupPosts = writes.filter((w) => w.method === 'POST' && w.scimPath === '/Groups');
      expect(groupPosts).toHaveLength(4);
      for (const post of groupPosts) expect(post.body).not.toHaveProperty('members');
      expect(report.failures).toEqual([]);
      expect(report.users).toMatchObject({ created: 6, failed: 0 });
      expect(report.groups).toMatchObject({ created: 4, failed: 0 });
      expect(report.memberships).toMatchObject({ added: 4, failed: 0 });

      const state = await h.control.state();
      const kcUsers = await h.realm.admin.users.find({ max: 100 });
      expect(state.users.map((u) => u.userName).sort()).toEqual(
        kcUsers.map((u) => u.username ?? '').sort(),
      );
      for (const u of state.users) {
        const twin = kcUsers.find((k) => k.username === u.userName);
        expect(u).toMatchObject({ externalId: twin?.id, active: true, tenantAccess: true });
      }
      const idOf = (name: string) => state.users.find((u) => u.userName === name)?.id;
      const group = (name: string) => state.groups.find((g) => g.displayName === name);
      expect(group('/eng/backend')?.members.sort()).toEqual(
        [idOf('cold-0000'), idOf('cold-0001')].sort(),
      );
      expect(group('/eng')?.members).toEqual([idOf('cold-0002')]);
      expect(group('/eng/frontend')?.members).toEqual([]);
      expect(group('/ops')?.members).toEqual([idOf('cold-0003')]);
      expect(h.relay.store.users()).toHaveLength(6);
      expect(h.relay.store.group(group('/eng/backend')?.externalId ?? '')).toMatchObject({
        scimId: group('/eng/backend')?.id,
        displayName: '/eng/backend',
      });
    });

    it('makes zero write requests when nothing changed', async () => {
      let report: ResyncReport | undefined;
      const writes = await writesDuring(h, async () => {
        report = await resyncWith(h, ['--prune']);
      });
      expect(writes).toEqual([]);
      expect(report?.users).toMatchObject({ created: 0, updated: 0, deleted: 0, unchanged: 6 });
      expect(report?.groups).toMatchObject({ created: 0, updated: 0, deleted: 0, unchanged: 4 });
      expect(report?.memberships).toMatchObject({ added: 0, removed: 0 });
    });

    it('writes only the drift: one renamed user, one removed member', async () => {
      const { admin } = h.realm;
      const [target] = await admin.users.find({ username: 'cold-0004', exact: true });
      const [member] = await admin.users.find({ username: 'cold-0003', exact: true });
      const [ops] = await admin.groups.find({ search: 'ops', exact: true });
      await admin.users.update({ id: target?.id ?? '' }, { firstName: 'Renamed' });
      await admin.users.delFromGroup({ id: member?.id ?? '', groupId: ops?.id ?? '' });

      const writes = await writesDuring(h, () => resyncWith(h));
      expect(
        writes.map((w) => `${w.method} ${(w.scimPath ?? '').split('/')[1] ?? ''}`).sort(),
      ).toEqual(['PATCH Groups', 'PATCH Users']);
      // Only what changed, never a PUT that would clear what other systems set.
      const userPatch = writes.find((w) => w.scimPath?.startsWith('/Users/') === true);
      expect(userPatch?.body).toMatchObject({
        Operations: [{ op: 'replace', path: 'name.givenName', value: 'Renamed' }],
      });
      const state = await h.control.state();
      expect(state.users.find((u) => u.userName === 'cold-0004')?.givenName).toBe('Renamed');
      expect(state.groups.find((g) => g.displayName === '/ops')?.members).toEqual([]);
    });
  });

  describe('resync: adoption', () => {
    let h: RelayHarness;
    beforeAll(async () => {
      h = await startRelayHarness(facts, {
        prefix: `resync-adopt-${profile.name}`,
        start: false,
        scim: profile.scim,
      });
    });
    afterAll(async () => {
      await h.close();
    });

    it('adopts SCIM users and groups that exist already instead of duplicating them', async () => {
      const { admin } = h.realm;
      const seeded = await h.control.seedUser({ userName: 'Adopt.Me', tenantAccess: true });
      const hidden = await h.control.seedUser({ userName: 'elsewhere' });
      const group = await h.relay.scim.createGroup({ displayName: '/shared' });
      const { id: userId } = await admin.users.create({ username: 'adopt.me', enabled: true });
      await admin.users.create({ username: 'elsewhere', enabled: true });
      const { id: groupId } = await admin.groups.create({ name: 'shared' });
      await admin.users.addToGroup({ id: userId, groupId });

      const report = await resyncWith(h);
      expect(report.failures).toEqual([]);
      // Kestra: `elsewhere` has no access here, so the relay creates it and Kestra gives the old
      // id back; a plain server has no such users, so there `elsewhere` is adopted too.
      expect(report.users.adopted).toBe(profile.keepsUsersWithoutAccess ? 1 : 2);
      expect(report.groups.adopted).toBe(1);
      const state = await h.control.state();
      const adopted = state.users.filter((u) => u.userName.toLowerCase() === 'adopt.me');
      expect(adopted).toEqual([
        expect.objectContaining({ id: seeded.id, externalId: userId, userName: 'adopt.me' }),
      ]);
      // A Kestra user without access to this tenant gets it back, under its old id.
      expect(state.users.filter((u) => u.userName === 'elsewhere')).toEqual([
        expect.objectContaining({ id: hidden.id, tenantAccess: true }),
      ]);
      expect(state.groups).toEqual([
        expect.objectContaining({
          id: group.id,
          externalId: groupId,
          members: [seeded.id],
        }),
      ]);
      expect(h.relay.store.user(userId)?.scimId).toBe(seeded.id);
    });
  });

  describe('resync --prune and its guard', () => {
    let h: RelayHarness;
    beforeAll(async () => {
      h = await startRelayHarness(facts, {
        prefix: `resync-prune-${profile.name}`,
        start: false,
        scim: profile.scim,
      });
    });
    afterAll(async () => {
      await h.close();
    });

    it('holds mass deletions back without --yes, then removes only managed leftovers', async () => {
      const { scim } = h.relay;
      await h.realm.admin.users.create({ username: 'keeper', enabled: true });
      const stale = await Promise.all(
        ['stale-1', 'stale-2'].map((userName) =>
          scim.createUser({ userName, externalId: randomUUID(), active: true }),
        ),
      );
      const staleGroup = await scim.createGroup({
        displayName: '/stale',
        externalId: randomUUID(),
      });
      await scim.createUser({ userName: 'hand-made', active: true });
      await scim.createGroup({ displayName: '/hand-made' });

      let held: Awaited<ReturnType<typeof resyncCommandWith>> | undefined;
      const heldWrites = await writesDuring(h, async () => {
        held = await resyncCommandWith(h, [
          '--prune',
          '--max-deletes',
          '2',
          '--max-delete-share',
          '1',
        ]);
      });
      expect(held?.code).toBe(3);
      expect(held?.out).toContain(
        'prune held back: 3 deletions exceed the limit of 2; nothing is deleted without --yes',
      );
      expect(heldWrites.filter((w) => w.method === 'DELETE')).toEqual([]);
      // The rest of the resync still ran.
      expect((await h.control.state()).users.find((u) => u.userName === 'keeper')).toBeDefined();

      const confirmed = await resyncCommandWith(h, [
        '--prune',
        '--max-deletes',
        '2',
        '--max-delete-share',
        '1',
        '--yes',
      ]);
      expect(confirmed.code).toBe(0);
      const state = await h.control.state();
      const user = (name: string) => state.users.find((u) => u.userName === name);
      profile.expectAccessRemoved(user('stale-1'));
      profile.expectAccessRemoved(user('stale-2'));
      expect(user('hand-made')?.tenantAccess).toBe(true);
      expect(user('keeper')?.tenantAccess).toBe(true);
      expect(state.groups.map((g) => g.displayName)).toEqual(['/hand-made']);
      expect(stale).toHaveLength(2);
      expect(state.groups.find((g) => g.id === staleGroup.id)).toBeUndefined();
    });
  });

  describe('resync repairs changes Keycloak does not announce', () => {
    let h: RelayHarness;
    beforeAll(async () => {
      h = await startRelayHarness(facts, {
        prefix: `resync-repair-${profile.name}`,
        start: false,
        scim: profile.scim,
      });
    });
    afterAll(async () => {
      await h.close();
    });

    it('a deleted subtree, default groups, groups in a create body, and a partial import', async () => {
      const { admin, name: realm } = h.realm;
      const [tree] = await seedGroups(admin, [
        { name: 'tree', children: [{ name: 'mid', children: [{ name: 'leaf' }] }] },
      ]);
      const everyone = await admin.groups.create({ name: 'everyone' });
      await admin.groups.create({ name: 'in-body' });
      const [veteran] = await seedUsers(admin, 1, { prefix: 'veteran' });
      await resyncWith(h);
      expect((await h.control.state()).groups.map((g) => g.displayName).sort()).toEqual([
        '/everyone',
        '/in-body',
        '/tree',
        '/tree/mid',
        '/tree/mid/leaf',
      ]);

      // None of these changes is announced for the entities it touches.
      await admin.groups.del({ id: tree?.id ?? '' });
      await admin.realms.addDefaultGroup({ realm, id: everyone.id });
      const { id: newbie } = await admin.users.create({ username: 'newbie', enabled: true });
      const { id: bodied } = await admin.users.create({
        username: 'bodied',
        enabled: true,
        groups: ['/in-body'],
      });
      await admin.realms.partialImport({
        realm,
        rep: {
          ifResourceExists: 'SKIP',
          // Keycloak 25 finds an imported group by its path: without one, the import fails.
          groups: [{ name: 'imported', path: '/imported' }],
          users: [{ username: 'imported-user', enabled: true, groups: ['/imported'] }],
        },
      });

      const report = await resyncWith(h, ['--prune']);
      expect(report.failures).toEqual([]);
      const state = await h.control.state();
      const scimId = (name: string) => state.users.find((u) => u.userName === name)?.id;
      const members = (name: string) =>
        state.groups.find((g) => g.displayName === name)?.members.sort();
      expect(state.groups.map((g) => g.displayName).sort()).toEqual([
        '/everyone',
        '/imported',
        '/in-body',
      ]);
      // Default groups joined at creation: newbie and bodied are in it (a partial import skips them).
      expect(members('/everyone')).toEqual(
        expect.arrayContaining([scimId('newbie'), scimId('bodied')]),
      );
      const kcEveryone = await admin.groups.listMembers({ id: everyone.id, max: 100 });
      expect(members('/everyone')).toEqual(kcEveryone.map((u) => scimId(u.username ?? '')).sort());
      expect(members('/in-body')).toEqual([scimId('bodied')]);
      expect(members('/imported')).toEqual([scimId('imported-user')]);
      expect(state.users.find((u) => u.externalId === newbie)?.userName).toBe('newbie');
      expect(state.users.find((u) => u.externalId === bodied)?.userName).toBe('bodied');
      expect(scimId(veteran?.username ?? '')).toBeDefined();
      expect(h.relay.store.descendantsOf(tree?.id ?? '')).toEqual([]);
      expect(h.relay.store.group(tree?.id ?? '')).toBeUndefined();
    });
  });
});
