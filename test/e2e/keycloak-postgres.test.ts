import { randomUUID } from 'node:crypto';
import { connect, type GetMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { routingKeyWord } from '../../src/sources/routing-key.js';
import { LISTENER_EXCHANGE } from '../support/keycloak-listener.js';
import { startKeycloakOnPostgres, type KeycloakOnPostgres } from '../support/keycloak-postgres.js';
import { createRabbitMqNode, type RabbitMqNode } from '../support/rabbitmq-node.js';
import { eventually } from '../support/relay-harness.js';
import { createTestRealm, masterAdminClient, type TestRealm } from '../support/test-realm.js';

/** Every message waiting in `queue`, taken off it, on a connection of its own. */
async function drain(url: string, queue: string): Promise<GetMessage[]> {
  const connection = await connect(url);
  try {
    const channel = await connection.createChannel();
    const messages: GetMessage[] = [];
    for (;;) {
      const message = await channel.get(queue, { noAck: true });
      if (message === false) return messages;
      messages.push(message);
    }
  } finally {
    await connection.close();
  }
}

/** The `firstName` an admin USER UPDATE message carries in its representation. */
function firstNameOf(message: GetMessage): string | undefined {
  const body = JSON.parse(message.content.toString()) as { representation?: string };
  if (body.representation === undefined) return undefined;
  return (JSON.parse(body.representation) as { firstName?: string }).firstName;
}

/**
 * The pieces a chaos test needs, together: a Keycloak of the test's own on PostgreSQL (the
 * stack's version), its real RabbitMQ listener publishing to a private RabbitMQ node, both
 * stopped, killed and started again while the data stays.
 */
describe('Keycloak on PostgreSQL, publishing to a private RabbitMQ node', () => {
  const facts = inject('testStack');
  const probe = `listener-probe-${randomUUID()}`;
  const timings: Record<string, number> = {};
  let broker: RabbitMqNode | undefined;
  let keycloak: KeycloakOnPostgres | undefined;
  let realm: TestRealm;

  const started = (): { broker: RabbitMqNode; keycloak: KeycloakOnPostgres } => {
    if (broker === undefined || keycloak === undefined) throw new Error('the stack did not start');
    return { broker, keycloak };
  };

  beforeAll(async () => {
    broker = await createRabbitMqNode({ namePrefix: 'kc-pg' });
    timings.brokerStart = (await broker.start()).startupMs;
    const began = Date.now();
    keycloak = await startKeycloakOnPostgres({
      version: facts.keycloakVersion,
      importFiles: [],
      listenerAmqpUrl: broker.url,
      databasePrefix: 'e2e_keycloak',
      startTimeoutMs: 420_000,
    });
    timings.keycloakFirstStart = Date.now() - began;
    realm = await createTestRealm(keycloak, { prefix: 'pg.listener', realListener: true });
    // A durable queue, so that it and its binding outlive the broker's restarts.
    const connection = await connect(broker.url);
    try {
      const channel = await connection.createChannel();
      await channel.assertQueue(probe, { durable: true });
      await channel.bindQueue(
        probe,
        LISTENER_EXCHANGE,
        `KK.EVENT.ADMIN.${routingKeyWord(realm.name)}.SUCCESS.USER.*`,
      );
    } finally {
      await connection.close();
    }
  });

  afterAll(async () => {
    // Keycloak first: its database goes with it, and its listener talks to the broker.
    await keycloak?.cleanup();
    await broker?.cleanup();
    console.info(
      `[keycloak-postgres] Keycloak ${facts.keycloakVersion}, times (ms): ${JSON.stringify(timings)}`,
    );
  });

  it('delivers a real admin event to a queue bound on the private node', async () => {
    const { broker } = started();
    expect(broker.amqpPort).not.toBe(5672);
    const { id } = await realm.admin.users.create({ username: 'first', enabled: true });
    const [message] = await eventually(async () => {
      const got = await drain(broker.url, probe);
      expect(got).toHaveLength(1);
      return got;
    });
    expect(message?.fields.routingKey).toBe(
      `KK.EVENT.ADMIN.${routingKeyWord(realm.name)}.SUCCESS.USER.CREATE`,
    );
    expect(message?.properties.appId).toBe('Keycloak');
    const body = JSON.parse(message?.content.toString() ?? '{}') as Record<string, unknown>;
    expect(String(body.resourcePath).replace(/\/+/g, '/')).toBe(`users/${id}`);
  });

  it('drops what happens while the broker is down, and publishes again once it is back', async () => {
    const { broker } = started();
    const { id } = await realm.admin.users.create({ username: 'outage', enabled: true });
    await eventually(async () => {
      expect(await drain(broker.url, probe)).toHaveLength(1);
    });
    await broker.stop();
    await realm.admin.users.update({ id }, { firstName: 'while-down' });
    timings.brokerRestart = (await broker.start()).startupMs;
    await realm.admin.users.update({ id }, { firstName: 'back' });
    const names = await eventually(async () => {
      const got = (await drain(broker.url, probe)).map(firstNameOf);
      expect(got).toContain('back');
      return got;
    });
    // The listener keeps nothing for later: the change made while the broker was away is lost.
    expect(names).toEqual(['back']);
  });

  it('keeps users across a clean restart and a kill, on the same ports, and publishes after', async () => {
    const { broker, keycloak } = started();
    const url = keycloak.keycloakUrl;
    const { id } = await realm.admin.users.create({ username: 'survivor', enabled: true });
    await drain(broker.url, probe);

    const restart = await keycloak.restart();
    timings.keycloakRestart = restart.startupMs;
    expect(restart.rebuilt).toBe(false);
    expect(keycloak.keycloakUrl).toBe(url);
    // Admin tokens from before may be gone with the server's sessions: log in again.
    let admin = masterAdminClient(keycloak, realm.name);
    expect((await admin.users.findOne({ id }))?.username).toBe('survivor');

    await keycloak.kill();
    expect(keycloak.running).toBe(false);
    timings.keycloakStartAfterKill = (await keycloak.start()).startupMs;
    admin = masterAdminClient(keycloak, realm.name);
    expect((await admin.users.findOne({ id }))?.username).toBe('survivor');

    await admin.users.update({ id }, { firstName: 'after-kill' });
    await eventually(async () => {
      expect((await drain(broker.url, probe)).map(firstNameOf)).toContain('after-kill');
    });
  });
});
