import { randomUUID } from 'node:crypto';
import { connect, type Channel, type ChannelModel, type GetMessage } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { groupHint, membershipHint, userHint, type Hint } from '../../src/domain/hint.js';
import { AmqpSource } from '../../src/sources/amqp-source.js';
import { QueueClosedError, type Outcome } from '../../src/sync/work-queue.js';
import {
  deleteRelayQueues,
  listenerAdminEvent,
  listenerClientEvent,
  listenerUserEvent,
} from '../support/amqp-fixtures.js';
import { DEFAULT_AMQP_URL, ensureLocalRabbitMq } from '../support/rabbitmq-local.js';

const amqpUrl = process.env.AMQP_URL ?? DEFAULT_AMQP_URL;
const realm = 'amqp-source-realm';

/** A promise the test settles by hand: a `submit` that is still working. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * `AmqpSource.handle` against the real broker: one private topic exchange and one queue per
 * test (the source declares the queue, its dead-letter queue and the bindings), all deleted
 * afterwards, so the shared broker keeps nothing of this file.
 */
describe('AmqpSource against RabbitMQ', () => {
  let publisher: ChannelModel;
  let channel: Channel;
  let queue: string;
  let exchange: string;
  const started: AmqpSource[] = [];
  const setAside: { hints: readonly Hint[]; reason: string }[] = [];

  beforeAll(async () => {
    await ensureLocalRabbitMq(amqpUrl);
    publisher = await connect(amqpUrl);
    channel = await publisher.createChannel();
  });
  afterAll(async () => {
    await publisher.close();
  });
  afterEach(async () => {
    setAside.length = 0;
    for (const source of started.splice(0)) await source.stop();
    await deleteRelayQueues(amqpUrl, queue, exchange);
  });

  /** A started source on a fresh exchange and queue, whose `submit` is `submit`. */
  async function startSource(
    submit: (hint: Hint) => Promise<Outcome>,
    options: { prefetch?: number; reuseQueue?: boolean } = {},
  ): Promise<AmqpSource> {
    if (options.reuseQueue !== true) {
      queue = `relay-source-test-${randomUUID()}`;
      exchange = `relay-source-test-exchange-${randomUUID()}`;
      await channel.assertExchange(exchange, 'topic', { durable: false });
    }
    const source = new AmqpSource(
      { url: amqpUrl, exchange, queue, realm, prefetch: options.prefetch ?? 4 },
      { submit, setAside: (hints, reason) => setAside.push({ hints, reason }) },
    );
    started.push(source);
    await source.start();
    return source;
  }

  /** A `submit` that records every hint and applies it at once. */
  function recording(): { hints: Hint[]; submit: (hint: Hint) => Promise<Outcome> } {
    const hints: Hint[] = [];
    return {
      hints,
      submit: (hint) => {
        hints.push(hint);
        return Promise.resolve('applied');
      },
    };
  }

  const publish = (message: { routingKey: string; body: Buffer }): void => {
    channel.publish(exchange, message.routingKey, message.body, {
      contentType: 'application/json',
    });
  };
  const ready = async (name: string): Promise<number> =>
    (await channel.checkQueue(name)).messageCount;
  /**
   * The ready count once a stopped source's unacked messages are back: the broker returns them
   * shortly after the connection ends, so "none came back" needs that moment to pass.
   */
  const readyAfterStop = async (name: string): Promise<number> => {
    await new Promise((resolve) => setTimeout(resolve, 250));
    return ready(name);
  };

  /** The dead-lettered messages, read off their queue (and acked, for the clean-up). */
  async function deadLetters(source: AmqpSource, count: number): Promise<GetMessage[]> {
    await expect.poll(() => ready(source.deadLetterQueue), { timeout: 5_000 }).toBe(count);
    const messages: GetMessage[] = [];
    for (let index = 0; index < count; index += 1) {
      const message = await channel.get(source.deadLetterQueue, { noAck: true });
      if (message === false) throw new Error('a dead letter vanished');
      messages.push(message);
    }
    return messages;
  }

  it('turns an admin user event into a user hint and acks it only after submit resolves', async () => {
    const pending = deferred<Outcome>();
    const hints: Hint[] = [];
    // Prefetch 1: while the first message is unacked the broker holds the second one back, so
    // a message left ready in the queue shows that the first one is not acked yet.
    const source = await startSource(
      (hint) => {
        hints.push(hint);
        return hints.length === 1 ? pending.promise : Promise.resolve('applied');
      },
      { prefetch: 1 },
    );
    publish(listenerUserEvent(realm, 'user-1', 'UPDATE'));
    await expect.poll(() => hints, { timeout: 5_000 }).toEqual([userHint('user-1')]);
    publish(listenerUserEvent(realm, 'user-2', 'UPDATE'));
    await expect.poll(() => ready(queue), { timeout: 5_000 }).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(hints).toEqual([userHint('user-1')]);
    expect(await ready(queue)).toBe(1);

    pending.resolve('applied');
    await expect
      .poll(() => hints, { timeout: 5_000 })
      .toEqual([userHint('user-1'), userHint('user-2')]);
    await source.stop();
    // Closing the connection returns every unacked message to the queue: none came back.
    expect(await readyAfterStop(queue)).toBe(0);
    expect(await ready(source.deadLetterQueue)).toBe(0);
  });

  it('turns a membership event into a membership hint', async () => {
    const { hints, submit } = recording();
    await startSource(submit);
    publish(
      listenerAdminEvent(realm, {
        resourceType: 'GROUP_MEMBERSHIP',
        operationType: 'CREATE',
        resourcePath: 'users/user-7/groups/group-3',
        representation: { id: 'group-3', name: 'eng', path: '/eng' },
      }),
    );
    await expect
      .poll(() => hints, { timeout: 5_000 })
      .toEqual([membershipHint('user-7', 'group-3')]);
  });

  it('takes a new subgroup’s id from the representation, since its path names the parent', async () => {
    const { hints, submit } = recording();
    await startSource(submit);
    publish(
      listenerAdminEvent(realm, {
        resourceType: 'GROUP',
        operationType: 'CREATE',
        resourcePath: 'groups/parent-1/children',
        representation: { id: 'child-9', name: 'backend', path: '/eng/backend' },
      }),
    );
    await expect.poll(() => hints, { timeout: 5_000 }).toEqual([groupHint('child-9', true)]);
  });

  it('turns a user event (REGISTER) into a user hint', async () => {
    const { hints, submit } = recording();
    await startSource(submit);
    publish(listenerClientEvent(realm, 'account-console', 'REGISTER', 'new-user'));
    await expect.poll(() => hints, { timeout: 5_000 }).toEqual([userHint('new-user')]);
  });

  it('dead-letters a body that is not JSON and one of the wrong shape, with the reason', async () => {
    const { hints, submit } = recording();
    const source = await startSource(submit);
    const routingKey = listenerUserEvent(realm, 'user-1', 'UPDATE').routingKey;
    publish({ routingKey, body: Buffer.from('{not json') });
    publish({ routingKey, body: Buffer.from(JSON.stringify({ time: 1, realmId: realm })) });

    const [notJson, wrongShape] = await deadLetters(source, 2);
    expect(notJson?.content.toString()).toBe('{not json');
    expect(notJson?.properties.headers?.['x-relay-reason']).toBe(
      'malformed event: the body is not JSON',
    );
    expect(notJson?.properties.headers?.['x-relay-routing-key']).toBe(routingKey);
    // Each gets an id of its own, by which `dead-letter replay --id` names it.
    const ids = [notJson, wrongShape].map(
      (m): unknown => m?.properties.headers?.['x-relay-dead-letter-id'],
    );
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids[0]).not.toBe(ids[1]);
    expect(String(wrongShape?.properties.headers?.['x-relay-reason'])).toMatch(
      /^malformed admin event: operationType: /,
    );
    expect(hints).toEqual([]);
    // Dead-lettered means acked: nothing is left for the relay to read again.
    expect(await ready(queue)).toBe(0);
  });

  it('leaves a message unacked when submit rejects (queue closing), and gets it again', async () => {
    const refused: Hint[] = [];
    const first = await startSource((hint) => {
      refused.push(hint);
      return Promise.reject(new QueueClosedError());
    });
    publish(listenerUserEvent(realm, 'user-5', 'DELETE'));
    await expect.poll(() => refused, { timeout: 5_000 }).toEqual([userHint('user-5')]);
    await first.stop();
    // Not acked: closing the connection gave it back to the queue.
    await expect.poll(() => ready(queue), { timeout: 5_000 }).toBe(1);

    const { hints, submit } = recording();
    const second = await startSource(submit, { reuseQueue: true });
    await expect.poll(() => hints, { timeout: 5_000 }).toEqual([userHint('user-5')]);
    await second.stop();
    expect(await readyAfterStop(queue)).toBe(0);
  });

  it('waits in stop() for the messages in flight, and acks them', async () => {
    const pending = deferred<Outcome>();
    const hints: Hint[] = [];
    const source = await startSource((hint) => {
      hints.push(hint);
      return pending.promise;
    });
    publish(listenerUserEvent(realm, 'user-8', 'UPDATE'));
    await expect.poll(() => hints, { timeout: 5_000 }).toEqual([userHint('user-8')]);

    let stopped = false;
    const stopping = source.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(stopped).toBe(false);
    pending.resolve('applied');
    await stopping;
    expect(await readyAfterStop(queue)).toBe(0);
  });
});
