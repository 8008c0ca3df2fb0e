import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, it } from 'vitest';
import { eventually } from '../support/relay-harness.js';
import { queueDepth } from './support/broker-client.js';
import { runScenario } from './support/scenario.js';

const facts = inject('chaosStack');
const QUEUED = 120;
const KILLS = 7;

it('a crash loop with a full prefetch window (amqp): no valid message is lost or dead-lettered', async () => {
  await runScenario(facts, { name: 'crash-loop-prefetch', mode: 'amqp' }, async (scenario) => {
    const { relay, changes, scim, queue } = scenario;
    // A first run declares the queue and records its baseline, then stops cleanly.
    await relay.start();
    await relay.waitReady();
    expect((await relay.terminate()).code).toBe(0);

    // Many valid USER.CREATE messages, published by the real listener, wait in the queue.
    await changes.createUsers(QUEUED);
    await eventually(async () => {
      expect(await queueDepth(facts.amqpUrl, queue)).toBeGreaterThanOrEqual(QUEUED);
    }, 30_000);

    // A slow target keeps the prefetch window's messages in flight when the kill comes. The
    // first kill finds a whole window (AMQP_PREFETCH, 16) in flight; after a death the relay
    // takes one message at a time (its crash guard), so each later kill finds one in flight,
    // and a different one each time, since every run is killed only once it wrote a user.
    await scim.control.injectFaults({
      latencyMs: 400,
      count: 1_000_000,
      method: 'POST',
      pathPrefix: '/Users',
    });
    for (let kill = 0; kill < KILLS; kill++) {
      const since = (await scim.control.requests()).at(-1)?.seq ?? 0;
      await relay.start();
      // Killed once this run has written a user: it got messages, and more are in flight.
      await eventually(
        async () => {
          const created = (await scim.control.requests({ since })).filter(
            (r) => r.method === 'POST' && r.scimPath === '/Users',
          );
          expect(created.length).toBeGreaterThan(0);
        },
        60_000,
        20,
      );
      await sleep(Math.random() * 300);
      await relay.kill();
    }
    const provisioned = (await scim.control.state()).users.filter((u) => u.tenantAccess).length;
    expect(provisioned, 'the loop ended with messages left').toBeLessThan(QUEUED);
    await scim.control.clearFaults();

    await relay.start();
    const faultEndedAt = Date.now();
    scenario.notes.push(
      `${QUEUED} USER.CREATE queued, ${KILLS} SIGKILLs, ${provisioned} provisioned during the loop`,
    );
    await scenario.finish(faultEndedAt, 60_000);
    await eventually(async () => {
      expect(await queueDepth(facts.amqpUrl, queue)).toBe(0);
    }, 30_000);
    expect(await queueDepth(facts.amqpUrl, `${queue}.dead-letter`), 'dead-lettered').toBe(0);
  });
});
