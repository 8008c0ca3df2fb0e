import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ProfileName } from '../../packages/scim-server/src/profile.js';
import type {
  RequestLogEntry,
  ScimServerState,
  StateGroup,
} from '../../packages/scim-server/src/test-api-schema.js';
import { deleteRelayQueues } from '../support/amqp-fixtures.js';
import { expectResyncPlansNothing } from '../support/harness-resync.js';
import { mapWithConcurrency } from '../support/concurrency.js';
import { ListenerSimulator } from '../support/listener-simulator.js';
import { eventually, startRelayHarness, type RelayHarness } from '../support/relay-harness.js';
import { createTestRealm } from '../support/test-realm.js';

/**
 * Races that the relay must make harmless, with the relay running against a real Keycloak and
 * taking its events from RabbitMQ: a DELETE that is still on its way while Keycloak already has
 * a new entity under the same name, and many member adds to one group at once.
 *
 * AMQP rather than polling: the relay takes up to AMQP_PREFETCH messages at once, so the hints
 * of a delete and of the create that follows it run side by side whenever they arrive, while a
 * poll that caught only the delete would finish it before reading the create.
 *
 * Each try uses its own names, and the slow DELETE is injected for the one SCIM resource the
 * try deletes, so tries are independent and run five at a time; CONCURRENCY is raised so that
 * the hints of a batch all run at once, as one try's hints would with the default of 4.
 */
const TRIES = 20;
const BATCH = 5;
const SLOW_DELETE_MS = 1_500;
/** Members added to one group at once. */
const CROWD = 12;

const PROFILES: readonly { profile: ProfileName; patchDelayMs?: number }[] = [
  { profile: 'kestra' },
  // Reads, waits 50 ms and writes back without a lock: two PATCHes to one group at once lose one.
  { profile: 'generic', patchDelayMs: 50 },
];

describe.each(PROFILES)('races with the relay running, $profile SCIM profile', (scim) => {
  const facts = inject('testStack');
  const suffix = randomUUID().slice(0, 8);
  const exchange = `test-races-${suffix}`;
  const queue = `test-races-${suffix}`;
  let h: RelayHarness;
  let listener: ListenerSimulator;
  /** Users and groups that no race touches: no DELETE may reach them. */
  let bystanders: { users: string[]; groups: string[] };
  /** Keycloak ids of the bystander users (kept in the bystander groups). */
  let keepers: string[];

  beforeAll(async () => {
    const realm = await createTestRealm(facts, { prefix: `races-${scim.profile}` });
    listener = await ListenerSimulator.start({
      amqpUrl: facts.amqpUrl,
      admin: realm.admin,
      realm: realm.name,
      exchange,
    });
    h = await startRelayHarness(facts, {
      prefix: `races-${scim.profile}`,
      realm,
      scim,
      env: {
        SOURCE: 'amqp',
        AMQP_URL: facts.amqpUrl,
        AMQP_EXCHANGE: exchange,
        AMQP_QUEUE: queue,
        CONCURRENCY: '16',
      },
    });
    const { admin } = realm;
    keepers = await mapWithConcurrency(
      ['keeper-1', 'keeper-2', 'keeper-3'],
      3,
      async (username) => {
        const { id } = await admin.users.create({ username, enabled: true });
        return id;
      },
    );
    const keep = await admin.groups.create({ name: 'keep' });
    const sub = await admin.groups.createChildGroup({ id: keep.id }, { name: 'sub' });
    const [first, second] = keepers;
    await admin.users.addToGroup({ id: first ?? '', groupId: keep.id });
    await admin.users.addToGroup({ id: second ?? '', groupId: sub.id });
    const state = await eventually(async () => {
      const now = await h.control.state();
      expect(now.users.filter((u) => keepers.includes(u.externalId ?? ''))).toHaveLength(3);
      expect(groupOf(now, keep.id)?.members).toHaveLength(1);
      expect(groupOf(now, sub.id)?.members).toHaveLength(1);
      return now;
    });
    bystanders = {
      users: state.users.filter((u) => keepers.includes(u.externalId ?? '')).map((u) => u.id),
      groups: [keep.id, sub.id].map((id) => groupOf(state, id)?.id ?? ''),
    };
  });

  afterAll(async () => {
    await h.close();
    await listener.stop();
    await h.realm.delete();
    await deleteRelayQueues(facts.amqpUrl, queue);
  });

  /** The sequence number of the last SCIM request so far. */
  const lastSeq = async (): Promise<number> => (await h.control.requests()).at(-1)?.seq ?? 0;

  /** Bystanders are all there, with the same SCIM ids and the members they had. */
  const expectBystandersIntact = (state: ScimServerState, before: ScimServerState): void => {
    for (const id of bystanders.users) {
      expect(state.users.find((u) => u.id === id)).toMatchObject({ tenantAccess: true });
    }
    for (const id of bystanders.groups) {
      const was = before.groups.find((g) => g.id === id);
      expect(state.groups.find((g) => g.id === id)?.members.sort()).toEqual(was?.members.sort());
    }
  };

  /**
   * Each try ended one of the two harmless ways: the old twin was deleted (through the slow
   * DELETE), or the new entity took it over before the old one's reconcile came to delete it,
   * which then found it taken and left it alone. No DELETE went anywhere else, and at least
   * some tries did race the slow DELETE.
   */
  const expectEachTryDeletedOrTookOver = async (
    resource: 'Users' | 'Groups',
    twins: readonly string[],
    since: number,
    liveIds: () => Promise<string[]>,
  ): Promise<void> => {
    const deletes = (await h.control.requests({ since })).filter(
      (r: RequestLogEntry) => r.method === 'DELETE',
    );
    const paths = twins.map((id) => `/${resource}/${id}`);
    expect(deletes.map((d) => d.scimPath).filter((p) => !paths.includes(p ?? ''))).toEqual([]);
    const deleted = new Set(deletes.map((d) => d.scimPath));
    const live = new Set(await liveIds());
    const outcomes = twins.map((id, i) =>
      deleted.has(paths[i] ?? '') ? 'deleted' : live.has(id) ? 'taken over' : 'neither',
    );
    expect(outcomes.filter((o) => o === 'neither')).toEqual([]);
    const slowed = deletes.filter((d) => d.fault !== undefined).length;
    console.info(
      `${scim.profile}: ${slowed} of ${twins.length} ${resource} tries raced a slow DELETE; ` +
        `${outcomes.filter((o) => o === 'taken over').length} had the old twin taken over`,
    );
    expect(slowed).toBeGreaterThan(0);
    // Faults of tries that took over were never consumed: none may slow a later test.
    await h.control.clearFaults();
  };

  /** A full reconcile (`resync --dry-run --prune`) with the relay's own parts plans nothing. */

  it(`deletes a group and at once re-creates it under its name, ${TRIES} times with a slow DELETE`, async () => {
    const { admin } = h.realm;
    const [keeper] = keepers;
    const names = Array.from({ length: TRIES }, (_, i) => `x-${i + 1}`);
    // The groups to delete, each with a member that must outlive it, provisioned first.
    const olds = await mapWithConcurrency(names, 8, async (name) => {
      const { id } = await admin.groups.create({ name });
      await admin.users.addToGroup({ id: keeper ?? '', groupId: id });
      return id;
    });
    const before = await eventually(async () => {
      const state = await h.control.state();
      for (const id of olds) expect(groupOf(state, id)?.members).toHaveLength(1);
      return state;
    });
    const twins = olds.map((id) => groupOf(before, id)?.id ?? '');
    const since = await lastSeq();

    for (let start = 0; start < TRIES; start += BATCH) {
      const batch = range(start, Math.min(TRIES, start + BATCH));
      for (const i of batch) {
        await h.control.injectFaults({
          method: 'DELETE',
          pathPrefix: `/Groups/${twins[i] ?? ''}`,
          latencyMs: SLOW_DELETE_MS,
          count: 1,
        });
      }
      // Keycloak refuses a second top-level group of one name, so each create follows its
      // delete, at once.
      const fresh = await Promise.all(
        batch.map(async (i) => {
          await admin.groups.del({ id: olds[i] ?? '' });
          return (await admin.groups.create({ name: names[i] ?? '' })).id;
        }),
      );
      const expectOnlyNew = (state: ScimServerState): void => {
        batch.forEach((i, k) => {
          const named = state.groups.filter((g) => g.displayName === `/${names[i] ?? ''}`);
          // The new group, without the old one's member, and the old one nowhere.
          expect(named).toEqual([expect.objectContaining({ externalId: fresh[k], members: [] })]);
          expect(groupOf(state, olds[i] ?? '')).toBeUndefined();
        });
      };
      await eventually(async () => {
        expectOnlyNew(await h.control.state());
      }, 20_000);
      await h.relay.engine.queue.idle();
      const state = await h.control.state();
      expectOnlyNew(state);
      expectBystandersIntact(state, before);
      expect(state.users.find((u) => u.externalId === keeper)).toMatchObject({
        tenantAccess: true,
      });
    }

    await expectEachTryDeletedOrTookOver('Groups', twins, since, async () =>
      (await h.control.state()).groups.map((g) => g.id),
    );
    await expectResyncPlansNothing(h);
  }, 120_000);

  it(`deletes a user and at once re-creates one with its username, ${TRIES} times with a slow DELETE`, async () => {
    const { admin } = h.realm;
    const names = Array.from({ length: TRIES }, (_, i) => `u-${i + 1}`);
    // Every old user is in one group; the new ones are not, so none may inherit that.
    const crew = await admin.groups.create({ name: 'crew' });
    const olds = await mapWithConcurrency(names, 8, async (username) => {
      const { id } = await admin.users.create({
        username,
        email: `${username}@example.test`,
        firstName: 'Old',
        enabled: true,
      });
      await admin.users.addToGroup({ id, groupId: crew.id });
      return id;
    });
    const before = await eventually(async () => {
      const state = await h.control.state();
      expect(groupOf(state, crew.id)?.members).toHaveLength(TRIES);
      return state;
    });
    const twins = olds.map((id) => before.users.find((u) => u.externalId === id)?.id ?? '');
    const since = await lastSeq();

    for (let start = 0; start < TRIES; start += BATCH) {
      const batch = range(start, Math.min(TRIES, start + BATCH));
      for (const i of batch) {
        await h.control.injectFaults({
          method: 'DELETE',
          pathPrefix: `/Users/${twins[i] ?? ''}`,
          latencyMs: SLOW_DELETE_MS,
          count: 1,
        });
      }
      const fresh = await Promise.all(
        batch.map(async (i) => {
          const username = names[i] ?? '';
          await admin.users.del({ id: olds[i] ?? '' });
          const { id } = await admin.users.create({
            username,
            email: `${username}@example.test`,
            firstName: 'New',
            enabled: true,
          });
          return id;
        }),
      );
      const expectOnlyNew = async (state: ScimServerState): Promise<void> => {
        const visible = state.users.filter((u) => u.tenantAccess);
        batch.forEach((i, k) => {
          expect(visible.filter((u) => u.userName === names[i])).toEqual([
            expect.objectContaining({ externalId: fresh[k], active: true, givenName: 'New' }),
          ]);
          expect(visible.filter((u) => u.externalId === olds[i])).toEqual([]);
        });
        // The group holds exactly the users Keycloak has in it: the old ones not yet replaced.
        const inKeycloak = await admin.groups.listMembers({ id: crew.id, max: 100 });
        const scimIds = inKeycloak.map((u) => visible.find((v) => v.externalId === u.id)?.id);
        expect(groupOf(state, crew.id)?.members.sort()).toEqual(scimIds.sort());
      };
      await eventually(async () => {
        await expectOnlyNew(await h.control.state());
      }, 20_000);
      await h.relay.engine.queue.idle();
      const state = await h.control.state();
      await expectOnlyNew(state);
      expectBystandersIntact(state, before);
    }

    await expectEachTryDeletedOrTookOver('Users', twins, since, async () =>
      (await h.control.state()).users.filter((u) => u.tenantAccess).map((u) => u.id),
    );
    await expectResyncPlansNothing(h);
  }, 120_000);

  it(`adds ${CROWD} users to one group at once: all arrive, one PATCH to the group at a time`, async () => {
    const { admin } = h.realm;
    const users = await mapWithConcurrency(range(0, CROWD), 6, async (i) => {
      const { id } = await admin.users.create({ username: `crowd-${i}`, enabled: true });
      return id;
    });
    // Three rounds, three groups: each a fresh chance for two PATCHes to overlap.
    for (const round of [1, 2, 3]) {
      const group = await admin.groups.create({ name: `crowd-${round}` });
      const ready = await eventually(async () => {
        const state = await h.control.state();
        expect(state.users.filter((u) => users.includes(u.externalId ?? ''))).toHaveLength(CROWD);
        expect(groupOf(state, group.id)).toBeDefined();
        return state;
      });
      const twin = groupOf(ready, group.id)?.id ?? '';
      const wanted = users.map((id) => ready.users.find((u) => u.externalId === id)?.id).sort();
      const since = await lastSeq();

      await Promise.all(users.map((id) => admin.users.addToGroup({ id, groupId: group.id })));
      await eventually(async () => {
        expect(groupOf(await h.control.state(), group.id)?.members.sort()).toEqual(wanted);
      }, 20_000);
      await h.relay.engine.queue.idle();
      expect(groupOf(await h.control.state(), group.id)?.members.sort()).toEqual(wanted);

      const patches = (await h.control.requests({ since })).filter(
        (r) => r.method === 'PATCH' && r.scimPath === `/Groups/${twin}`,
      );
      expect(patches.length).toBeGreaterThan(0);
      console.info(
        `${scim.profile}: ${CROWD} concurrent adds to /crowd-${round} arrived in ${patches.length} PATCH(es)`,
      );
      for (const patch of patches) expect(String(patch.status)).toMatch(/^2\d\d$/);
      // One group, one PATCH in flight: none starts before the one before it has answered.
      const spans = patches
        .map((p) => ({ start: Date.parse(p.time), end: Date.parse(p.time) + p.durationMs }))
        .sort((a, b) => a.start - b.start);
      for (let i = 1; i < spans.length; i++) {
        expect(spans[i]?.start).toBeGreaterThanOrEqual(Math.floor(spans[i - 1]?.end ?? 0) - 1);
      }
    }
    await expectResyncPlansNothing(h);
  }, 120_000);
});

function groupOf(state: ScimServerState, keycloakId: string): StateGroup | undefined {
  return state.groups.find((g) => g.externalId === keycloakId);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
