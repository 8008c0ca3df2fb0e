import { expect, inject, it } from 'vitest';
import { runScenario } from './support/scenario.js';

const facts = inject('chaosStack');

it.concurrent.each(['amqp', 'poll'] as const)(
  'SCIM restarted empty (%s): the relay notices and provisions everything again',
  async (mode) => {
    await runScenario(facts, { name: 'scim-restarted-empty', mode }, async (scenario) => {
      const { relay, changes, scim } = scenario;
      await changes.populate({ users: 40, groups: 8, memberships: 40 });
      await relay.start();
      await relay.waitReady();
      await scenario.waitForConvergence(Date.now(), 60_000);
      const lost = 'scim_relay_scim_lost_total';
      const lostBefore = await relay.metric(lost);

      // Kestra restored from a backup, or its integration re-created: an empty target where
      // the relay's id map still names every resource it wrote.
      const wrote = new Set((await scim.control.state()).users.map((u) => u.id));
      await scim.restartEmpty();
      const faultEndedAt = Date.now();
      // Everything the relay wrote is gone; it may already be putting some of it back (its
      // first poll can still be re-reading the events of the population), under new ids.
      expect((await scim.control.state()).users.filter((u) => wrote.has(u.id))).toEqual([]);
      // Changes go on, some of them to users and groups SCIM no longer has.
      const made = await changes.run(20, { pauseMs: 100 });

      // The relay compares SCIM's counts with its own every minute, and sooner reacts to
      // known ids answering 404: a minute and a half covers both and a full reconcile.
      await scenario.finish(faultEndedAt, 90_000);
      const lostAfter = await relay.metric(lost);
      expect(lostAfter, 'scim_relay_scim_lost_total rose').toBeGreaterThan(lostBefore);
      scenario.notes.push(
        `${made} changes after the restart; scim_lost ${lostBefore} -> ${lostAfter}`,
      );
    });
  },
);
