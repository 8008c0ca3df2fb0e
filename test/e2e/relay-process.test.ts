import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect, type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';
import { listenerUserEvent } from '../support/amqp-fixtures.js';
import { mapWithConcurrency } from '../support/concurrency.js';
import { freePort } from '../support/free-port.js';
import { eventually } from '../support/relay-harness.js';
import { REPO_ROOT } from '../support/repo-paths.js';
import { describeEachProfile } from '../support/scim-profiles.js';
import { createTestRealm, type TestRealm } from '../support/test-realm.js';

const exec = promisify(execFile);
const BURST = 150;

// Built once for both profiles: the build is the slowest step of this file.
beforeAll(async () => {
  await exec('npm', ['run', 'build'], { cwd: REPO_ROOT });
});

/**
 * The relay as the container runs it: the compiled entrypoint `node dist/src/cli.js run`, a
 * real process with its own environment, stopped by a real SIGTERM.
 */
describeEachProfile('the relay process (the image entrypoint)', (profile) => {
  const facts = inject('testStack');
  // Per profile: each suite has its own exchange, queue, token and realm.
  const suffix = `${profile.name}-${randomUUID().slice(0, 8)}`;
  const exchange = `test-kk-${suffix}`;
  const queue = `test-relay-process-${suffix}`;
  const token = `process-token-${suffix}`;
  let realm: TestRealm;
  let server: RunningScimServer;
  let control: ScimServerControl;
  let connection: ChannelModel;
  let channel: Channel;
  let stateDir: string;
  let httpPort: number;

  const env = () => ({
    ...process.env,
    KEYCLOAK_URL: facts.keycloakUrl,
    KEYCLOAK_REALM: realm.name,
    KEYCLOAK_CLIENT_SECRET: realm.relay.clientSecret,
    SCIM_URL: server.baseUrl,
    SCIM_TOKEN: token,
    SOURCE: 'amqp',
    AMQP_URL: facts.amqpUrl,
    AMQP_EXCHANGE: exchange,
    AMQP_QUEUE: queue,
    STATE_DIR: stateDir,
    HTTP_PORT: String(httpPort),
    HTTP_HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
  });

  const startRelay = (): { child: ChildProcess; output: () => string } => {
    const child = spawn(process.execPath, ['dist/src/cli.js', 'run'], {
      cwd: REPO_ROOT,
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    return { child, output: () => output };
  };

  const publishCreate = (userId: string): void => {
    const { routingKey, body } = listenerUserEvent(realm.name, userId, 'CREATE');
    channel.publish(exchange, routingKey, body);
  };

  beforeAll(async () => {
    realm = await createTestRealm(facts, { prefix: `process-${profile.name}` });
    server = await startScimServer({ token, testApi: true, ...profile.scim });
    control = new ScimServerControl(server.origin);
    connection = await connect(facts.amqpUrl);
    channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: false });
    stateDir = mkdtempSync(join(tmpdir(), `relay-process-${profile.name}-`));
    httpPort = await freePort();
  });

  afterAll(async () => {
    await channel.deleteQueue(queue).catch(() => undefined);
    await channel.deleteQueue(`${queue}.dead-letter`).catch(() => undefined);
    await channel.deleteExchange(exchange).catch(() => undefined);
    await connection.close();
    await server.close();
    await realm.delete();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('serves health, readiness and metrics whose counters move with a change', async () => {
    const relay = startRelay();
    try {
      const base = `http://127.0.0.1:${httpPort}`;
      await eventually(async () => {
        expect((await fetch(`${base}/readyz`)).status).toBe(200);
      });
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const { id } = await realm.admin.users.create({ username: 'metered', enabled: true });
      publishCreate(id);
      await eventually(async () => {
        const users = (await control.state()).users;
        expect(users.some((u) => u.userName === 'metered')).toBe(true);
      });
      // The counters move once the reconcile has finished, a moment after the SCIM write.
      await eventually(async () => {
        const text = await (await fetch(`${base}/metrics`)).text();
        expect(text).toMatch(/scim_relay_events_received_total\{kind="admin"\} 1\b/);
        expect(text).toMatch(/scim_relay_reconciles_applied_total\{kind="user"\} 1\b/);
        expect(text).toMatch(/scim_relay_scim_responses_total\{method="POST",status="201"\} 1\b/);
        expect(text).toMatch(/scim_relay_reconcile_duration_seconds_count\{kind="user"\} 1\b/);
        expect(text).toMatch(/scim_relay_last_sync_success_timestamp_seconds \d+/);
      });
    } finally {
      relay.child.kill('SIGTERM');
      await new Promise((resolve) => relay.child.once('exit', resolve));
    }
  });

  it('loses nothing when SIGTERM arrives in the middle of a burst', async () => {
    // Users that exist in Keycloak; their events arrive in one burst.
    const ids = await mapWithConcurrency(
      Array.from({ length: BURST }, (_, i) => i),
      8,
      async (i) => (await realm.admin.users.create({ username: `burst-${i}`, enabled: true })).id,
    );
    const burstUsers = async () =>
      (await control.state()).users.filter((u) => u.userName.startsWith('burst-'));

    const first = startRelay();
    await eventually(async () => {
      expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200);
    });
    // A slow target keeps the burst in flight long enough for the SIGTERM to land inside it.
    await control.injectFaults({ latencyMs: 100, count: 2 * BURST, method: 'POST' });
    for (const id of ids) publishCreate(id);
    await eventually(
      async () => {
        expect((await burstUsers()).length).toBeGreaterThan(10);
      },
      30_000,
      20,
    );
    first.child.kill('SIGTERM');
    const exitCode = await new Promise<number | null>((resolve) =>
      first.child.once('exit', resolve),
    );
    expect(exitCode).toBe(0);
    expect(first.output()).toContain('relay stopped');
    const doneBeforeStop = (await burstUsers()).length;
    expect(doneBeforeStop).toBeLessThan(BURST);

    // The rest waited in the durable queue; a new relay finishes the burst.
    await control.clearFaults();
    const second = startRelay();
    try {
      await eventually(async () => {
        expect((await burstUsers()).length).toBe(BURST);
      }, 60_000);
      await eventually(async () => {
        const q = await channel.checkQueue(queue);
        expect(q.messageCount).toBe(0);
      });
      const dead = await channel.checkQueue(`${queue}.dead-letter`);
      expect(dead.messageCount).toBe(0);
      // No duplicates: one SCIM user per Keycloak user.
      const names = (await burstUsers()).map((u) => u.userName);
      expect(new Set(names).size).toBe(BURST);
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((resolve) => second.child.once('exit', resolve));
    }
  });
});
