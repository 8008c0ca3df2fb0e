import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { createRelay } from '../../src/app/relay.js';
import { createLogger, memoryDestination } from '../../src/logger.js';
import { deleteRelayQueues } from '../support/amqp-fixtures.js';
import { ListenerSimulator } from '../support/listener-simulator.js';
import { eventually, startRelayHarness } from '../support/relay-harness.js';
import { createTestRealm } from '../support/test-realm.js';

/** The stop bound given to the relay here, and what the test allows beyond it. */
const STOP_BOUND_MS = 6_000;
const STOP_SLACK_MS = 750;
/** Each SCIM request waits this long: the work in flight cannot finish within the bound. */
const SCIM_LATENCY_MS = 3_000;
const USERS = ['slow-1', 'slow-2', 'slow-3', 'slow-4', 'slow-5', 'slow-6'];

/**
 * A stop with a slow SCIM server: the relay exits within its bound, aborting the reconciles and
 * SCIM requests in flight, logs no error for the orderly stop, and loses nothing: the work cut
 * short is delivered again (AMQP) or read again (poll) by the next start.
 */
describe.each(['poll', 'amqp'] as const)('stopping with a slow SCIM server (%s)', (mode) => {
  const facts = inject('testStack');

  it('exits within its bound, logs no error, and the next start finishes the work', async () => {
    const suffix = randomUUID().slice(0, 8);
    const exchange = `test-stop-${suffix}`;
    const queue = `test-stop-relay-${suffix}`;
    const realm = await createTestRealm(facts, { prefix: `stop-${mode}` });
    const listener =
      mode === 'amqp'
        ? await ListenerSimulator.start({
            amqpUrl: facts.amqpUrl,
            admin: realm.admin,
            realm: realm.name,
            exchange,
          })
        : undefined;
    const harness = await startRelayHarness(facts, {
      prefix: `stop-${mode}`,
      realm,
      env: {
        SOURCE: mode,
        RESYNC_INTERVAL_MS: String(24 * 3_600_000),
        ...(mode === 'amqp'
          ? {
              AMQP_URL: facts.amqpUrl,
              AMQP_EXCHANGE: exchange,
              AMQP_QUEUE: queue,
              BACKSTOP_INTERVAL_MS: '0',
            }
          : {}),
      },
    });
    try {
      await harness.control.injectFaults({ latencyMs: SCIM_LATENCY_MS, count: 10_000 });
      await harness.control.clearRequests();
      for (const username of USERS) await realm.admin.users.create({ username, enabled: true });
      // Wait until the relay is writing: its requests are held by the latency.
      await eventually(async () => {
        const requests = await harness.control.requests();
        expect(
          requests.filter((r) => r.scimPath?.startsWith('/Users') === true).length,
        ).toBeGreaterThan(0);
      });

      const linesBefore = harness.log.lines.length;
      const began = Date.now();
      await harness.relay.stop(STOP_BOUND_MS);
      const tookMs = Date.now() - began;
      console.error(`[stop] ${mode}: stopped in ${tookMs} ms against a ${STOP_BOUND_MS} ms bound`);
      expect(tookMs).toBeLessThanOrEqual(STOP_BOUND_MS + STOP_SLACK_MS);
      const stopLog = harness.log.records().slice(linesBefore);
      expect(
        stopLog.filter((record) => record.level === 'error' || record.level === 'fatal'),
      ).toEqual([]);
      expect(stopLog.some((record) => record.msg === 'relay stopped')).toBe(true);

      // The next start, on the same state, with SCIM answering at its normal pace.
      await harness.control.clearFaults();
      const log = memoryDestination();
      const again = await createRelay(
        harness.relay.config,
        createLogger({ level: 'debug', destination: log, secrets: [harness.scimToken] }),
      );
      await again.start();
      try {
        await eventually(async () => {
          const state = await harness.control.state();
          const names = state.users.map((u) => u.userName).sort();
          expect(names).toEqual(USERS);
        });
        const state = await harness.control.state();
        const byId = await Promise.all(
          state.users.map(
            async (user) =>
              (await realm.admin.users.findOne({ id: user.externalId ?? '' }))?.username,
          ),
        );
        expect(byId.sort()).toEqual(USERS);
      } finally {
        await again.stop(10_000);
      }
    } finally {
      await harness.close();
      await listener?.stop();
      if (mode === 'amqp') await deleteRelayQueues(facts.amqpUrl, queue, exchange);
    }
  });
});
