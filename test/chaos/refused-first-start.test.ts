import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, it } from 'vitest';
import { runScenario } from './support/scenario.js';

const facts = inject('chaosStack');

it.concurrent.each(['amqp', 'poll'] as const)(
  'a first start refused by SCIM (401), then restarted with the right token (%s)',
  async (mode) => {
    await runScenario(facts, { name: 'refused-first-start', mode }, async (scenario) => {
      const { relay, changes, scim } = scenario;
      await changes.populate({ users: 60, groups: 8, memberships: 60 });

      await relay.start({ SCIM_TOKEN: 'a-token-kestra-does-not-know' });
      // The relay may give up at once (exit 1) or hold its work and retry; either way it must
      // never be ready, and SCIM must have refused it.
      const deadline = Date.now() + 30_000;
      while (relay.running && Date.now() < deadline) {
        expect(await relay.readyStatus()).not.toBe(200);
        await sleep(250);
      }
      const refusedRun = relay.running
        ? `held its work (stopped after 30 s, ${JSON.stringify(await relay.terminate())})`
        : `exited with ${JSON.stringify(relay.child?.exited)}`;
      const refusals = (await scim.control.requests()).filter((r) => r.status === 401).length;
      expect(refusals, 'SCIM refused the wrong token').toBeGreaterThan(0);
      expect((await scim.control.state()).users).toHaveLength(0);

      // Changes while it is down, then the start with the right token.
      await changes.run(15);
      await relay.start();
      const faultEndedAt = Date.now();
      scenario.notes.push(`refused run ${refusedRun}, ${refusals} 401s`);
      await scenario.finish(faultEndedAt, 90_000);
    });
  },
);
