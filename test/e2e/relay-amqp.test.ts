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
