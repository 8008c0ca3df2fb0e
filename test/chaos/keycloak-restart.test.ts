import { inject, it } from 'vitest';
import { rendezvous, once } from './support/rendezvous.js';
import { runScenario } from './support/scenario.js';
import { StackControl } from './support/stack-control.js';

const facts = inject('chaosStack');
const stack = new StackControl(facts.controlUrl);

// Both modes run side by side through one restart of the shared Keycloak.
const bothStreaming = rendezvous(2);
const restartKeycloak = once(async () => {
  // Stopped (its data stays in PostgreSQL), left down a moment, started again.
  const stopMs = await stack.do('keycloak/stop');
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const startMs = await stack.do('keycloak/start');
  return { stopMs, startMs, backAt: Date.now() };
});

it.concurrent.each(['amqp', 'poll'] as const)(
  'a Keycloak restart during changes (%s)',
  async (mode) => {
    await runScenario(facts, { name: 'keycloak-restart', mode }, async (scenario) => {
      const { relay, changes } = scenario;
      await changes.populate({ users: 30, groups: 6, memberships: 30 });
      await relay.start();
      await relay.waitReady();

      // Changes right up to the stop: some of them still in the relay's hands when it comes.
      await changes.run(Number.POSITIVE_INFINITY, {
        pauseMs: 50,
        signal: AbortSignal.timeout(8_000),
      });
      await bothStreaming();
      const restart = await restartKeycloak();
      scenario.renewAdmin();
      const after = await changes.run(Number.POSITIVE_INFINITY, {
        pauseMs: 50,
        signal: AbortSignal.timeout(8_000),
      });
      scenario.notes.push(
        `${changes.total} changes (${after} after the restart); Keycloak stopped in ${(restart.stopMs / 1000).toFixed(0)} s, started in ${(restart.startMs / 1000).toFixed(0)} s`,
      );
      await scenario.finish(restart.backAt, 90_000);
    });
  },
);
