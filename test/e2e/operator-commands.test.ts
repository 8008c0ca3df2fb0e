import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { describeHint } from '../../src/domain/hint.js';
import { LEADER_LOCK_KEY } from '../../src/ha/leader-lock.js';
import { PostgresStateStore } from '../../src/state/postgres/postgres-state-store.js';
import { deleteRelayQueues, listenerAdminEvent } from '../support/amqp-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.js';
import { eventually, startRelayHarness, type RelayHarness } from '../support/relay-harness.js';
import { REPO_ROOT } from '../support/repo-paths.js';

/** What one run of the CLI did. */
interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `keycloak-scim-relay <args>` from source in a process of its own, with `env` added. */
function cli(env: Record<string, string>, ...args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', ...args],
      { cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`keycloak-scim-relay ${args.join(' ')} did not run: ${error.message}`));
          return;
        }
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      },
    );
  });
}

/** The one JSON document a `--json` run printed. */
function json(run: CliRun): Record<string, unknown> {
  try {
    return JSON.parse(run.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`not one JSON document (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}

/** The settings of the harness's relay, for a command run beside (or after) it. */
function relayEnv(harness: RelayHarness, extra: Record<string, string>): Record<string, string> {
  const facts = inject('testStack');
  return {
    KEYCLOAK_URL: facts.keycloakUrl,
    KEYCLOAK_REALM: harness.realm.name,
    KEYCLOAK_CLIENT_ID: harness.realm.relay.clientId,
    KEYCLOAK_CLIENT_SECRET: harness.realm.relay.clientSecret,
    SCIM_URL: harness.server.baseUrl,
    SCIM_TOKEN: harness.scimToken,
    STATE_DIR: harness.relay.config.state.dir,
    RETRY_MIN_DELAY_MS: '100',
    RETRY_MAX_DELAY_MS: '1000',
    HTTP_PORT: '0',
    ...extra,
  };
}

describe('status and parked work, against a relay in poll mode', () => {
  const facts = inject('testStack');
  const options = { SOURCE: 'poll', GROUP_NAME_SOURCE: 'name', RESYNC_INTERVAL_MS: '0' };
  let harness: RelayHarness;
  let env: Record<string, string>;
  let parkedKey: string;
  let parkedGroupId: string;

  beforeAll(async () => {
    harness = await startRelayHarness(facts, { prefix: 'operator-poll', env: options });
    env = relayEnv(harness, options);
  });
  afterAll(async () => {
    await harness.close();
  });

  it('shows parked work, checkpoints, lag and the last full reconcile beside the running relay', async () => {
    const { admin } = harness.realm;
    const a = await admin.groups.create({ name: 'alpha' });
    const b = await admin.groups.create({ name: 'beta' });
    const first = await admin.groups.createChildGroup({ id: a.id }, { name: 'shared' });
    const second = await admin.groups.createChildGroup({ id: b.id }, { name: 'shared' });
    // With GROUP_NAME_SOURCE=name the two want one SCIM name: the second to get there is parked.
    const parked = await eventually(() => {
      const found = harness.relay.store
        .parked()
        .filter((p) => [`group:${first.id}`, `group:${second.id}`].includes(p.key));
      expect(found).toHaveLength(1);
      return found[0];
    });
    if (parked === undefined) throw new Error('nothing parked');
    parkedKey = parked.key;
    parkedGroupId = parked.key.slice('group:'.length);

    const status = await cli(env, 'status', '--json');
    expect(status.code, status.stderr).toBe(1);
    const report = json(status);
    expect(report).toMatchObject({
      realm: harness.realm.name,
      source: 'poll',
      state: { kind: 'sqlite', dir: harness.relay.config.state.dir },
      // The test process runs the relay, and holds STATE_DIR's lock.
      relay: { running: true, pid: process.pid },
      lastFullReconcile: { reason: 'first_start', complete: true, failures: 0 },
      lag: { source: 'poll' },
      parked: {
        count: 1,
        items: [
          {
            key: parkedKey,
            kind: 'group',
            reason: expect.stringMatching(/already belongs to Keycloak group/) as unknown,
          },
        ],
      },
      deadLetters: null,
      attention: ['1 parked item(s): see `parked list`'],
      errors: [],
      exitCode: 1,
    });
    const checkpoints = report.checkpoints as { name: string; ageSeconds: number }[];
    expect(checkpoints.map((c) => c.name)).toEqual(
      expect.arrayContaining(['full-reconcile.last', 'poll.admin', 'poll.user']),
    );
    for (const checkpoint of checkpoints) expect(checkpoint.ageSeconds).toBeLessThan(600);
    const lag = report.lag as { streams: { stream: string; pendingEvents: number }[] };
    expect(lag.streams.map((s) => s.stream)).toEqual(['admin', 'user']);

    const human = await cli(env, 'status');
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(
      `relay:          running (holds the STATE_DIR lock, pid ${process.pid})`,
    );
    expect(human.stdout).toContain('parked:         1');
    expect(human.stdout).toContain(`  ${parkedKey}: group ${parkedGroupId}`);
    expect(human.stdout).toMatch(/full reconcile: .* ago \(first_start\), complete/);

    const list = await cli(env, 'parked', 'list', '--json');
    expect(list.code).toBe(1);
    expect(json(list)).toMatchObject({
      count: 1,
      items: [
        {
          key: parkedKey,
          kind: 'group',
          what: describeHint(parked.hint),
          reason: parked.reason,
          attempts: parked.attempts,
          firstFailedAt: new Date(parked.firstFailedAt).toISOString(),
          lastFailedAt: new Date(parked.lastFailedAt).toISOString(),
        },
      ],
      exitCode: 1,
    });
  });

  it('refuses to retry beside the running relay, and a dead-letter command in poll mode', async () => {
    const retry = await cli(env, 'parked', 'retry', '--all', '--json');
    expect(retry.code).toBe(3);
    expect(retry.stderr).toMatch(
      /refused: a relay runs on STATE_DIR .* \(pid \d+\), and `parked retry` does not write beside it: it retries parked work by itself/,
    );
    expect(json(retry)).toMatchObject({ exitCode: 3 });
    expect(harness.relay.store.parked().map((p) => p.key)).toEqual([parkedKey]);

    const deadLetters = await cli(env, 'dead-letter', 'list');
    expect(deadLetters.code).toBe(2);
    expect(deadLetters.stderr).toContain('there is no dead-letter queue with SOURCE=poll');
  });

  it('retries parked work once the relay is stopped: what still fails stays parked, what is fixed is applied', async () => {
    await harness.relay.stop();
    const stopped = json(await cli(env, 'status', '--json'));
    expect(stopped).toMatchObject({ relay: { running: false }, exitCode: 1 });
    expect(stopped.attention).toEqual([
      'no relay runs on this STATE_DIR',
      '1 parked item(s): see `parked list`',
    ]);

    // A change the stopped relay has not read: Keycloak stores its event, and status counts it.
    await harness.realm.admin.users.create({ username: 'lag-probe', enabled: true });
    const behind = json(await cli(env, 'status', '--json'));
    const lag = behind.lag as {
      lagSeconds: number;
      streams: { stream: string; pendingEvents: number; oldestPendingAt: string | null }[];
    };
    expect(lag.streams.find((s) => s.stream === 'admin')).toMatchObject({
      pendingEvents: expect.any(Number) as unknown,
      oldestPendingAt: expect.any(String) as unknown,
    });
    expect(lag.streams.find((s) => s.stream === 'admin')?.pendingEvents).toBeGreaterThanOrEqual(1);
    expect(lag.lagSeconds).toBeGreaterThanOrEqual(0);
    expect((await cli(env, 'status')).stdout).toMatch(
      /lag: +\d.* \(the age of the oldest stored event not yet read\)/,
    );

    const unknown = await cli(env, 'parked', 'retry', 'group:no-such-group');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('nothing is parked under "group:no-such-group"');

    // Not fixed yet: the retry runs the work again, which fails again with its reason.
    const again = await cli(env, 'parked', 'retry', parkedKey, '--json');
    expect(again.code, again.stderr).toBe(1);
    expect(json(again)).toMatchObject({
      retried: 1,
      results: [
        {
          key: parkedKey,
          outcome: 'parked',
          attempts: 2,
          reason: expect.stringMatching(/already belongs to Keycloak group/) as unknown,
        },
      ],
      exitCode: 1,
    });

    // A SCIM side that refuses the token cuts the retry short; the work stays parked as it was.
    await harness.control.setEnabled(false);
    try {
      const refused = await cli(env, 'parked', 'retry', '--all', '--json');
      expect(refused.code, refused.stderr).toBe(1);
      expect(json(refused)).toMatchObject({
        results: [
          {
            key: parkedKey,
            outcome: 'cut',
            reason: expect.stringMatching(/^SCIM refused the request/) as unknown,
          },
        ],
      });
    } finally {
      await harness.control.setEnabled(true);
    }

    // The fix: the parked group gets a name of its own in Keycloak.
    await harness.realm.admin.groups.update({ id: parkedGroupId }, { name: 'shared-retried' });
    const retried = await cli(env, 'parked', 'retry', '--all', '--json');
    expect(retried.code, retried.stderr).toBe(0);
    expect(json(retried)).toMatchObject({
      retried: 1,
      results: [{ key: parkedKey, outcome: 'applied' }],
      exitCode: 0,
    });
    const groups = (await harness.control.state()).groups;
    expect(groups.filter((g) => g.displayName === 'shared')).toHaveLength(1);
    expect(groups.find((g) => g.displayName === 'shared-retried')?.externalId).toBe(parkedGroupId);

    const empty = await cli(env, 'parked', 'list');
    expect(empty).toMatchObject({ code: 0, stdout: 'nothing is parked\n' });
    const after = json(await cli(env, 'status', '--json'));
    expect(after).toMatchObject({ parked: { count: 0 }, exitCode: 1 });
    expect(after.attention).toEqual(['no relay runs on this STATE_DIR']);
  });
});

describe('the dead-letter queue, against a relay in AMQP mode', () => {
  const facts = inject('testStack');
  const queue = `test-operator-${randomUUID().slice(0, 8)}`;
  const deadLetterQueue = `${queue}.dead-letter`;
  const options = {
    SOURCE: 'amqp',
    AMQP_URL: facts.amqpUrl,
    AMQP_QUEUE: queue,
    // Only the messages of this test may bring anything: no backstop, no verification sweep.
    BACKSTOP_INTERVAL_MS: '0',
    RESYNC_INTERVAL_MS: '0',
  };
  let harness: RelayHarness;
  let env: Record<string, string>;

  beforeAll(async () => {
    harness = await startRelayHarness(facts, { prefix: 'operator-amqp', env: options });
    env = relayEnv(harness, options);
  });
  afterAll(async () => {
    await harness.close();
    await deleteRelayQueues(facts.amqpUrl, queue);
  });

  const depth = async (name: string): Promise<number> => {
    const connection = await connect(facts.amqpUrl);
    try {
      return (await (await connection.createChannel()).checkQueue(name)).messageCount;
    } finally {
      await connection.close();
    }
  };

  it('lists dead letters by stable ids and replays what they name from fresh Keycloak reads', async () => {
    const { admin, name } = harness.realm;
    const realmId = (await admin.realms.findOne({ realm: name }))?.id;
    if (realmId === undefined) throw new Error('no realm id');
    // Made in Keycloak while no event reaches the relay: SCIM does not have them.
    const alice = await admin.users.create({
      username: 'alice',
      firstName: 'Fresh',
      lastName: 'Read',
      email: 'alice@example.test',
      enabled: true,
    });
    const bob = await admin.users.create({ username: 'bob', enabled: true });

    const connection = await connect(facts.amqpUrl);
    try {
      const channel = await connection.createConfirmChannel();
      // Poison through the relay's own path: it dead-letters it with its headers and an id.
      const poison = listenerAdminEvent(name, {
        resourceType: 'USER',
        operationType: 'UPDATE',
        resourcePath: `users/${alice.id}`,
      });
      channel.publish('amq.topic', poison.routingKey, Buffer.from('{not json'));
      await channel.waitForConfirms();
      await eventually(async () => {
        expect(await depth(deadLetterQueue)).toBe(1);
      });
      // Dead-lettered by hand, as a relay of an earlier version did (no id header): a valid
      // event of this realm whose body is stale, and another realm's event.
      const stale = listenerAdminEvent(name, {
        resourceType: 'USER',
        operationType: 'UPDATE',
        resourcePath: `users/${alice.id}`,
        representation: { id: alice.id, username: 'alice', firstName: 'Stale' },
      });
      const staleBody = { ...(JSON.parse(stale.body.toString()) as object), realmId };
      const foreign = listenerAdminEvent(name, {
        resourceType: 'USER',
        operationType: 'UPDATE',
        resourcePath: `users/${bob.id}`,
      });
      const foreignBody = {
        ...(JSON.parse(foreign.body.toString()) as object),
        realmId: 'r-other',
      };
      for (const [routingKey, body] of [
        [stale.routingKey, staleBody],
        [foreign.routingKey, foreignBody],
      ] as const) {
        channel.sendToQueue(deadLetterQueue, Buffer.from(JSON.stringify(body)), {
          persistent: true,
          headers: {
            'x-relay-reason': 'dead-lettered by hand for the test',
            'x-relay-routing-key': routingKey,
            'x-relay-dead-lettered-at': new Date().toISOString(),
          },
        });
      }
      await channel.waitForConfirms();
    } finally {
      await connection.close();
    }

    const status = json(await cli(env, 'status', '--json'));
    expect(status).toMatchObject({
      source: 'amqp',
      relay: { running: true },
      lastFullReconcile: { reason: 'first_start', complete: true },
      lag: { source: 'amqp', queue, declared: true, consumers: 1 },
      deadLetters: { queue: deadLetterQueue, declared: true, depth: 3 },
      attention: [`3 dead-lettered message(s) in ${deadLetterQueue}: see \`dead-letter list\``],
      exitCode: 1,
    });
    expect((status.checkpoints as { name: string }[]).map((c) => c.name)).toContain(
      'amqp.baseline',
    );

    const listed = await cli(env, 'dead-letter', 'list', '--json');
    expect(listed.code, listed.stderr).toBe(1);
    const messages = json(listed).messages as {
      id: string;
      routingKey: string;
      reason: string;
      replayable: boolean;
      entities: string[] | null;
      unreplayable: string | null;
    }[];
    expect(messages).toMatchObject([
      {
        id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
        routingKey: expect.stringMatching(/^KK\.EVENT\.ADMIN\..*\.USER\.UPDATE$/) as unknown,
        reason: 'malformed event: the body is not JSON',
        deadLetteredAt: expect.any(String) as unknown,
        replayable: false,
      },
      {
        id: expect.stringMatching(/^sha1:/) as unknown,
        reason: 'dead-lettered by hand for the test',
        replayable: true,
        entities: [`user ${alice.id}`],
      },
      {
        replayable: false,
        unreplayable: expect.stringMatching(/another realm \(realmId r-other/) as unknown,
      },
    ]);
    const ids = messages.map((m) => m.id);
    // Listing takes nothing away and keeps the order, so the ids hold from one run to the next.
    expect(
      (json(await cli(env, 'dead-letter', 'list', '--json')).messages as { id: string }[]).map(
        (m) => m.id,
      ),
    ).toEqual(ids);
    expect(await depth(deadLetterQueue)).toBe(3);

    const refused = await cli(env, 'dead-letter', 'replay', '--all');
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/refused: a relay runs on STATE_DIR/);
    expect(await depth(deadLetterQueue)).toBe(3);

    await harness.relay.stop();
    const unknown = await cli(env, 'dead-letter', 'replay', '--id', 'no-such-id');
    expect(unknown.code).toBe(2);
    expect(await depth(deadLetterQueue)).toBe(3);

    const staleId = ids[1] ?? '';
    const replayed = await cli(env, 'dead-letter', 'replay', '--id', staleId, '--json');
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(json(replayed)).toMatchObject({
      results: [{ id: staleId, outcome: 'replayed', entities: [`user ${alice.id}`] }],
      remaining: 2,
      exitCode: 0,
    });
    // From Keycloak as it is, never from the message's stale body.
    const scimAlice = (await harness.control.state()).users.find((u) => u.userName === 'alice');
    expect(scimAlice).toMatchObject({
      externalId: alice.id,
      givenName: 'Fresh',
      familyName: 'Read',
    });

    // A bounded look and a bounded replay take the oldest first and leave the rest queued.
    const firstOnly = json(await cli(env, 'dead-letter', 'list', '--limit', '1', '--json'));
    expect(firstOnly).toMatchObject({ depth: 2, shown: 1, exitCode: 1 });
    expect((firstOnly.messages as { id: string }[]).map((m) => m.id)).toEqual([ids[0]]);
    const bounded = await cli(env, 'dead-letter', 'replay', '--all', '--limit', '1', '--json');
    expect(bounded.code, bounded.stderr).toBe(1);
    expect(json(bounded)).toMatchObject({
      results: [{ id: ids[0], outcome: 'unreplayable' }],
      remaining: 2,
    });
    expect(await depth(deadLetterQueue)).toBe(2);

    const rest = await cli(env, 'dead-letter', 'replay', '--all', '--json');
    expect(rest.code, rest.stderr).toBe(1);
    expect(json(rest)).toMatchObject({
      results: [
        { id: ids[0], outcome: 'unreplayable', why: 'malformed event: the body is not JSON' },
        { id: ids[2], outcome: 'unreplayable' },
      ],
      remaining: 2,
      exitCode: 1,
    });
    expect((await harness.control.state()).users.map((u) => u.userName)).not.toContain('bob');
    const left = json(await cli(env, 'dead-letter', 'list', '--json'));
    expect((left.messages as { id: string }[]).map((m) => m.id)).toEqual([ids[0], ids[2]]);
  });
});

describe('status on PostgreSQL state', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase('operator_status');
  });
  afterAll(async () => {
    await database.drop();
  });

  it('names the session that holds the leader lock, and reads parked work from the database', async () => {
    const env = {
      KEYCLOAK_URL: 'http://127.0.0.1:9',
      KEYCLOAK_REALM: 'unused',
      KEYCLOAK_CLIENT_SECRET: 'unused',
      SCIM_URL: 'http://127.0.0.1:9/scim/v2',
      SCIM_TOKEN: 'unused',
      STATE_URL: database.url,
    };
    const empty = await cli(env, 'status', '--json');
    expect(json(empty)).toMatchObject({
      state: { kind: 'postgres' },
      relay: { leader: null },
      checkpoints: [],
      parked: { count: 0 },
      attention: ['no replica holds the leader lock on this STATE_URL'],
      exitCode: 1,
    });
    expect(empty.stdout).not.toContain(database.url);

    const leader = new pg.Client({
      connectionString: database.url,
      application_name: 'keycloak-scim-relay run (test-host pid 1)',
    });
    await leader.connect();
    try {
      await leader.query('SELECT pg_advisory_lock($1)', [LEADER_LOCK_KEY]);
      const store = await PostgresStateStore.connect(leader);
      store.park('user:u-1', { kind: 'user', userId: 'u-1' }, 'SCIM answered 400');
      await store.durable();
      const led = await cli(env, 'status', '--json');
      expect(json(led)).toMatchObject({
        relay: { leader: { applicationName: 'keycloak-scim-relay run (test-host pid 1)' } },
        parked: { count: 1, items: [{ key: 'user:u-1', reason: 'SCIM answered 400' }] },
        attention: ['1 parked item(s): see `parked list`'],
        exitCode: 1,
      });
      const listed = await cli(env, 'parked', 'list', '--json');
      expect(json(listed)).toMatchObject({ count: 1, items: [{ key: 'user:u-1' }] });
      const retry = await cli(env, 'parked', 'retry', '--all');
      expect(retry.code).toBe(3);
      expect(retry.stderr).toContain('a relay replica holds the leader lock on STATE_URL');
      await store.close();
    } finally {
      await leader.end();
    }
  });
});
