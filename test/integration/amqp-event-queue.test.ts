import { randomUUID } from 'node:crypto';
import { connect, type Channel, type ChannelModel } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { userHint, type Hint } from '../../src/domain/hint.js';
import { AmqpSource } from '../../src/sources/amqp-source.js';
import { EVENT_QUEUE_ARGUMENTS } from '../../src/sources/event-queue.js';
import { bindingKeys } from '../../src/sources/routing-key.js';
import type { Outcome } from '../../src/sync/work-queue.js';
import {
  deleteRelayQueues,
  listenerClientEvent,
  listenerUserEvent,
} from '../support/amqp-fixtures.js';
import { DEFAULT_AMQP_URL, ensureLocalRabbitMq } from '../support/rabbitmq-local.js';

const amqpUrl = process.env.AMQP_URL ?? DEFAULT_AMQP_URL;
const realm = 'event-queue-realm';

/**
 * The relay's queue on the real broker: declared with single active consumer, and rebuilt so
 * from a queue an earlier version declared without it, with every message kept.
 */
describe('the event queue', () => {
  let model: ChannelModel;
  let channel: Channel;
  let queue: string;
  let exchange: string;
  const started: AmqpSource[] = [];

  beforeAll(async () => {
    await ensureLocalRabbitMq(amqpUrl);
    model = await connect(amqpUrl);
    channel = await model.createChannel();
  });
  afterAll(async () => {
    await model.close();
  });
  afterEach(async () => {
    for (const source of started.splice(0)) await source.stop();
    await deleteRelayQueues(amqpUrl, queue, exchange);
    await deleteRelayQueues(amqpUrl, `${queue}.migrating`, exchange);
  });

  async function fresh(): Promise<void> {
    queue = `relay-event-queue-test-${randomUUID()}`;
    exchange = `relay-event-queue-test-exchange-${randomUUID()}`;
    await channel.assertExchange(exchange, 'topic', { durable: false });
  }

  async function start(hints: Hint[]): Promise<AmqpSource> {
    const source = new AmqpSource(
      { url: amqpUrl, exchange, queue, realm, prefetch: 8 },
      {
        submit: (hint) => {
          hints.push(hint);
          return Promise.resolve<Outcome>('applied');
        },
        setAside: () => undefined,
      },
    );
    started.push(source);
    await source.start();
    return source;
  }

  const publish = (message: { routingKey: string; body: Buffer }): void => {
    channel.publish(exchange, message.routingKey, message.body, {
      contentType: 'application/json',
    });
  };

  /** Declaring the queue as the relay wants it succeeds only if it has those arguments. */
  async function declaredWithSingleActiveConsumer(name: string): Promise<boolean> {
    const probe = await model.createChannel();
    probe.on('error', () => undefined);
    try {
      await probe.assertQueue(name, { durable: true, arguments: EVENT_QUEUE_ARGUMENTS });
      await probe.close();
      return true;
    } catch {
      return false;
    }
  }

  async function exists(name: string): Promise<boolean> {
    const probe = await model.createChannel();
    probe.on('error', () => undefined);
    try {
      await probe.checkQueue(name);
      await probe.close();
      return true;
    } catch {
      return false;
    }
  }

  it('rebuilds a queue declared without single active consumer, keeping every message and its kind', async () => {
    await fresh();
    // As the versions before it declared it.
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    for (const key of bindingKeys(realm)) await channel.bindQueue(queue, exchange, key);
    const expected: Hint[] = [];
    for (let i = 0; i < 30; i++) {
      publish(listenerUserEvent(realm, `admin-made-${i}`, 'UPDATE'));
      publish(listenerClientEvent(realm, 'account', 'UPDATE_PROFILE', `self-made-${i}`));
      expected.push(userHint(`admin-made-${i}`), userHint(`self-made-${i}`));
    }
    await expect.poll(async () => (await channel.checkQueue(queue)).messageCount).toBe(60);

    const hints: Hint[] = [];
    await start(hints);
    // Admin and user events told apart by their original routing keys, after the move.
    await expect.poll(() => hints.length, { timeout: 10_000 }).toBe(60);
    expect(new Set(hints.map((h) => JSON.stringify(h)))).toEqual(
      new Set(expected.map((h) => JSON.stringify(h))),
    );
    expect(await declaredWithSingleActiveConsumer(queue)).toBe(true);
    expect(await exists(`${queue}.migrating`)).toBe(false);
    // Still bound: a new event arrives.
    publish(listenerUserEvent(realm, 'after', 'UPDATE'));
    await expect.poll(() => hints.at(-1), { timeout: 5_000 }).toEqual(userHint('after'));
  });

  it('finishes a rebuild that was cut short, from the temporary queue', async () => {
    await fresh();
    // Killed after step 2: the old queue is gone, its messages wait in the temporary one.
    const temporary = `${queue}.migrating`;
    await channel.assertQueue(temporary, {
      durable: true,
      arguments: { 'x-queue-type': 'quorum' },
    });
    for (const key of bindingKeys(realm)) await channel.bindQueue(temporary, exchange, key);
    for (let i = 0; i < 10; i++) publish(listenerUserEvent(realm, `waiting-${i}`, 'UPDATE'));
    await expect.poll(async () => (await channel.checkQueue(temporary)).messageCount).toBe(10);

    const hints: Hint[] = [];
    await start(hints);
    await expect.poll(() => hints.length, { timeout: 10_000 }).toBe(10);
    expect(await exists(temporary)).toBe(false);
    expect(await declaredWithSingleActiveConsumer(queue)).toBe(true);
  });

  it('delivers to one consumer at a time: a second one gets nothing while the first is there', async () => {
    await fresh();
    const first: Hint[] = [];
    const second: Hint[] = [];
    await start(first);
    await start(second);
    for (let i = 0; i < 20; i++) publish(listenerUserEvent(realm, `u${i}`, 'UPDATE'));
    await expect.poll(() => first.length + second.length, { timeout: 10_000 }).toBe(20);
    // Whichever registered first is the active one; the other got none.
    expect([first.length, second.length].sort((a, b) => a - b)).toEqual([0, 20]);
  });
});
