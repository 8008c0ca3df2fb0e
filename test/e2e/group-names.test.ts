import type KeycloakAdminClient from '@keycloak/keycloak-admin-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { seedUsers, type SeededUser } from '../support/keycloak-seed.js';
import { expectResyncPlansNothing, resyncCommandWith } from '../support/harness-resync.js';
import { eventually, startRelayHarness, type RelayHarness } from '../support/relay-harness.js';

/**
 * Group names with a `/` in them, against a real Keycloak (run on 25.0.6 and on 26.7.3): a
 * top-level group `a/b` and the child `b` of a group `a` report the same `path` (`/a/b`), and
 * yet get two SCIM displayNames (`/a~/b` and `/a/b`), whichever way the relay hears of them.
 */
const facts = inject('testStack');

/** The groups every case starts from, with the users who are their direct members. */
interface Tree {
  readonly slashed: string;
  readonly a: string;
  readonly b: string;
  readonly c: string;
  readonly tilde: string;
  readonly users: readonly SeededUser[];
}

async function createTree(admin: KeycloakAdminClient, prefix: string): Promise<Tree> {
  const users = await seedUsers(admin, 4, { prefix });
  const slashed = (await admin.groups.create({ name: 'a/b' })).id;
  const a = (await admin.groups.create({ name: 'a' })).id;
  const b = (await admin.groups.createChildGroup({ id: a }, { name: 'b' })).id;
  const c = (await admin.groups.createChildGroup({ id: b }, { name: 'c' })).id;
  const tilde = (await admin.groups.create({ name: 't~1' })).id;
  const joins: [number, string][] = [
    [0, slashed],
    [1, a],
    [2, b],
    [3, c],
  ];
  for (const [index, groupId] of joins) {
    await admin.users.addToGroup({ id: users[index]?.id ?? '', groupId });
  }
  return { slashed, a, b, c, tilde, users };
}

/** The SCIM groups as `displayName → { id, externalId, member userNames }`. */
async function scimGroups(h: RelayHarness) {
  const state = await h.control.state();
  const userName = new Map(state.users.map((u) => [u.id, u.userName]));
  return new Map(
    state.groups.map((g) => [
      g.displayName,
      {
        id: g.id,
        externalId: g.externalId,
        members: g.members.map((m) => userName.get(m) ?? m).sort(),
      },
    ]),
  );
}

describe(`group names with a slash, on Keycloak ${facts.keycloakVersion}`, () => {
  describe('the event path (relay polling), then a rename and a move', () => {
    let h: RelayHarness;
    let tree: Tree;
    beforeAll(async () => {
      h = await startRelayHarness(facts, { prefix: 'group-names-poll', env: { SOURCE: 'poll' } });
      tree = await createTree(h.realm.admin, 'gn');
    });
    afterAll(async () => {
      await h.close();
    });

    it('reads the same raw path for a/b and for b below a, as Keycloak does not escape the slash', async () => {
      const { admin } = h.realm;
      const slashed = await admin.groups.findOne({ id: tree.slashed });
      const child = await admin.groups.findOne({ id: tree.b });
      // Keycloak 25.0.6 and 26.7.3 alike, with the default group provider.
      expect({ slashed: slashed?.path, child: child?.path }).toEqual({
        slashed: '/a/b',
        child: '/a/b',
      });
      const [ofMember] = await admin.users.listGroups({ id: tree.users[0]?.id ?? '' });
      expect(ofMember?.path).toBe('/a/b');
    });

    it('gives a/b, a → b and a → b → c displayNames of their own, with their members', async () => {
      const [u0, u1, u2, u3] = tree.users.map((u) => u.username);
      const groups = await eventually(async () => {
        const now = await scimGroups(h);
        expect(now.get('/a~/b')).toMatchObject({ externalId: tree.slashed, members: [u0] });
        expect(now.get('/a')).toMatchObject({ externalId: tree.a, members: [u1] });
        expect(now.get('/a/b')).toMatchObject({ externalId: tree.b, members: [u2] });
        expect(now.get('/a/b/c')).toMatchObject({ externalId: tree.c, members: [u3] });
        expect(now.get('/t~~1')).toMatchObject({ externalId: tree.tilde, members: [] });
        return now;
      });
      expect(groups.size).toBe(5);
      expect(h.relay.store.parked()).toEqual([]);
      await expectResyncPlansNothing(h);
    });

    it('renames a and its whole subtree, leaving a/b alone, on the same SCIM groups', async () => {
      const before = await scimGroups(h);
      await h.realm.admin.groups.update({ id: tree.a }, { name: 'x' });
      // A new top-level group whose name is what a child b of x has for a path.
      const xb = (await h.realm.admin.groups.create({ name: 'x/b' })).id;
      const after = await eventually(async () => {
        const now = await scimGroups(h);
        expect([...now.keys()].sort()).toEqual(['/a~/b', '/t~~1', '/x', '/x/b', '/x/b/c', '/x~/b']);
        return now;
      });
      expect(after.get('/x')?.id).toBe(before.get('/a')?.id);
      expect(after.get('/x/b')?.id).toBe(before.get('/a/b')?.id);
      expect(after.get('/x/b/c')?.id).toBe(before.get('/a/b/c')?.id);
      expect(after.get('/a~/b')?.id).toBe(before.get('/a~/b')?.id);
      expect(after.get('/x~/b')?.externalId).toBe(xb);
      expect(after.get('/x/b')?.members).toEqual(before.get('/a/b')?.members);
      await expectResyncPlansNothing(h);
    });

    it('moves b to the top level and renames it and c, on the same SCIM groups', async () => {
      const before = await scimGroups(h);
      await h.realm.admin.groups.updateRoot({ id: tree.b, name: 'b' });
      const after = await eventually(async () => {
        const now = await scimGroups(h);
        expect([...now.keys()].sort()).toEqual(['/a~/b', '/b', '/b/c', '/t~~1', '/x', '/x~/b']);
        return now;
      });
      expect(after.get('/b')?.id).toBe(before.get('/x/b')?.id);
      expect(after.get('/b/c')?.id).toBe(before.get('/x/b/c')?.id);
      expect(after.get('/b/c')?.members).toEqual(before.get('/x/b/c')?.members);
      expect(h.relay.store.parked()).toEqual([]);
      await expectResyncPlansNothing(h);
    });
  });

  describe('a realm provisioned under the old rule (displayName = Keycloak path)', () => {
    let h: RelayHarness;
    let tree: Tree;
    /** SCIM id of each group created under the old rule, by its old displayName. */
    const old = new Map<string, string>();

    /** A SCIM group as the relay made it before: the path for its name, linked in the id map. */
    async function oldGroup(
      displayName: string,
      keycloakId: string,
      parentId: string | undefined,
    ): Promise<void> {
      const response = await fetch(`${h.server.baseUrl}/Groups`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${h.scimToken}`,
          'content-type': 'application/scim+json',
        },
        body: JSON.stringify({
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
          displayName,
          externalId: keycloakId,
        }),
      });
      expect(response.status).toBe(201);
      const { id } = (await response.json()) as { id: string };
      old.set(displayName, id);
      h.relay.store.putGroup({ keycloakId, scimId: id, displayName, parentId });
      h.relay.store.putGroupNode(keycloakId, parentId);
    }

    beforeAll(async () => {
      h = await startRelayHarness(facts, {
        prefix: 'group-names-migration',
        env: { SOURCE: 'poll' },
        start: false,
      });
      tree = await createTree(h.realm.admin, 'gm');
      // Under the old rule a/b, seen first, took /a/b; b below a was refused it and parked.
      await oldGroup('/a/b', tree.slashed, undefined);
      await oldGroup('/a', tree.a, undefined);
      await oldGroup('/a/b/c', tree.c, tree.b);
      await oldGroup('/t~1', tree.tilde, undefined);
    });
    afterAll(async () => {
      await h.close();
    });

    it('shows the renames in a dry run, and writes nothing', async () => {
      const stateBefore = await h.control.state();
      const run = await resyncCommandWith(h, ['--dry-run']);
      // For the report: the dry run as an operator sees it.
      console.info(`Keycloak ${facts.keycloakVersion} dry run:\n${run.out.join('\n')}`);
      expect(run.code).toBe(0);
      expect(run.out).toContain(`  ~ rename group /a/b → /a~/b [${tree.slashed}]`);
      expect(run.out).toContain(`  ~ rename group /t~1 → /t~~1 [${tree.tilde}]`);
      expect(run.out).toContain(
        `  … wait group /a/b [${tree.b}] (its name is held by the SCIM group of Keycloak group ${tree.slashed}, which changes first)`,
      );
      expect(run.out.filter((line) => line.includes('create group'))).toEqual([]);
      // a and c keep their names: no write of their own, only their members join.
      expect(
        run.out.filter((line) =>
          /^ {2}\S (create|update|rename|adopt) group \/a(\/b\/c)? /.test(line),
        ),
      ).toEqual([]);
      expect(await h.control.state()).toEqual(stateBefore);
    });

    it('renames the old SCIM groups in place and creates /a/b for b below a, once', async () => {
      const run = await resyncCommandWith(h, []);
      expect(run.code).toBe(0);
      const groups = await scimGroups(h);
      const [u0, u1, u2, u3] = tree.users.map((u) => u.username);
      expect([...groups.keys()].sort()).toEqual(['/a', '/a/b', '/a/b/c', '/a~/b', '/t~~1']);
      expect(groups.get('/a~/b')).toEqual({
        id: old.get('/a/b'),
        externalId: tree.slashed,
        members: [u0],
      });
      expect(groups.get('/t~~1')?.id).toBe(old.get('/t~1'));
      expect(groups.get('/a')).toEqual({ id: old.get('/a'), externalId: tree.a, members: [u1] });
      expect(groups.get('/a/b/c')).toEqual({
        id: old.get('/a/b/c'),
        externalId: tree.c,
        members: [u3],
      });
      expect(groups.get('/a/b')).toMatchObject({ externalId: tree.b, members: [u2] });
      expect([...old.values()]).not.toContain(groups.get('/a/b')?.id);
      expect(h.relay.store.group(tree.slashed)?.displayName).toBe('/a~/b');
      await expectResyncPlansNothing(h);
    });

    it('keeps them so once the relay runs, and follows a rename of a/b by its event', async () => {
      await h.relay.start();
      await h.realm.admin.groups.update({ id: tree.slashed }, { name: 'a/b/z' });
      const groups = await eventually(async () => {
        const now = await scimGroups(h);
        expect(now.has('/a~/b~/z')).toBe(true);
        return now;
      });
      expect(groups.get('/a~/b~/z')?.id).toBe(old.get('/a/b'));
      expect([...groups.keys()].sort()).toEqual(['/a', '/a/b', '/a/b/c', '/a~/b~/z', '/t~~1']);
      await expectResyncPlansNothing(h);
    });
  });
});
