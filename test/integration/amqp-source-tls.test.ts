import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userHint, type Hint } from '../../src/domain/hint.js';
import { AmqpSource } from '../../src/sources/amqp-source.js';
import { deleteRelayQueues, listenerUserEvent } from '../support/amqp-fixtures.js';
import { DEFAULT_AMQP_URL, ensureLocalRabbitMq } from '../support/rabbitmq-local.js';
import { makeCertificates, startTlsTcpProxy } from '../support/tls.js';

const amqpUrl = process.env.AMQP_URL ?? DEFAULT_AMQP_URL;

/**
 * `run` consumes over `amqps://` behind a private CA: the real broker sits behind a TLS front
 * whose certificate only the throwaway CA vouches for.
 */
describe('AmqpSource over amqps:// with a private CA', () => {
  const realm = 'tls-realm';
  let dir: string;
  let ca: string;
  let proxy: { port: number; close(): Promise<void> };
  let amqpsUrl: string;

  beforeAll(async () => {
    await ensureLocalRabbitMq(amqpUrl);
    dir = await mkdtemp(join(tmpdir(), 'amqp-tls-'));
    const certificates = await makeCertificates(dir);
    ca = await readFile(certificates.ca, 'utf8');
    const broker = new URL(amqpUrl);
    proxy = await startTlsTcpProxy(
      { host: broker.hostname, port: Number(broker.port || 5672) },
      certificates.key,
      certificates.cert,
    );
    const secure = new URL(amqpUrl);
    secure.protocol = 'amqps:';
    secure.hostname = '127.0.0.1';
    secure.port = String(proxy.port);
    amqpsUrl = secure.href;
  });
  afterAll(async () => {
    await proxy.close();
    await rm(dir, { recursive: true, force: true });
  });

  const sourceFor = (queue: string, exchange: string, trust: string | undefined) => {
    const hints: Hint[] = [];
    const source = new AmqpSource(
      {
        url: amqpsUrl,
        exchange,
        queue,
        realm,
        prefetch: 4,
        ca: trust,
      },
      {
        submit: (hint) => {
          hints.push(hint);
          return Promise.resolve('applied');
        },
        setAside: () => undefined,
      },
    );
    return { source, hints };
  };

  it('consumes through the TLS front when the CA is given', async () => {
    const queue = `relay-tls-${randomUUID()}`;
    const exchange = `relay-tls-exchange-${randomUUID()}`;
    const publisher = await connect(amqpUrl);
    const { source, hints } = sourceFor(queue, exchange, ca);
    try {
      const channel = await publisher.createChannel();
      await channel.assertExchange(exchange, 'topic', { durable: false });
      await source.start();
      expect(source.connected).toBe(true);
      const event = listenerUserEvent(realm, 'user-over-tls', 'UPDATE');
      channel.publish(exchange, event.routingKey, event.body);
      await expect.poll(() => hints, { timeout: 5_000 }).toEqual([userHint('user-over-tls')]);
    } finally {
      await source.stop();
      await publisher.close();
      await deleteRelayQueues(amqpUrl, queue, exchange);
    }
  });

  it('refuses the certificate without the CA, naming the verification failure', async () => {
    const queue = `relay-tls-${randomUUID()}`;
    const { source } = sourceFor(queue, 'amq.topic', undefined);
    const failure: unknown = await source.start().catch((error: unknown) => error);
    await source.stop();
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/certificate/i);
  });
});
