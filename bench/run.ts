/**
 * `npm run bench`: how fast a Keycloak change reaches the SCIM server, in poll and AMQP mode,
 * and how many events per second the relay sustains. Runs a real Keycloak (the e2e stack), a
 * real RabbitMQ and the project's SCIM server on this machine; prints a JSON report.
 */
import { connect } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { ScimServerControl } from '../src/scim-server/control-client.js';
import { listenerUserEvent } from '../test/support/amqp-fixtures.js';
import { mapWithConcurrency } from '../test/support/concurrency.js';
import { startRelayHarness, type RelayHarness } from '../test/support/relay-harness.js';
import { startTestStack } from '../test/support/test-stack.js';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 60);
const BURST = Number(process.env.BENCH_BURST ?? 500);
const POLL_INTERVAL_MS = process.env.BENCH_POLL_INTERVAL_MS ?? '1000';

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
  harness: RelayHarness,
  mode: string,
  publish?: (userId: string) => void,
): Promise<number[]> {
  const result: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const userName = `${mode}-lat-${i}`;
    const since = (await harness.control.requests()).at(-1)?.seq ?? 0;
    const before = Date.now();
    const { id } = await harness.realm.admin.users.create({ username: userName, enabled: true });
    publish?.(id);
    const at = await scimWriteTime(harness.control, userName, since);
    result.push(at - before);
    // Spread samples across the poll interval, so poll-mode figures are not phase-locked.
    await new Promise((resolve) => setTimeout(resolve, 37 + (i % 7) * 53));
  }
  return result;
}

async function main(): Promise<void> {
  const stack = await startTestStack(process.env, say);
  const report: Record<string, unknown> = {
    keycloak: stack.facts.keycloakVersion,
    samples: SAMPLES,
    burst: BURST,
  };
  try {
    // Poll mode.
    say(`poll mode: ${SAMPLES} changes, POLL_INTERVAL_MS=${POLL_INTERVAL_MS}`);
    const poll = await startRelayHarness(stack.facts, {
      prefix: 'bench-poll',
      env: { SOURCE: 'poll', POLL_INTERVAL_MS, LOG_LEVEL: 'warn' },
    });
    report.pollLatencyMs = summary(await latencies(poll, 'poll'));
    await poll.close();

    // AMQP mode: the message is published the moment the admin call returns, as the listener
    // (which publishes synchronously inside Keycloak's event pipeline) would.
    say(`AMQP mode: ${SAMPLES} changes`);
    const suffix = randomUUID().slice(0, 8);
    const exchange = `bench-kk-${suffix}`;
    const queue = `bench-relay-${suffix}`;
    const connection = await connect(stack.facts.amqpUrl);
    const channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: false });
    const amqp = await startRelayHarness(stack.facts, {
      prefix: 'bench-amqp',
      env: {
        SOURCE: 'amqp',
        AMQP_URL: stack.facts.amqpUrl,
        AMQP_EXCHANGE: exchange,
        AMQP_QUEUE: queue,
        LOG_LEVEL: 'warn',
        CONCURRENCY: '8',
      },
    });
    const publish = (userId: string): void => {
      const { routingKey, body } = listenerUserEvent(amqp.realm.name, userId, 'CREATE');
      channel.publish(exchange, routingKey, body);
    };
    report.amqpLatencyMs = summary(await latencies(amqp, 'amqp', publish));

    // Sustained rate: a burst of events for users that exist in Keycloak but not yet in SCIM.
    say(`sustained: ${BURST} events in one burst`);
    const ids = await mapWithConcurrency(
      Array.from({ length: BURST }, (_, i) => i),
      8,
      async (i) =>
        (await amqp.realm.admin.users.create({ username: `burst-${i}`, enabled: true })).id,
    );
    // Those creates published nothing; start the clock with the burst itself.
    const before = (await amqp.control.state()).users.length;
    const started = performance.now();
    for (const id of ids) publish(id);
    for (;;) {
      const now = (await amqp.control.state()).users.length;
      if (now - before >= BURST) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    report.sustained = {
      events: BURST,
      seconds: Number(seconds.toFixed(2)),
      eventsPerSecond: Math.round(BURST / seconds),
      concurrency: 8,
      rssMb: Math.round(process.memoryUsage().rss / 1024 / 1024),
    };
    await amqp.close();
    await amqp.realm.delete().catch(() => undefined);
    await channel.deleteQueue(queue);
    await channel.deleteQueue(`${queue}.dead-letter`);
    await channel.deleteExchange(exchange);
    await connection.close();
  } finally {
    await stack.stop();
  }
  console.log(JSON.stringify(report, null, 2));
}

await main();
