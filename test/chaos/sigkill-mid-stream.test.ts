import { setTimeout as sleep } from 'node:timers/promises';
import { inject, it } from 'vitest';
import { runScenario } from './support/scenario.js';

const facts = inject('chaosStack');
const KILLS = 10;

// Both modes side by side, each with its own realm, SCIM server and relay.
it.concurrent.each(['amqp', 'poll'] as const)(
  'SIGKILL ten times mid-stream (%s): no change of the stream is lost',
  async (mode) => {
    await runScenario(facts, { name: 'sigkill-mid-stream', mode }, async (scenario) => {
      const { relay, changes } = scenario;
      await changes.populate({ users: 30, groups: 6, memberships: 40 });
      await relay.start();
      await relay.waitReady();

      // The stream goes on through every kill and restart.
      const streaming = new AbortController();
      const stream = changes.run(Number.POSITIVE_INFINITY, {
        pauseMs: 40,
        signal: streaming.signal,
      });
      try {
        for (let kill = 0; kill < KILLS; kill++) {
          // Killed at a random moment once it works: mid-reconcile, mid-ack, mid-checkpoint.
          await relay.waitReady(200, 60_000);
          await sleep(300 + Math.random() * 1_700);
          await relay.kill();
          await relay.start();
        }
      } finally {
        streaming.abort();
        await stream;
      }
      const faultEndedAt = Date.now();
      scenario.notes.push(`${changes.total} changes, ${KILLS} SIGKILLs`);
      await scenario.finish(faultEndedAt, 60_000);
    });
  },
);
