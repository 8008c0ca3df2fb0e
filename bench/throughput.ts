import type { Channel } from 'amqplib';
import type { ScimServerControl } from '../packages/scim-server/src/control-client.js';
import type { ScimServerState } from '../packages/scim-server/src/test-api-schema.js';
import { listenerAdminEvent } from '../test/support/amqp-fixtures.js';
import { mapWithConcurrency } from '../test/support/concurrency.js';
import type { TestRealm } from '../test/support/test-realm.js';
import { cpuPerEvent, cpuSnapshot } from './cpu-usage.js';
import {
  openWindow,
  perEvent,
  type KeycloakRequestCounter,
  type RequestTally,
  type RequestsPerEvent,
} from './request-counts.js';

/** How one kind of event fared in a burst. */
export interface KindResult {
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly perEvent: RequestsPerEvent;
  readonly requests: RequestTally;
  /** CPU milliseconds per event, by process: where a burst's time goes on a shared machine. */
  readonly cpuMsPerEvent: Record<string, number>;
}

/** What a burst needs: the realm to seed, the exchange the relay listens on, both counters. */
export interface BurstContext {
  readonly realm: TestRealm;
  readonly channel: Channel;
  readonly exchange: string;
  readonly keycloak: KeycloakRequestCounter;
  readonly control: ScimServerControl;
  readonly say: (line: string) => void;
}

/** Keycloak is seeded at this many requests at once: a dev-mode server chokes on more. */
const SEED_CONCURRENCY = 8;

/**
 * Publishes the events of one burst at once, as the listener would for changes made in a
 * burst, and times them until the SCIM side shows all of them. The changes were made in
 * Keycloak beforehand, without events: the clock then measures the relay, not Keycloak's writes.
 */
async function burst(
  context: BurstContext,
  events: readonly { routingKey: string; body: Buffer }[],
  done: (state: ScimServerState) => boolean,
): Promise<KindResult> {
  const close = await openWindow(context.keycloak, context.control);
  const since = (await context.control.requests()).at(-1)?.seq ?? 0;
  const cpuBefore = cpuSnapshot();
  const started = Date.now();
  for (const { routingKey, body } of events) {
    context.channel.publish(context.exchange, routingKey, body);
  }
  // Checked seldom, since the whole state is a heavy read for the SCIM server; the burst ends
  // at its last write, which the server's request log times to the millisecond.
  for (;;) {
    if (done(await context.control.state())) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const cpu = cpuPerEvent(cpuBefore, cpuSnapshot(), events.length);
  const writes = (await context.control.requests({ since }))
    .filter((r) => r.scimPath !== null && r.method !== 'GET')
    .map((r) => Date.parse(r.time));
  const seconds = (Math.max(...writes) - started) / 1000;
  const requests = await close();
  return {
    events: events.length,
    seconds: Number(seconds.toFixed(2)),
    eventsPerSecond: Math.round(events.length / seconds),
    perEvent: perEvent(requests, events.length),
    requests,
    cpuMsPerEvent: cpu,
  };
}

function userEvent(realm: string, id: string, operation: 'CREATE' | 'UPDATE') {
  return listenerAdminEvent(realm, {
    resourceType: 'USER',
    operationType: operation,
    resourcePath: `users/${id}`,
  });
}

/** Users new to Keycloak and SCIM, one USER CREATE event each. Returns their ids too. */
export async function createsBurst(
  context: BurstContext,
  count: number,
): Promise<{ result: KindResult; ids: string[] }> {
  const { realm } = context;
  context.say(`creates: seeding ${count} users`);
  const ids = await mapWithConcurrency(
    Array.from({ length: count }, (_, i) => i),
    SEED_CONCURRENCY,
    async (i) =>
      (
        await realm.admin.users.create({
          username: `c-${i}`,
          email: `c-${i}@example.test`,
          firstName: `First${i}`,
          lastName: `Last${i}`,
          enabled: true,
        })
      ).id,
  );
  context.say(`creates: ${count} events in one burst`);
  const result = await burst(
    context,
    ids.map((id) => userEvent(realm.name, id, 'CREATE')),
    (state) => state.users.filter((u) => u.userName.startsWith('c-')).length >= count,
  );
  return { result, ids };
}

/** A new first name for each provisioned user, one USER UPDATE event each. */
export async function updatesBurst(context: BurstContext, ids: readonly string[]) {
  const { realm } = context;
  context.say(`updates: changing ${ids.length} users`);
  await mapWithConcurrency(ids, SEED_CONCURRENCY, async (id, i) => {
    // The whole representation: a partial one may clear what the user profile leaves out.
    await realm.admin.users.update(
      { id },
      {
        username: `c-${i}`,
        email: `c-${i}@example.test`,
        firstName: `Updated${i}`,
        lastName: `Last${i}`,
        enabled: true,
      },
    );
  });
  context.say(`updates: ${ids.length} events in one burst`);
  return burst(
    context,
    ids.map((id) => userEvent(realm.name, id, 'UPDATE')),
    (state) =>
      state.users.filter((u) => u.givenName?.startsWith('Updated') === true).length >= ids.length,
  );
}

/**
 * Each provisioned user joins one of `groupCount` provisioned groups, one GROUP_MEMBERSHIP
 * CREATE event each (with the group as representation, as Keycloak sends it).
 */
export async function membershipsBurst(
  context: BurstContext,
  ids: readonly string[],
  groupCount: number,
) {
  const { realm } = context;
  context.say(`memberships: ${groupCount} groups, provisioned first`);
  const groups = await mapWithConcurrency(
    Array.from({ length: groupCount }, (_, i) => i),
    SEED_CONCURRENCY,
    async (i) => {
      const { id } = await realm.admin.groups.create({ name: `m-${i}` });
      return { id, name: `m-${i}`, path: `/m-${i}` };
    },
  );
  for (const group of groups) {
    const { routingKey, body } = listenerAdminEvent(realm.name, {
      resourceType: 'GROUP',
      operationType: 'CREATE',
      resourcePath: `groups/${group.id}`,
      representation: group,
    });
    context.channel.publish(context.exchange, routingKey, body);
  }
  const names = new Set(groups.map((g) => g.path));
  for (;;) {
    const state = await context.control.state();
    if (state.groups.filter((g) => names.has(g.displayName)).length >= groupCount) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  context.say(`memberships: adding ${ids.length} members`);
  const joins = ids.map((userId, i) => ({ userId, group: groups[i % groupCount] }));
  await mapWithConcurrency(joins, SEED_CONCURRENCY, async ({ userId, group }) => {
    if (group !== undefined) await realm.admin.users.addToGroup({ id: userId, groupId: group.id });
  });
  context.say(`memberships: ${ids.length} events in one burst`);
  return burst(
    context,
    joins.map(({ userId, group }) =>
      listenerAdminEvent(realm.name, {
        resourceType: 'GROUP_MEMBERSHIP',
        operationType: 'CREATE',
        resourcePath: `users/${userId}/groups/${group?.id ?? ''}`,
        representation: group,
      }),
    ),
    (state) =>
      state.groups
        .filter((g) => names.has(g.displayName))
        .reduce((sum, g) => sum + g.members.length, 0) >= ids.length,
  );
}
