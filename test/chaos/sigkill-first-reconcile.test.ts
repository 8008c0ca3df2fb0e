import { expect, inject, it } from 'vitest';
import { runScenario } from './support/scenario.js';

const facts = inject('chaosStack');
const USERS = 160;

it.concurrent.each(['amqp', 'poll'] as const)(
  'SIGKILL during the first full reconcile (%s): the next start reconciles everything again',
  async (mode) => {
    await runScenario(facts, { name: 'sigkill-first-reconcile', mode }, async (scenario) => {
      const { relay, changes, scim } = scenario;
      // A realm that exists before the relay's first start: no event will ever announce it.
      await changes.populate({ users: USERS, groups: 12, memberships: 200 });
      // A slightly slow target stretches the first reconcile, so that the kill lands inside it.
      await scim.control.injectFaults({ latencyMs: 40, count: 1_000_000 });
      await relay.start();
      await scenario.waitForScimUsers(20);
      await relay.kill();
      const provisioned = (await scim.control.state()).users.filter((u) => u.tenantAccess).length;
      expect(provisioned, 'the kill landed inside the first reconcile').toBeLessThan(USERS);
      await scim.control.clearFaults();

      // Changes while the relay is down, then the restart.
      await changes.run(20);
      await relay.start();
      const faultEndedAt = Date.now();
      scenario.notes.push(`killed with ${provisioned} of ${USERS} users provisioned`);
      await scenario.finish(faultEndedAt, 90_000);
    });
  },
);
