import { randomUUID } from 'node:crypto';
import { access } from 'node:fs/promises';
import { connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userHint, type Hint } from '../../src/domain/hint.js';
import { AmqpSource } from '../../src/sources/amqp-source.js';
import { listenerUserEvent } from '../support/amqp-fixtures.js';
import { createRabbitMqNode, type RabbitMqNode } from '../support/rabbitmq-node.js';
import { canConnectAmqp } from '../support/rabbitmq-local.js';

/** Publishes one message on a connection of its own: a broker restart ends every connection. */
async function publish(url: string, message: { routingKey: string; body: Buffer }): Promise<void> {
  const connection = await connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    channel.publish('amq.topic', message.routingKey, message.body, {
      contentType: 'application/json',
    });
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
}

/**
 * A RabbitMQ node of the test's own, beside the machine's broker: it starts, restarts and is
 * killed without the shared node noticing, and the relay's consumer finds it again each time.
 */
describe('a private RabbitMQ node', () => {
  let node: RabbitMqNode;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    node = await createRabbitMqNode({ namePrefix: 'it' });
    timings.start = (await node.start()).startupMs;
  });

  afterAll(async () => {
    await node.cleanup();
    console.info(`[rabbitmq-node] start/restart times (ms): ${JSON.stringify(timings)}`);
  });

  it('runs on its own ports, name, cookie and epmd, without the management plugin', async () => {
    expect(node.url).toBe(`amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
    expect(node.amqpPort).not.toBe(5672);
    expect(node.distPort).not.toBe(25672);
    expect(node.dir).not.toMatch(/^\/var\/lib\/rabbitmq/);
    expect(await canConnectAmqp(node.url)).toBe(true);
    // rabbitmqctl reaches the node only through the node's own epmd and cookie.
    expect(await node.ctl(['eval', 'node().'])).toContain(node.nodeName.split('@')[0]);
    const management = await node.ctl([
      'eval',
      'lists:keymember(rabbitmq_management, 1, application:which_applications()).',
    ]);
    expect(management.trim()).toBe('false');
  });

  it('brings the relay’s consumer back after a clean restart and after a kill, queue and all', async () => {
    const realm = `node-${randomUUID().slice(0, 8)}`;
    const queue = `rabbitmq-node-test-${randomUUID()}`;
    const hints: Hint[] = [];
    const source = new AmqpSource(
      { url: node.url, exchange: 'amq.topic', queue, realm, prefetch: 4 },
      {
        submit: (hint) => {
          hints.push(hint);
          return Promise.resolve('applied');
        },
        setAside: () => undefined,
      },
    );
    await source.start();
    try {
      await publish(node.url, listenerUserEvent(realm, 'before', 'UPDATE'));
      await expect.poll(() => hints, { timeout: 10_000 }).toContainEqual(userHint('before'));

      timings.restart = (await node.restart()).startupMs;
      await expect.poll(() => source.connected, { timeout: 30_000 }).toBe(true);
      await publish(node.url, listenerUserEvent(realm, 'after-restart', 'UPDATE'));
      await expect.poll(() => hints, { timeout: 10_000 }).toContainEqual(userHint('after-restart'));

      // A crash: no clean shutdown, no connection closed by the broker. The durable queue and
      // its bindings come back from disk, and so does the consumer.
      await node.kill();
      expect(node.running).toBe(false);
      expect(await canConnectAmqp(node.url)).toBe(false);
      timings.startAfterKill = (await node.start()).startupMs;
      await expect.poll(() => source.connected, { timeout: 30_000 }).toBe(true);
      await publish(node.url, listenerUserEvent(realm, 'after-kill', 'UPDATE'));
      await expect.poll(() => hints, { timeout: 10_000 }).toContainEqual(userHint('after-kill'));
    } finally {
      await source.stop();
    }
    expect(await node.ctl(['list_queues', 'name', '--quiet'])).toContain(queue);
  });

  it('leaves neither processes nor files behind', async () => {
    const other = await createRabbitMqNode({ namePrefix: 'it-cleanup' });
    try {
      await other.start();
      expect(other.running).toBe(true);
    } finally {
      await other.cleanup();
    }
    expect(other.running).toBe(false);
    expect(await canConnectAmqp(other.url)).toBe(false);
    await expect(access(other.dir)).rejects.toThrow();
    // Cleaning up twice is harmless: teardown paths may overlap.
    await other.cleanup();
  });
});
