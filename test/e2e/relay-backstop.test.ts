import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { deleteRelayQueues } from '../support/amqp-fixtures.js';
import { eventually, startRelayHarness, type RelayHarness } from '../support/relay-harness.js';
import { createTestRealm } from '../support/test-realm.js';

/** The backstop's interval here; the relay leaves events younger than 5 s to the queue. */
const BACKSTOP_MS = 2_000;
/** Interval, the 5 s the queue is given, and a poll's own time. */
const BACKSTOP_BOUND_MS = BACKSTOP_MS + 5_000 + 5_000;

/** The sum of a counter's series in the relay's metrics, e.g. every kind of lost event. */
async function counter(harness: RelayHarness, name: string): Promise<number> {
  return (await harness.relay.metrics.render())
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/**
 * The backstop behind the lossy listener: in AMQP mode the relay also reads the realm's stored
 * events, and applies what the queue did not bring. The full reconcile is a day away here, so
 * only the queue and the backstop can bring a change.
 */
describe('run in AMQP mode, with the stored events as a backstop', () => {
  const facts = inject('testStack');
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /**
   * A relay fed by Keycloak's real RabbitMQ listener, or one on a private exchange that nobody
   * publishes to, as if the listener lost everything.
   */
  async function relayOn(prefix: string, withListener: boolean) {
    const suffix = randomUUID().slice(0, 8);
    const queue = `test-backstop-relay-${suffix}`;
    if (withListener && !facts.realListener) {
      throw new Error('the e2e stack runs Keycloak without its RabbitMQ listener');
    }
    const exchange = withListener ? facts.listenerExchange : `test-backstop-${suffix}`;
    const realm = await createTestRealm(facts, { prefix, realListener: withListener });
    cleanups.push(() => realm.delete());
    if (!withListener) {
      const connection = await connect(facts.amqpUrl);
      await (
        await connection.createChannel()
      ).assertExchange(exchange, 'topic', {
        durable: false,
      });
      await connection.close();
    }
    const harness = await startRelayHarness(facts, {
      prefix,
      realm,
      env: {
        SOURCE: 'amqp',
        AMQP_URL: facts.amqpUrl,
        AMQP_EXCHANGE: exchange,
        AMQP_QUEUE: queue,
        BACKSTOP_INTERVAL_MS: String(BACKSTOP_MS),
        RESYNC_INTERVAL_MS: String(24 * 3_600_000),
      },
    });
    cleanups.push(async () => {
      await harness.close();
      await deleteRelayQueues(facts.amqpUrl, queue, withListener ? undefined : exchange);
    });
    return harness;
  }

  it('applies, within its interval and a few seconds, every change the listener never published', async () => {
    const harness = await relayOn('backstop-lost', false);
    const { admin } = harness.realm;
    const changedAt = Date.now();
    const { id: userId } = await admin.users.create({ username: 'unheard', enabled: true });
    const { id: groupId } = await admin.groups.create({ name: 'silent' });
    await admin.users.addToGroup({ id: userId, groupId });
    await admin.users.update({ id: userId }, { firstName: 'Quiet' });

    await eventually(async () => {
      const state = await harness.control.state();
      const user = state.users.find((u) => u.userName === 'unheard');
      const group = state.groups.find((g) => g.displayName === '/silent');
      expect(user?.givenName).toBe('Quiet');
      expect(group?.members).toEqual([user?.id]);
    }, BACKSTOP_BOUND_MS);
    const tookMs = Date.now() - changedAt;
    console.error(`[backstop] four changes the listener lost reached SCIM in ${tookMs} ms`);
    expect(tookMs).toBeLessThanOrEqual(BACKSTOP_BOUND_MS);
    // Counted as events the listener lost: the user and group creations, the join, the update.
    expect(await counter(harness, 'scim_relay_listener_lost_events_total')).toBeGreaterThanOrEqual(
      4,
    );
  });

  it('neither counts nor applies again what the real listener brought', async () => {
    const harness = await relayOn('backstop-heard', true);
    const { admin } = harness.realm;
    const { id: userId } = await admin.users.create({ username: 'heard', enabled: true });
    const { id: groupId } = await admin.groups.create({ name: 'loud' });
    await admin.users.addToGroup({ id: userId, groupId });
    await eventually(async () => {
      const state = await harness.control.state();
      expect(state.groups.find((g) => g.displayName === '/loud')?.members).toHaveLength(1);
    });
    // Work found in passing (the new member's user, the group's members) ends before the count.
    await harness.relay.engine.queue.idle();
    await harness.control.clearRequests();
    const quietFrom = Date.now() / 1000;
    // Several backstop rounds past the 5 s the queue is given.
    await new Promise((resolve) => setTimeout(resolve, BACKSTOP_BOUND_MS));
    expect(await counter(harness, 'scim_relay_listener_lost_events_total')).toBe(0);
    // No message came meanwhile, yet the backstop's completed polls say the relay is in step.
    expect(
      await counter(harness, 'scim_relay_last_sync_success_timestamp_seconds'),
    ).toBeGreaterThan(quietFrom);
    // A reconcile reads the entity's twin by id; none ran, so the events were not applied again.
    const reads = (await harness.control.requests()).filter((r) =>
      /^\/(Users|Groups)\/./.test(r.scimPath ?? ''),
    );
    expect(reads.map((r) => `${r.method} ${r.scimPath ?? ''}`)).toEqual([]);
  });
});
