import { randomUUID } from 'node:crypto';
import { connect, type GetMessage } from 'amqplib';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { RelayMetrics } from '../../src/metrics/relay-metrics.js';
import { bindingKeys, routingKeyWord } from '../../src/sources/routing-key.js';
import { deleteRelayQueues } from '../support/amqp-fixtures.js';
import { ListenerSimulator } from '../support/listener-simulator.js';
import { eventually, startRelayHarness, type RelayHarness } from '../support/relay-harness.js';
import { describeEachProfile } from '../support/scim-profiles.js';
import { createTestRealm } from '../support/test-realm.js';
import { relayBehaviour } from './relay-behaviour.js';

/** Events the relay counted as received, of one kind, from its Prometheus exposition. */
async function eventsReceived(metrics: RelayMetrics, kind: 'admin' | 'user'): Promise<number> {
  const line = new RegExp(`^scim_relay_events_received_total\\{kind="${kind}"\\} (\\d+)$`, 'm');
  const count = line.exec(await metrics.render())?.[1];
  return count === undefined ? 0 : Number(count);
}

/**
 * The relay fed by Keycloak's real RabbitMQ listener: the realm lists `keycloak-to-rabbitmq`, so
 * every change reaches the relay as the message the listener itself publishes, on the stack's
 * broker and the listener's exchange (`amq.topic`). Nothing republishes stored events.
 */
describeEachProfile('run, consuming the RabbitMQ listener’s messages', (profile) => {
  const facts = inject('testStack');
  // Per profile: each suite has its own queue and realm. The listener's exchange is shared, and
  // each relay binds only its own realm's routing keys there.
  const suffix = `${profile.name}-${randomUUID().slice(0, 8)}`;
  const exchange = facts.listenerExchange;
  const queue = `test-relay-${suffix}`;
  let harness: RelayHarness;
  /** Publishes what the real listener never would: poison, forged redelivery counts. */
  let listener: ListenerSimulator;

  beforeAll(async () => {
    if (!facts.realListener) {
      throw new Error('the e2e stack runs Keycloak without its RabbitMQ listener');
    }
    // A realm name with a dot: the listener drops it from routing keys.
    const realm = await createTestRealm(facts, {
      prefix: `amqp.dot-${profile.name}`,
      realListener: true,
    });
    listener = await ListenerSimulator.start({
      amqpUrl: facts.amqpUrl,
      admin: realm.admin,
      realm: realm.name,
      exchange,
      forward: false,
    });
    harness = await startRelayHarness(facts, {
      prefix: `amqp-${profile.name}`,
      realm,
      scim: profile.scim,
      env: {
        SOURCE: 'amqp',
        AMQP_URL: facts.amqpUrl,
        AMQP_EXCHANGE: exchange,
        AMQP_QUEUE: queue,
        AMQP_MAX_DELIVERIES: '3',
        // The queue alone must bring every change here; the backstop has tests of its own.
        BACKSTOP_INTERVAL_MS: '0',
      },
    });
  });

  afterAll(async () => {
    await harness.close();
    await listener.stop();
    await harness.realm.delete();
    await deleteRelayQueues(facts.amqpUrl, queue);
  });

  relayBehaviour(() => harness, profile);

  it('applies the listener’s own messages: what it publishes for the realm is what the relay gets', async () => {
    const { admin, name } = harness.realm;
    const connection = await connect(facts.amqpUrl);
    try {
      // A second queue bound as the relay's is: it sees what the relay's queue is given.
      const channel = await connection.createChannel();
      const { queue: observer } = await channel.assertQueue('', { exclusive: true });
      for (const key of bindingKeys(name)) await channel.bindQueue(observer, exchange, key);
      const before = await eventsReceived(harness.relay.metrics, 'admin');
      const { id } = await admin.users.create({ username: 'heard', enabled: true });
      const message = await eventually(async (): Promise<GetMessage> => {
        const got = await channel.get(observer, { noAck: true });
        if (got === false) throw new Error('the listener published nothing yet');
        return got;
      });
      expect(message.fields.routingKey).toBe(
        `KK.EVENT.ADMIN.${routingKeyWord(name)}.SUCCESS.USER.CREATE`,
      );
      // The listener's own marks, which no simulator sets.
      expect(message.properties).toMatchObject({
        appId: 'Keycloak',
        contentType: 'application/json',
        contentEncoding: 'UTF-8',
        headers: {
          __TypeId__: 'com.github.aznamier.keycloak.event.provider.EventAdminNotificationMqMsg',
        },
      });
      // The realm's id, not its name; Keycloak 25 writes `users//<id>` for a creation.
      const body = JSON.parse(message.content.toString()) as Record<string, unknown>;
      const realmId = (await admin.realms.findOne({ realm: name }))?.id;
      expect(body).toMatchObject({ realmId, resourceType: 'USER', operationType: 'CREATE' });
      expect(String(body.resourcePath).replace(/\/+/g, '/')).toBe(`users/${id}`);

      await eventually(async () => {
        const user = (await harness.control.state()).users.find((u) => u.userName === 'heard');
        expect(user?.externalId).toBe(id);
      });
      expect(await eventsReceived(harness.relay.metrics, 'admin')).toBeGreaterThan(before);
    } finally {
      await connection.close();
    }
  });

  it('applies a valid message whatever its x-delivery-count says: only poison is dead-lettered', async () => {
    // A quorum queue raises x-delivery-count for every message in flight when a consumer dies,
    // and a publisher can set it: it says nothing about the message itself.
    const { id } = await harness.realm.admin.users.create({ username: 'crashy', enabled: true });
    const valid = JSON.stringify({
      time: Date.now(),
      realmId: harness.realm.name,
      resourceType: 'USER',
      operationType: 'UPDATE',
      resourcePath: `users/${id}`,
    });
    const key = `KK.EVENT.ADMIN.${harness.realm.name.replaceAll('.', '')}.SUCCESS.USER.UPDATE`;
    listener.publishRaw(key, valid, { 'x-delivery-count': 99 });
    // Poison published after it: once the poison is dead-lettered, the valid one was handled.
    const marker = `{"marker":"${randomUUID()}"}`;
    listener.publishRaw(key, marker);
    const connection = await connect(facts.amqpUrl);
    try {
      const channel = await connection.createChannel();
      const bodies: string[] = [];
      await eventually(async () => {
        const got = await channel.get(`${queue}.dead-letter`, { noAck: true });
        if (got !== false) bodies.push(got.content.toString());
        if (!bodies.includes(marker)) throw new Error('the marker is not dead-lettered yet');
      });
      expect(bodies).not.toContain(valid);
      const user = await eventually(async () => {
        const found = (await harness.control.state()).users.find((u) => u.userName === 'crashy');
        if (found === undefined) throw new Error('crashy is not in SCIM yet');
        return found;
      });
      expect(user.externalId).toBe(id);
    } finally {
      await connection.close();
    }
  });

  it('dead-letters a malformed message with the reason, and acks it', async () => {
    listener.publishRaw(
      `KK.EVENT.ADMIN.${harness.realm.name.replaceAll('.', '')}.SUCCESS.USER.CREATE`,
      '{"time":"soon"}',
    );
    const connection = await connect(facts.amqpUrl);
    try {
      const channel = await connection.createChannel();
      const message = await eventually(async () => {
        const got = await channel.get(`${queue}.dead-letter`, { noAck: true });
        if (got === false) throw new Error('nothing dead-lettered yet');
        return got;
      });
      const headers = message.properties.headers ?? {};
      expect(String(headers['x-relay-reason'])).toMatch(/^malformed admin event: /);
      expect(String(headers['x-relay-reason'])).toContain('time');
      expect(message.content.toString()).toBe('{"time":"soon"}');
      const main = await channel.checkQueue(queue);
      expect(main.messageCount).toBe(0);
    } finally {
      await connection.close();
    }
  });
});
