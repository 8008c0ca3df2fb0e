import { randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';
import { routingKeyWord } from '../../src/sources/routing-key.js';
import { eventually } from '../support/relay-harness.js';
import { queueDepth, withBroker } from './support/broker-client.js';
import { runScenario } from './support/scenario.js';

const facts = inject('chaosStack');
const POISON = 1_000;

/** Poison of three kinds, on the routing keys the relay's queue is bound to. */
type PoisonKind = 'not JSON' | 'wrong shape' | 'foreign realm';

function poison(realm: string, i: number): { kind: PoisonKind; routingKey: string; body: Buffer } {
  const word = routingKeyWord(realm);
  const admin = `KK.EVENT.ADMIN.${word}.SUCCESS.USER.CREATE`;
  const user = `KK.EVENT.CLIENT.${word}.SUCCESS.account.UPDATE_PROFILE`;
  const routingKey = i % 4 === 3 ? user : admin;
  const variant = i % 3;
  if (variant === 0) {
    const bodies = [`not json ${i}`, `{"resourceType":"USER","operationType":"CREATE" ${i}`, ''];
    return { kind: 'not JSON', routingKey, body: Buffer.from(bodies[i % bodies.length] ?? '') };
  }
  if (variant === 1) {
    const bodies: unknown[] = [
      { hello: i },
      [1, 2, i],
      null,
      `a string ${i}`,
      { realmId: realm, resourceType: 'USER', operationType: 42, resourcePath: i },
      { type: ['UPDATE_PROFILE'], realmId: realm, userId: { id: i } },
    ];
    return {
      kind: 'wrong shape',
      routingKey,
      body: Buffer.from(JSON.stringify(bodies[i % bodies.length])),
    };
  }
  // A well-formed event of another realm whose name gives the same routing key.
  const realmId = randomUUID();
  const body =
    routingKey === admin
      ? {
          '@class': 'com.github.aznamier.keycloak.event.provider.EventAdminNotificationMqMsg',
          time: Date.now(),
          realmId,
          authDetails: { realmId, clientId: 'admin-cli', ipAddress: '127.0.0.1' },
          resourceType: 'USER',
          operationType: 'CREATE',
          resourcePath: `users/${randomUUID()}`,
          resourceTypeAsString: 'USER',
        }
      : {
          '@class': 'com.github.aznamier.keycloak.event.provider.EventClientNotificationMqMsg',
          time: Date.now(),
          type: 'UPDATE_PROFILE',
          realmId,
          clientId: 'account',
          userId: randomUUID(),
        };
  return { kind: 'foreign realm', routingKey, body: Buffer.from(JSON.stringify(body)) };
}

it('1,000 malformed messages among real changes (amqp): all dead-lettered with a reason, the changes applied', async () => {
  await runScenario(facts, { name: 'malformed-messages', mode: 'amqp' }, async (scenario) => {
    const { relay, changes, realm, queue } = scenario;
    await changes.populate({ users: 20, groups: 5, memberships: 20 });
    await relay.start();
    await relay.waitReady();

    const published = new Set<string>();
    const kinds = new Map<PoisonKind, number>();
    await withBroker(facts.amqpUrl, async (channel) => {
      for (let i = 0; i < POISON; i++) {
        const message = poison(realm.name, i);
        channel.publish('amq.topic', message.routingKey, message.body);
        published.add(message.body.toString('base64'));
        kinds.set(message.kind, (kinds.get(message.kind) ?? 0) + 1);
        // A real change every 20 poison messages: the listener's events are interleaved.
        if (i % 20 === 0) {
          await changes.step();
          await channel.waitForConfirms();
        }
      }
      await channel.waitForConfirms();
    });
    const faultEndedAt = Date.now();
    scenario.notes.push(
      `${POISON} poison (${[...kinds].map(([kind, n]) => `${n} ${kind}`).join(', ')}) among ${changes.total} real changes`,
    );
    await scenario.finish(faultEndedAt, 60_000);

    const deadLetters = `${queue}.dead-letter`;
    await eventually(async () => {
      expect(await queueDepth(facts.amqpUrl, deadLetters)).toBe(POISON);
    }, 30_000);
    expect(await relay.metric('scim_relay_dead_lettered_total')).toBe(POISON);
    const reasons = await withBroker(facts.amqpUrl, async (channel) => {
      const found: string[] = [];
      for (;;) {
        const message = await channel.get(deadLetters, { noAck: true });
        if (message === false) return found;
        // Only poison in the dead-letter queue: no real event of the realm among them.
        expect(published.has(message.content.toString('base64'))).toBe(true);
        const reason: unknown = message.properties.headers?.['x-relay-reason'];
        expect(typeof reason === 'string' && reason !== '', 'x-relay-reason').toBe(true);
        found.push(String(reason));
      }
    });
    expect(reasons).toHaveLength(POISON);
    expect(reasons.filter((r) => /another realm/.test(r)).length).toBe(kinds.get('foreign realm'));
    expect(relay.running, 'the relay never crashed').toBe(true);
    expect(relay.starts).toBe(1);
  });
});
