import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, it } from 'vitest';
import { runScenario } from './support/scenario.js';

const facts = inject('chaosStack');
/** The relay's stop bound (README, "Upgrading": it exits within 30 s of SIGTERM). */
const STOP_BOUND_MS = 30_000;
const MARGIN_MS = 3_000;

it.concurrent.each(['amqp', 'poll'] as const)(
  'SIGTERM with a slow SCIM (3 s a request) (%s): the relay stops on time and loses nothing',
  async (mode) => {
    await runScenario(facts, { name: 'sigterm-slow-scim', mode }, async (scenario) => {
      const { relay, changes, scim } = scenario;
      await changes.populate({ users: 20, groups: 5, memberships: 20 });
      await relay.start();
      await relay.waitReady();

      await scim.control.injectFaults({ latencyMs: 3_000, count: 1_000_000 });
      // A burst of work, so that many slow requests are in flight when the signal comes.
      await changes.createUsers(20);
      await changes.run(20, { pauseMs: 20 });
      await sleep(4_000);
      const offset = await relay.logOffset();
      const stop = await relay.terminate(STOP_BOUND_MS + 30_000);
      const stopLog = await relay.logLines(offset);
      expect(stop.killed, 'the relay had to be killed').toBe(false);
      expect(stop.ms, 'SIGTERM to exit').toBeLessThan(STOP_BOUND_MS + MARGIN_MS);
      expect(stop.code).toBe(0);
      expect(stopLog.some((line) => line.msg === 'relay stopped')).toBe(true);
      const errors = stopLog.filter((line) => line.level === 'error' || line.level === 'fatal');
      expect(
        errors.map((line) => line.raw),
        'errors logged for an orderly stop',
      ).toEqual([]);

      await scim.control.clearFaults();
      await relay.start();
      const faultEndedAt = Date.now();
      scenario.notes.push(`exited ${(stop.ms / 1000).toFixed(1)} s after SIGTERM`);
      await scenario.finish(faultEndedAt, 60_000);
    });
  },
);
