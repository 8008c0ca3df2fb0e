import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect, type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';
import {
  deleteRelayQueues,
  listenerAdminEvent,
  listenerUserEvent,
} from '../support/amqp-fixtures.js';
import { freePort } from '../support/free-port.js';
import { eventually } from '../support/relay-harness.js';
import { REPO_ROOT } from '../support/repo-paths.js';
import { RELAY_CLIENT_ID } from '../support/realm-template.js';
import { createTestRealm, type TestRealm } from '../support/test-realm.js';

const exec = promisify(execFile);

/** Seconds an access token of the test realm lives: the relay must log in again soon. */
const TOKEN_LIFESPAN_S = 6;
const KEYCLOAK_REFUSED = "Keycloak refused the relay's client credentials";
const SCIM_REFUSED = "the SCIM target refused the relay's token (HTTP 401)";

interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/**
 * Secrets rotated in place while the relay runs, as Kubernetes updates a mounted Secret: the
 * relay process reads KEYCLOAK_CLIENT_SECRET_FILE and SCIM_TOKEN_FILE, and the test regenerates
 * the client secret in Keycloak and the token on the SCIM server, then writes the new values to
 * the files. Once with the poll source (the realm's stored events), once with the AMQP source
 * (messages as the RabbitMQ listener publishes them, the backstop off so that only the queue
 * brings them): held changes stay unchecked (poll) or unacked (AMQP), never parked or
 * dead-lettered.
 */
describe.each(['poll', 'amqp'] as const)(
  'secrets rotated in place (%s source, relay process)',
  (source) => {
    const facts = inject('testStack');
    const suffix = randomUUID().slice(0, 8);
    const exchange = `test-kk-rotation-${suffix}`;
    const queue = `test-relay-rotation-${suffix}`;
    let connection: ChannelModel | undefined;
    let channel: Channel | undefined;
    let realm: TestRealm;
    let server: RunningScimServer;
    let control: ScimServerControl;
    let dir: string;
    let httpPort: number;
    let relay: { child: ChildProcess; output: () => string } | undefined;
    const secretFile = (): string => join(dir, 'keycloak-client-secret');
    const tokenFile = (): string => join(dir, 'scim-token');
    const scimToken = `scim-token-${randomBytes(18).toString('base64url')}`;
    const secretsSeen: string[] = [scimToken];

    const base = (): string => `http://127.0.0.1:${httpPort}`;
    const readyz = async (): Promise<{ status: number; failing: string[]; body: unknown }> => {
      const response = await fetch(`${base()}/readyz`);
      const body = (await response.json()) as { failing?: string[] };
      return { status: response.status, failing: body.failing ?? [], body };
    };
    const metric = async (series: string): Promise<number> => {
      const text = await (await fetch(`${base()}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      if (line === undefined) throw new Error(`no series ${series} in /metrics`);
      return Number(line.slice(series.length + 1));
    };
    const logLines = (): LogLine[] =>
      (earlierOutput + (relay?.output() ?? ''))
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as LogLine);
    const errorsMatching = (text: string): LogLine[] =>
      logLines().filter((line) => line.level === 'error' && line.msg.includes(text));

    /** Nothing was parked or failed: held work is neither. */
    const expectNothingParked = async (): Promise<void> => {
      expect(await metric('scim_relay_parked_items')).toBe(0);
      for (const kind of ['user', 'group', 'membership']) {
        expect(await metric(`scim_relay_reconciles_failed_total{kind="${kind}"}`)).toBe(0);
      }
    };

    /** What the RabbitMQ listener would publish for a change (AMQP mode); nothing in poll mode. */
    const publishUser = (userId: string): void => {
      if (channel === undefined) return;
      const { routingKey, body } = listenerUserEvent(realm.name, userId, 'CREATE');
      channel.publish(exchange, routingKey, body);
    };
    const publishGroup = (groupId: string): void => {
      if (channel === undefined) return;
      const { routingKey, body } = listenerAdminEvent(realm.name, {
        resourceType: 'GROUP',
        operationType: 'CREATE',
        resourcePath: `groups/${groupId}`,
      });
      channel.publish(exchange, routingKey, body);
    };
    const publishMembership = (userId: string, groupId: string): void => {
      if (channel === undefined) return;
      const { routingKey, body } = listenerAdminEvent(realm.name, {
        resourceType: 'GROUP_MEMBERSHIP',
        operationType: 'CREATE',
        resourcePath: `users/${userId}/groups/${groupId}`,
      });
      channel.publish(exchange, routingKey, body);
    };
    const createUser = async (username: string): Promise<string> => {
      const { id } = await realm.admin.users.create({ username, enabled: true });
      publishUser(id);
      return id;
    };
    const createGroup = async (name: string): Promise<string> => {
      const { id } = await realm.admin.groups.create({ name });
      publishGroup(id);
      return id;
    };
    const addMember = async (userId: string, groupId: string): Promise<void> => {
      await realm.admin.users.addToGroup({ id: userId, groupId });
      publishMembership(userId, groupId);
    };

    /** AMQP mode: the held messages are delivered to the relay and not acked, none dead-lettered. */
    const expectMessagesHeld = async (): Promise<void> => {
      if (channel === undefined) return;
      // A quorum queue reports its counts to rabbitmqctl at each tick, every 5 s: a count read
      // sooner after the publishes can still be the 0 from before them.
      await eventually(async () => {
        const { stdout } = await exec('rabbitmqctl', [
          '-q',
          'list_queues',
          'name',
          'messages_unacknowledged',
          'messages_ready',
        ]);
        const row = stdout
          .split('\n')
          .map((line) => line.split('\t'))
          .find((cells) => cells[0] === queue);
        expect(Number(row?.[1]) + Number(row?.[2])).toBeGreaterThan(0);
      }, 12_000);
      expect((await channel.checkQueue(`${queue}.dead-letter`)).messageCount).toBe(0);
      expect(await metric('scim_relay_dead_lettered_total')).toBe(0);
    };

    /** Every user and group the test made, and each group's members, as SCIM holds them. */
    const expectScimMatchesKeycloak = async (
      userIds: readonly string[],
      groupIds: readonly string[],
    ): Promise<void> => {
      const state = await control.state();
      const byScimId = new Map(state.users.map((u) => [u.id, u.externalId]));
      for (const id of userIds) {
        const kc = await realm.admin.users.findOne({ id });
        const twin = state.users.find((u) => u.externalId === id);
        expect(twin?.userName).toBe(kc?.username);
      }
      for (const id of groupIds) {
        const twin = state.groups.find((g) => g.externalId === id);
        expect(twin).toBeDefined();
        const members = await realm.admin.groups.listMembers({ id, max: 100 });
        expect(twin?.members.map((m) => byScimId.get(m)).sort()).toEqual(
          members.map((m) => m.id).sort(),
        );
      }
    };

    /** The relay as the container runs it, on this suite's files, state and port. */
    const startRelay = (): { child: ChildProcess; output: () => string } => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'run'], {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          KEYCLOAK_URL: facts.keycloakUrl,
          KEYCLOAK_REALM: realm.name,
          KEYCLOAK_CLIENT_ID: RELAY_CLIENT_ID,
          KEYCLOAK_CLIENT_SECRET_FILE: secretFile(),
          SCIM_URL: server.baseUrl,
          SCIM_TOKEN_FILE: tokenFile(),
          SOURCE: source,
          POLL_INTERVAL_MS: '500',
          ...(source === 'amqp'
            ? {
                AMQP_URL: facts.amqpUrl,
                AMQP_EXCHANGE: exchange,
                AMQP_QUEUE: queue,
                BACKSTOP_INTERVAL_MS: '0',
                EVENT_SETTLE_MS: '0',
              }
            : {}),
          RETRY_MAX_DELAY_MS: '2000',
          STATE_DIR: join(dir, 'state'),
          HTTP_PORT: String(httpPort),
          HTTP_HOST: '127.0.0.1',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      return { child, output: () => output };
    };
    /** Every line the relay processes wrote, the earlier runs' included. */
    let earlierOutput = '';

    beforeAll(async () => {
      realm = await createTestRealm(facts, {
        prefix: `rotation-${source}`,
        accessTokenLifespan: TOKEN_LIFESPAN_S,
      });
      secretsSeen.push(realm.relay.clientSecret);
      server = await startScimServer({ token: scimToken, testApi: true });
      control = new ScimServerControl(server.origin);
      dir = mkdtempSync(join(tmpdir(), 'relay-rotation-'));
      writeFileSync(secretFile(), `${realm.relay.clientSecret}\n`);
      writeFileSync(tokenFile(), `${scimToken}\n`);
      httpPort = await freePort();
      if (source === 'amqp') {
        connection = await connect(facts.amqpUrl);
        channel = await connection.createChannel();
        await channel.assertExchange(exchange, 'topic', { durable: false });
      }
      relay = startRelay();
      await eventually(async () => {
        expect((await readyz()).status).toBe(200);
      }, 90_000);
    }, 120_000);

    afterAll(async () => {
      const child = relay?.child;
      if (child !== undefined && child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      // The lines of a rotation, kept where asked: they document what an operator sees.
      const output = earlierOutput + (relay?.output() ?? '');
      const keep = process.env['CREDENTIAL_ROTATION_LOG'];
      if (keep !== undefined && keep !== '') writeFileSync(`${keep}.${source}`, output);
      await server.close();
      if (connection !== undefined) {
        await connection.close();
        await deleteRelayQueues(facts.amqpUrl, queue, exchange);
      }
      await realm.delete();
      rmSync(dir, { recursive: true, force: true });
      // No secret, old or new, ever reached the log.
      for (const secret of secretsSeen) expect(output).not.toContain(secret);
    });

    it('holds Keycloak changes while the client secret is refused, and catches up once the file has the new one', async () => {
      const before = await createUser('before-rotation');
      await eventually(async () => {
        expect((await control.state()).users.map((u) => u.externalId)).toContain(before);
      });

      // Rotate the secret in Keycloak; the relay's file still holds the old one.
      const [client] = await realm.admin.clients.find({ clientId: RELAY_CLIENT_ID });
      const clientUuid = client?.id;
      if (clientUuid === undefined) throw new Error(`client ${RELAY_CLIENT_ID} not found`);
      const rotated = await realm.admin.clients.generateNewClientSecret({ id: clientUuid });
      const newSecret = rotated.value;
      if (newSecret === undefined) throw new Error('Keycloak returned no new client secret');
      secretsSeen.push(newSecret);

      // Changes while the relay still has a valid token, and once its token expired.
      const group = await createGroup('rotated-team');
      const early = await createUser('during-rotation');
      await addMember(early, group);

      await eventually(
        async () => {
          const ready = await readyz();
          expect(ready.status).toBe(503);
          expect(ready.failing).toContain('credentials');
        },
        (TOKEN_LIFESPAN_S + 20) * 1000,
      );
      const late = await createUser('after-expiry');
      await addMember(late, group);
      await addMember(before, group);

      // Let the refusal last a few polls and readiness checks: still one error line.
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      expect((await readyz()).status).toBe(503);
      const refusal = errorsMatching(KEYCLOAK_REFUSED);
      expect(refusal).toHaveLength(1);
      expect(refusal[0]?.msg).toContain('KEYCLOAK_CLIENT_SECRET_FILE');
      expect(refusal[0]?.msg).toContain('KEYCLOAK_CLIENT_ID');
      expect(refusal[0]?.msg).toContain(secretFile());
      expect(logLines().filter((line) => line.level === 'error')).toEqual(refusal);
      expect(await metric('scim_relay_credentials_refused{service="keycloak"}')).toBe(1);
      expect(
        await metric('scim_relay_credential_failures_total{service="keycloak"}'),
      ).toBeGreaterThanOrEqual(2);
      await expectNothingParked();
      await expectMessagesHeld();
      const scimUsers = (await control.state()).users.map((u) => u.externalId);
      expect(scimUsers).not.toContain(late);

      // The operator (or Kubernetes) writes the new secret to the file: no restart.
      writeFileSync(secretFile(), `${newSecret}\n`);
      await eventually(async () => {
        expect((await readyz()).status).toBe(200);
        await expectScimMatchesKeycloak([before, early, late], [group]);
      }, 60_000);
      expect(await metric('scim_relay_credentials_refused{service="keycloak"}')).toBe(0);
      expect(
        logLines().filter(
          (line) => line.level === 'info' && line.msg.includes('Keycloak accepts the relay'),
        ),
      ).toHaveLength(1);
      await expectNothingParked();
      expect(relay?.child.exitCode).toBeNull();
    }, 150_000);

    it('holds writes while the SCIM token is refused, and applies them once the file has the new one', async () => {
      const newToken = `scim-token-${randomBytes(18).toString('base64url')}`;
      secretsSeen.push(newToken);
      await control.setToken(newToken);

      const group = await createGroup('token-team');
      const user = await createUser('token-rotated');
      await addMember(user, group);

      await eventually(async () => {
        const ready = await readyz();
        expect(ready.status).toBe(503);
        expect(ready.failing).toContain('credentials');
      }, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      const refusal = errorsMatching(SCIM_REFUSED);
      expect(refusal).toHaveLength(1);
      expect(refusal[0]?.msg).toContain('SCIM_TOKEN_FILE');
      expect(refusal[0]?.msg).toContain(tokenFile());
      expect(await metric('scim_relay_credentials_refused{service="scim"}')).toBe(1);
      expect(
        await metric('scim_relay_credential_failures_total{service="scim"}'),
      ).toBeGreaterThanOrEqual(2);
      await expectNothingParked();
      await expectMessagesHeld();
      expect((await control.state()).users.map((u) => u.externalId)).not.toContain(user);

      writeFileSync(tokenFile(), `${newToken}\n`);
      await eventually(async () => {
        expect((await readyz()).status).toBe(200);
        await expectScimMatchesKeycloak([user], [group]);
      }, 60_000);
      expect(await metric('scim_relay_credentials_refused{service="scim"}')).toBe(0);
      expect(
        logLines().filter(
          (line) => line.level === 'info' && line.msg.includes('the SCIM target accepts the relay'),
        ),
      ).toHaveLength(1);
      await expectNothingParked();
      expect(relay?.child.exitCode).toBeNull();
    }, 120_000);

    it('stops at once while a secret is refused, and does the held changes after the restart', async () => {
      const newToken = `scim-token-${randomBytes(18).toString('base64url')}`;
      secretsSeen.push(newToken);
      await control.setToken(newToken);
      const group = await createGroup('restart-team');
      const user = await createUser('held-over-restart');
      await addMember(user, group);
      await eventually(async () => {
        expect((await readyz()).failing).toContain('credentials');
      }, 30_000);

      // Held work cannot finish: the stop does not wait for it (it would wait 27 s, then cut).
      const first = relay;
      if (first === undefined) throw new Error('no relay running');
      const exited = new Promise<number | null>((resolve) => first.child.once('exit', resolve));
      const stopAsked = Date.now();
      first.child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - stopAsked).toBeLessThan(10_000);
      expect(first.output()).toContain('stopping while credentials are refused');
      expect((await control.state()).users.map((u) => u.externalId)).not.toContain(user);

      // The new token in its file, and a new process on the same state: nothing was lost.
      writeFileSync(tokenFile(), `${newToken}\n`);
      earlierOutput += first.output();
      relay = startRelay();
      await eventually(async () => {
        expect((await readyz()).status).toBe(200);
        await expectScimMatchesKeycloak([user], [group]);
      }, 90_000);
      await expectNothingParked();
    }, 150_000);
  },
);
