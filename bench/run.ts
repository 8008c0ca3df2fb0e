/**
 * `npm run bench`: how fast a Keycloak change reaches the SCIM server, in poll and AMQP mode,
 * and how many events per second the relay sustains for user creates, user updates and
 * membership changes, with what each event costs in Keycloak reads, SCIM reads and SCIM writes.
 * Runs a real Keycloak (the e2e stack), a real RabbitMQ, the relay in this process and the
 * project's SCIM server in a process of its own; prints a JSON report.
 *
 * BENCH_SAMPLES (60) latency samples per mode, BENCH_BURST (500) events per kind,
 * BENCH_GROUPS (10) groups the members join, BENCH_CONCURRENCY and BENCH_PREFETCH the relay's
 * CONCURRENCY and AMQP_PREFETCH (its defaults when unset), BENCH_POLL_INTERVAL_MS (1000).
 */
import { connect } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import type { ScimServerControl } from '../packages/scim-server/src/control-client.js';
import { listenerUserEvent } from '../test/support/amqp-fixtures.js';
import type { TestRealm } from '../test/support/test-realm.js';
import { startTestStack } from '../test/support/test-stack.js';
import { startBenchRelay } from './bench-relay.js';
import { KeycloakRequestCounter } from './request-counts.js';
import { startScimServerProcess } from './scim-server-process.js';
import { createsBurst, membershipsBurst, updatesBurst, type BurstContext } from './throughput.js';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 60);
const BURST = Number(process.env.BENCH_BURST ?? 500);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 10);
const POLL_INTERVAL_MS = process.env.BENCH_POLL_INTERVAL_MS ?? '1000';
const CONCURRENCY = process.env.BENCH_CONCURRENCY;
const PREFETCH = process.env.BENCH_PREFETCH;

const say = (line: string): void => {
  console.error(`[bench] ${line}`);
};

function percentile(sorted: readonly number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

function summary(latencies: number[]) {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1),
  };
}

/** Waits until the SCIM log holds a POST /Users for `userName`; returns its time (epoch ms). */
async function scimWriteTime(control: ScimServerControl, userName: string, since: number) {
  for (;;) {
    const hit = (await control.requests({ since })).find(
      (r) =>
        r.method === 'POST' &&
        r.scimPath === '/Users' &&
        (r.body as { userName?: string } | null)?.userName === userName,
    );
    if (hit !== undefined) return Date.parse(hit.time);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Change-to-write latency: create a user in Keycloak, time until the SCIM POST arrives. */
async function latencies(
  realm: TestRealm,
  control: ScimServerControl,
  mode: string,
  publish?: (userId: string) => void,
): Promise<number[]> {
  const result: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const userName = `${mode}-lat-${i}`;
    const since = (await control.requests()).at(-1)?.seq ?? 0;
    const before = Date.now();
    const { id } = await realm.admin.users.create({ username: userName, enabled: true });
    publish?.(id);
    const at = await scimWriteTime(control, userName, since);
    result.push(at - before);
    // Spread samples across the poll interval, so poll-mode figures are not phase-locked.
    await new Promise((resolve) => setTimeout(resolve, 37 + (i % 7) * 53));
  }
  return result;
}

async function main(): Promise<void> {
  const stack = await startTestStack(process.env, say);
  const scim = await startScimServerProcess(`bench-${randomUUID()}`);
  const keycloak = new KeycloakRequestCounter(new URL(stack.facts.keycloakUrl).origin);
  const report: Record<string, unknown> = {
    keycloak: stack.facts.keycloakVersion,
    scimServer: 'separate process',
    samples: SAMPLES,
    burst: BURST,
  };
  const concurrencyEnv: Record<string, string> = {
    ...(CONCURRENCY === undefined ? {} : { CONCURRENCY }),
    ...(PREFETCH === undefined ? {} : { AMQP_PREFETCH: PREFETCH }),
  };
  try {
    // Poll mode.
    say(`poll mode: ${SAMPLES} changes, POLL_INTERVAL_MS=${POLL_INTERVAL_MS}`);
    const poll = await startBenchRelay(stack.facts, scim, {
      prefix: 'bench-poll',
      env: { SOURCE: 'poll', POLL_INTERVAL_MS, ...concurrencyEnv },
    });
    report.pollLatencyMs = summary(await latencies(poll.realm, scim.control, 'poll'));
    await poll.close();
    await scim.control.reset();

    // AMQP mode: the message is published the moment the admin call returns, as the listener
    // (which publishes synchronously inside Keycloak's event pipeline) would.
    say(`AMQP mode: ${SAMPLES} changes`);
    const suffix = randomUUID().slice(0, 8);
    const exchange = `bench-kk-${suffix}`;
    const queue = `bench-relay-${suffix}`;
    const connection = await connect(stack.facts.amqpUrl);
    const channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: false });
    const amqp = await startBenchRelay(stack.facts, scim, {
      prefix: 'bench-amqp',
      env: {
        SOURCE: 'amqp',
        AMQP_URL: stack.facts.amqpUrl,
        AMQP_EXCHANGE: exchange,
        AMQP_QUEUE: queue,
        // The bench makes its changes in Keycloak and publishes their events itself, later: the
        // backstop would find them in the realm's stored events first and apply them early.
        BACKSTOP_INTERVAL_MS: '0',
        ...concurrencyEnv,
      },
    });
    const publish = (userId: string): void => {
      const { routingKey, body } = listenerUserEvent(amqp.realm.name, userId, 'CREATE');
      channel.publish(exchange, routingKey, body);
    };
    report.amqpLatencyMs = summary(await latencies(amqp.realm, scim.control, 'amqp', publish));

    // Sustained rate, per kind: a burst of events for changes already made in Keycloak.
    const context: BurstContext = {
      realm: amqp.realm,
      channel,
      exchange,
      keycloak,
      control: scim.control,
      say,
    };
    const creates = await createsBurst(context, BURST);
    const updates = await updatesBurst(context, creates.ids);
    const memberships = await membershipsBurst(context, creates.ids, GROUPS);
    report.sustained = {
      concurrency: amqp.relay.config.sync.concurrency,
      prefetch: amqp.relay.config.amqp.prefetch,
      loadAverage: loadavg().map((n) => Number(n.toFixed(2))),
      creates: creates.result,
      updates,
      memberships,
      relayRssMb: Math.round(process.memoryUsage().rss / 1024 / 1024),
    };
    await amqp.close();
    await channel.deleteQueue(queue);
    await channel.deleteQueue(`${queue}.dead-letter`);
    await channel.deleteExchange(exchange);
    await connection.close();
  } finally {
    keycloak.close();
    await scim.stop();
    await stack.stop();
  }
  console.log(JSON.stringify(report, null, 2));
}

await main();
