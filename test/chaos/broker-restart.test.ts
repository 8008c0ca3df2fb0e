import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, it } from 'vitest';
import { eventually } from '../support/relay-harness.js';
import { runScenario } from './support/scenario.js';
import { StackControl } from './support/stack-control.js';

const facts = inject('chaosStack');
/** The relay's default backstop interval: what this scenario proves. */
const BACKSTOP_MS = 30_000;
const OUTAGE_MS = 30_000;

it('a broker restart with the real listener (amqp): the backstop brings what the listener dropped', async () => {
  const stack = new StackControl(facts.controlUrl);
  await runScenario(
    facts,
    { name: 'broker-restart', mode: 'amqp', backstopIntervalMs: BACKSTOP_MS },
    async (scenario) => {
      const { relay, changes } = scenario;
      await changes.populate({ users: 20, groups: 5, memberships: 20 });
      await relay.start();
      await relay.waitReady();
      // The real listener delivers through the broker: changes arrive as messages.
      const received = 'scim_relay_events_received_total{kind="admin"}';
      const before = await relay.metric(received);
      await changes.run(10);
      await eventually(async () => {
        expect(await relay.metric(received)).toBeGreaterThan(before);
      }, 20_000);
      await scenario.waitForConvergence(Date.now(), 30_000);
      const lost = 'scim_relay_listener_lost_events_total{kind="admin"}';
      const lostBefore = await relay.metric(lost);

      await stack.do('broker/stop');
      const downAt = Date.now();
      const notReadyMs = await relay.waitReady(503, 10_000);
      // The listener drops every event it cannot publish: these reach the relay only through
      // the backstop's read of the realm's stored events.
      const outage = AbortSignal.timeout(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
      const made = await changes.run(Number.POSITIVE_INFINITY, { pauseMs: 100, signal: outage });
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
      expect(await relay.readyStatus(), '/readyz while the broker is down').toBe(503);
      await stack.do('broker/start');
      const backAt = Date.now();
      const readyAgainMs = await relay.waitReady(200, 15_000);

      // Within the backstop interval plus a few seconds of the broker's return: a change made
      // just before the return waits for the backstop's next read (its events are read once
      // 5 s old), then for its reconcile on a loaded two-core machine.
      await scenario.finish(backAt, BACKSTOP_MS + 15_000);
      const lostAfter = await relay.metric(lost);
      expect(lostAfter, 'scim_relay_listener_lost_events_total rose').toBeGreaterThan(lostBefore);
      expect(readyAgainMs, '/readyz 200 within a few seconds of the return').toBeLessThan(10_000);
      scenario.notes.push(
        `${made} changes in a ${OUTAGE_MS / 1000} s outage; /readyz 503 after ${(notReadyMs / 1000).toFixed(1)} s, ` +
          `200 ${(readyAgainMs / 1000).toFixed(1)} s after the return; ${lostAfter - lostBefore} admin events recovered by the backstop`,
      );
    },
  );
});
