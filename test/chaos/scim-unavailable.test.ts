import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, it } from 'vitest';
import { runScenario } from './support/scenario.js';

const facts = inject('chaosStack');
const OUTAGE_MS = 60_000;

it.concurrent.each(['amqp', 'poll'] as const)(
  'SCIM answering 503 for 60 s during changes (%s)',
  async (mode) => {
    await runScenario(facts, { name: 'scim-503', mode }, async (scenario) => {
      const { relay, changes, scim } = scenario;
      await changes.populate({ users: 20, groups: 5, memberships: 20 });
      await relay.start();
      await relay.waitReady();

      // Every request for the next minute answers 503, readiness probes included.
      await scim.control.injectFaults({ status: 503, count: 1_000_000 });
      const began = Date.now();
      const made = await changes.run(Number.POSITIVE_INFINITY, {
        pauseMs: 300,
        signal: AbortSignal.timeout(OUTAGE_MS - 5_000),
      });
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - began)));
      const refused = (await scim.control.requests()).filter((r) => r.status === 503).length;
      await scim.control.clearFaults();
      const faultEndedAt = Date.now();
      expect(refused, 'the relay kept trying during the outage').toBeGreaterThan(0);
      scenario.notes.push(`${made} changes during the outage, ${refused} requests answered 503`);
      await scenario.finish(faultEndedAt, 60_000);
      expect(relay.starts, 'the relay never died').toBe(1);
    });
  },
);
