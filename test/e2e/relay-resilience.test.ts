import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { deleteRelayQueues } from '../support/amqp-fixtures.js';
import { ListenerSimulator } from '../support/listener-simulator.js';
import { eventually, startRelayHarness, type RelayHarness } from '../support/relay-harness.js';
import { describeEachProfile } from '../support/scim-profiles.js';
import { createTestRealm } from '../support/test-realm.js';

const exec = promisify(execFile);

describeEachProfile('run keeps every change through failures', (profile) => {
  const facts = inject('testStack');
  // Per profile: each suite has its own exchange, queue and realm.
  const suffix = `${profile.name}-${randomUUID().slice(0, 8)}`;
  const exchange = `test-kk-${suffix}`;
  const queue = `test-relay-resilience-${suffix}`;
  let harness: RelayHarness;
  let listener: ListenerSimulator;

  const scimUser = async (userName: string) => {
    const found = (await harness.control.state()).users.find((u) => u.userName === userName);
    if (found === undefined) throw new Error(`no SCIM user ${userName} yet`);
    return found;
  };

  beforeAll(async () => {
    const realm = await createTestRealm(facts, { prefix: `resilience-${profile.name}` });
    listener = await ListenerSimulator.start({
      amqpUrl: facts.amqpUrl,
      admin: realm.admin,
      realm: realm.name,
      exchange,
      variant: 'focus-shift',
    });
    harness = await startRelayHarness(facts, {
      prefix: `resilience-${profile.name}`,
      realm,
      scim: profile.scim,
      env: {
        SOURCE: 'amqp',
        AMQP_URL: facts.amqpUrl,
        AMQP_EXCHANGE: exchange,
        AMQP_QUEUE: queue,
      },
    });
  });

  afterAll(async () => {
    await harness.close();
    await listener.stop();
    await harness.realm.delete();
    await deleteRelayQueues(facts.amqpUrl, queue);
  });

  it('holds changes while the integration is disabled, and applies them once it is enabled', async () => {
    await harness.control.setEnabled(false);
    await harness.realm.admin.users.create({ username: 'held', enabled: true });
    // The relay keeps trying and is refused; nothing is parked, the message stays unacked.
    await eventually(async () => {
      const refused = (await harness.control.requests()).filter((r) => r.status === 403);
      expect(refused.length).toBeGreaterThanOrEqual(2);
    });
    expect(harness.relay.store.parkedCount()).toBe(0);
    await harness.control.setEnabled(true);
    const user = await eventually(() => scimUser('held'));
    expect(user.active).toBe(true);
  });

  it('retries through 503s and a dropped connection', async () => {
    await harness.control.injectFaults({ status: 503, retryAfter: 1, count: 2, method: 'POST' });
    // The create itself loses its connection after the 503s: a new user is POSTed without a
    // lookup first (on a server that does not filter by externalId, no GET comes at all).
    await harness.control.injectFaults({ drop: true, count: 1, method: 'POST' });
    await harness.realm.admin.users.create({ username: 'bumpy', enabled: true });
    await eventually(() => scimUser('bumpy'));
    const statuses = (await harness.control.requests()).map((r) => r.status);
    expect(statuses).toContain(503);
    expect(statuses).toContain(null);
    expect(
      (await harness.control.state()).users.filter((u) => u.userName === 'bumpy'),
    ).toHaveLength(1);
  });

  it('parks what fails for good with its reason, and carries on with the rest', async () => {
    await harness.control.injectFaults({
      status: 400,
      body: {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
        status: '400',
        scimType: 'invalidValue',
        detail: 'userName rejected by policy',
      },
      count: 1,
      method: 'POST',
      pathPrefix: '/Users',
    });
    const { id } = await harness.realm.admin.users.create({ username: 'refused', enabled: true });
    await eventually(() => {
      const parked = harness.relay.store.parked().find((p) => p.key === `user:${id}`);
      expect(parked?.reason).toMatch(/HTTP 400.*invalidValue.*userName rejected by policy/);
    });
    // The next change goes through: one parked entity blocks nothing.
    await harness.realm.admin.users.create({ username: 'accepted', enabled: true });
    await eventually(() => scimUser('accepted'));
    expect((await harness.control.state()).users.some((u) => u.userName === 'refused')).toBe(false);
  });

  it('reconnects after RabbitMQ drops its connection, without losing a change', async () => {
    const { stdout } = await exec('rabbitmqctl', [
      '-q',
      'list_connections',
      'pid',
      'client_properties',
    ]);
    const line = stdout.split('\n').find((l) => l.includes(`keycloak-scim-relay ${queue}`));
    const pid = line?.split('\t')[0];
    if (pid === undefined) throw new Error(`relay connection not found in:\n${stdout}`);
    await exec('rabbitmqctl', ['close_connection', pid, 'test: connection lost']);
    await harness.realm.admin.users.create({ username: 'after-reconnect', enabled: true });
    await eventually(() => scimUser('after-reconnect'), 40_000);
  });
});
