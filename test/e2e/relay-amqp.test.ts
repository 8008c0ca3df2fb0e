import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { deleteRelayQueues } from '../support/amqp-fixtures.js';
import { ListenerSimulator } from '../support/listener-simulator.js';
import { eventually, startRelayHarness, type RelayHarness } from '../support/relay-harness.js';
import { describeEachProfile } from '../support/scim-profiles.js';
import { createTestRealm } from '../support/test-realm.js';
import { relayBehaviour } from './relay-behaviour.js';

describeEachProfile('run, consuming the RabbitMQ listener’s messages', (profile) => {
  const facts = inject('testStack');
  // Per profile: each suite has its own exchange, queue and realm.
  const suffix = `${profile.name}-${randomUUID().slice(0, 8)}`;
  const exchange = `test-kk-${suffix}`;
  const queue = `test-relay-${suffix}`;
  let harness: RelayHarness;
  let listener: ListenerSimulator;

  beforeAll(async () => {
    // A realm name with a dot: the listener drops it from routing keys.
    const realm = await createTestRealm(facts, { prefix: `amqp.dot-${profile.name}` });
    listener = await ListenerSimulator.start({
      amqpUrl: facts.amqpUrl,
      admin: realm.admin,
      realm: realm.name,
      exchange,
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

  it('dead-letters a message that keeps coming back, with the reason', async () => {
    // The quorum queue counts deliveries in x-delivery-count; this one has been delivered 3
    // times before (the suite allows 3), as if it had crashed the relay each time.
    const { id } = await harness.realm.admin.users.create({ username: 'crashy', enabled: true });
    const body = JSON.stringify({
      time: Date.now(),
      realmId: harness.realm.name,
      resourceType: 'USER',
      operationType: 'UPDATE',
      resourcePath: `users/${id}`,
    });
    const key = `KK.EVENT.ADMIN.${harness.realm.name.replaceAll('.', '')}.SUCCESS.USER.UPDATE`;
    listener.publishRaw(key, body, { 'x-delivery-count': 3 });
    const connection = await connect(facts.amqpUrl);
    try {
      const channel = await connection.createChannel();
      const message = await eventually(async () => {
        const got = await channel.get(`${queue}.dead-letter`, { noAck: true });
        if (got === false) throw new Error('nothing dead-lettered yet');
        return got;
      });
      expect(String(message.properties.headers?.['x-relay-reason'])).toMatch(
        /delivered 4 times without being applied \(AMQP_MAX_DELIVERIES=3\)/,
      );
      expect(message.content.toString()).toBe(body);
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
