import { randomUUID } from 'node:crypto';
import { connect, type Channel, type ChannelModel } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { userHint, type Hint } from '../../src/domain/hint.js';
import { AmqpSource } from '../../src/sources/amqp-source.js';
import { RealmIdentity } from '../../src/sources/realm-identity.js';
import { deleteRelayQueues, listenerUserEvent } from '../support/amqp-fixtures.js';
import { DEFAULT_AMQP_URL, ensureLocalRabbitMq } from '../support/rabbitmq-local.js';

const amqpUrl = process.env.AMQP_URL ?? DEFAULT_AMQP_URL;

/** A listener message of `realm` (its routing key) that says it is realm `realmId`'s. */
function userEventOf(realm: string, realmId: string, userId: string) {
  const message = listenerUserEvent(realm, userId, 'UPDATE');
  const body = JSON.parse(message.body.toString()) as Record<string, unknown>;
  return {
    routingKey: message.routingKey,
    body: Buffer.from(JSON.stringify({ ...body, realmId })),
  };
}

/**
 * Realms whose names give the same routing key (`a.b` and `ab`: the listener drops dots) or a
 * wildcard one (`#`) share bindings on the real broker, so each relay's queue gets the other
 * realm's events too. Each must act on its own realm's events only, told apart by `realmId`.
 */
describe('AmqpSource realm isolation against RabbitMQ', () => {
  let publisher: ChannelModel;
  let channel: Channel;
  const exchange = `relay-isolation-${randomUUID()}`;
  const queues: string[] = [];
  const sources: AmqpSource[] = [];

  beforeAll(async () => {
    await ensureLocalRabbitMq(amqpUrl);
    publisher = await connect(amqpUrl);
    channel = await publisher.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: false });
  });
  afterEach(async () => {
    for (const source of sources.splice(0)) await source.stop();
    for (const queue of queues.splice(0)) await deleteRelayQueues(amqpUrl, queue);
  });
  afterAll(async () => {
    await channel.deleteExchange(exchange);
    await publisher.close();
  });

  /** A started source for `realm`, whose stored events say its id is `realmId`. */
  async function sourceFor(realm: string, realmId: string) {
    const queue = `relay-isolation-${randomUUID()}`;
    queues.push(queue);
    const hints: Hint[] = [];
    const source = new AmqpSource(
      { url: amqpUrl, exchange, queue, realm, prefetch: 4 },
      {
        submit: (hint) => {
          hints.push(hint);
          return Promise.resolve('applied');
        },
        setAside: () => undefined,
        realm: new RealmIdentity(realm, () => Promise.resolve(realmId)),
      },
    );
    sources.push(source);
    await source.start();
    return { source, hints };
  }

  const deadLetterReasons = async (source: AmqpSource): Promise<string[]> => {
    const reasons: string[] = [];
    for (;;) {
      const message = await channel.get(source.deadLetterQueue, { noAck: true });
      if (message === false) return reasons;
      reasons.push(String(message.properties.headers?.['x-relay-reason']));
    }
  };

  it('gives realms a.b and ab each its own events, though they share a routing key', async () => {
    const dotted = await sourceFor('a.b', 'id-of-a.b');
    const plain = await sourceFor('ab', 'id-of-ab');
    const ofDotted = userEventOf('a.b', 'id-of-a.b', 'dotted-user');
    const ofPlain = userEventOf('ab', 'id-of-ab', 'plain-user');
    expect(ofDotted.routingKey).toBe(ofPlain.routingKey);

    channel.publish(exchange, ofDotted.routingKey, ofDotted.body);
    channel.publish(exchange, ofPlain.routingKey, ofPlain.body);

    await expect.poll(() => dotted.hints, { timeout: 5_000 }).toEqual([userHint('dotted-user')]);
    await expect.poll(() => plain.hints, { timeout: 5_000 }).toEqual([userHint('plain-user')]);
    // The other realm's event is not work: dead-lettered with the reason, never applied.
    await expect
      .poll(() => deadLetterReasons(dotted.source), { timeout: 5_000 })
      .toEqual([expect.stringMatching(/another realm \(realmId id-of-ab\)/)]);
    await expect
      .poll(() => deadLetterReasons(plain.source), { timeout: 5_000 })
      .toEqual([expect.stringMatching(/another realm \(realmId id-of-a\.b\)/)]);
  });

  it('keeps a realm named # from taking every realm’s events', async () => {
    const hash = await sourceFor('#', 'id-of-hash');
    const other = await sourceFor('other', 'id-of-other');
    const ofOther = userEventOf('other', 'id-of-other', 'other-user');
    const ofHash = userEventOf('#', 'id-of-hash', 'hash-user');
    channel.publish(exchange, ofOther.routingKey, ofOther.body);
    channel.publish(exchange, ofHash.routingKey, ofHash.body);

    await expect.poll(() => hash.hints, { timeout: 5_000 }).toEqual([userHint('hash-user')]);
    await expect.poll(() => other.hints, { timeout: 5_000 }).toEqual([userHint('other-user')]);
    // Bound as one word of any name, `#` still gets `other`'s event, and refuses it.
    await expect
      .poll(() => deadLetterReasons(hash.source), { timeout: 5_000 })
      .toEqual([expect.stringMatching(/another realm \(realmId id-of-other\)/)]);
    expect(await deadLetterReasons(other.source)).toEqual([]);
  });
});
