import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, it } from 'vitest';
import { createTestDatabase } from '../support/postgres-database.js';
import { ReplicaPair } from './support/replica-pair.js';
import type { RelayProcess } from './support/relay-process.js';
import { runScenario, type Mode } from './support/scenario.js';

const facts = inject('chaosStack');
const CHANGES = 1_000;
/** What the issue allows a standby for taking over from a killed leader. */
const TAKEOVER_BOUND_MS = 15_000;

type Fault = 'sigkill-leader' | 'terminate-leader-backend' | 'rolling-restart';

// Two replicas on one PostgreSQL state under a stream of 1,000 changes; each fault strikes
// mid-stream. In AMQP mode behind the real listener, every fault; in poll mode, where the
// checkpoint in the shared state is what the next leader reads on from, the SIGKILL. They all
// run side by side.
it.concurrent.each<[Fault, Mode]>([
  ['sigkill-leader', 'amqp'],
  ['terminate-leader-backend', 'amqp'],
  ['rolling-restart', 'amqp'],
  ['sigkill-leader', 'poll'],
])(
  'two replicas on PostgreSQL, %s (%s): the standby takes over and no change is lost',
  async (fault, mode) => {
    const database = await createTestDatabase(`chaos_${fault}_${mode}`);
    try {
      await runScenario(
        facts,
        { name: `failover-${fault}`, mode, env: { STATE_URL: database.url } },
        async (scenario) => {
          const pair = await ReplicaPair.create(scenario, database.url);
          const [first, second] = pair.replicas;
          try {
            await scenario.changes.populate({ users: 30, groups: 6, memberships: 40 });
            await first.start();
            // Ready comes first (a replica in its grace period is ready to lead), then the lead.
            await pair.waitLeader(first, 120_000);
            await second.start();
            // A standby is ready (it could take over), but it does not lead.
            await second.waitReady();
            expect(await pair.leader()).toBe(first);
            expect(await second.metric('scim_relay_is_leader')).toBe(0);

            const stream = scenario.changes.run(CHANGES, { pauseMs: 10 });
            await sleep(4_000 + Math.random() * 4_000);
            const takeoverMs = await strike(fault, pair, first);
            scenario.notes.push(`takeover ${(takeoverMs / 1000).toFixed(1)} s`);
            await stream;
            const streamEndedAt = Date.now();
            scenario.notes.push(`${scenario.changes.total} changes`);
            // Both replicas run again; one leads, the other stands by.
            expect(first.running && second.running).toBe(true);
            await scenario.finish(streamEndedAt, 60_000);
          } finally {
            await pair.dispose();
          }
        },
      );
    } finally {
      await database.drop();
    }
  },
  // 1,000 changes through a shared Keycloak, three streams at once.
  600_000,
);

/** Strikes the leader (`leader`) with `fault`; returns how long the standby took to lead. */
async function strike(fault: Fault, pair: ReplicaPair, leader: RelayProcess): Promise<number> {
  const standby = pair.other(leader);
  switch (fault) {
    case 'sigkill-leader': {
      const killedAt = Date.now();
      await leader.kill();
      const takeover = (await pair.waitLeader(standby)) - killedAt;
      expect(takeover).toBeLessThan(TAKEOVER_BOUND_MS);
      // Its supervisor restarts it; it stands by.
      await leader.start();
      await leader.waitReady();
      return takeover;
    }
    case 'terminate-leader-backend': {
      const offset = await leader.logOffset();
      const standbyOffset = await standby.logOffset();
      const cutAt = Date.now();
      await pair.terminateBackend(await pair.lockHolderBackend());
      const takeover = (await pair.waitLeader(standby)) - cutAt;
      expect(takeover).toBeLessThan(TAKEOVER_BOUND_MS);
      // Fenced: it stopped writing and exited, so that a restart stands by.
      const exit = await leader.child?.exit;
      expect(exit?.code).toBe(1);
      const fencedAt = (await pair.timedLines(leader, offset)).find((line) =>
        line.msg.startsWith('lost the leader lock'),
      )?.time;
      const ledAt = (await pair.timedLines(standby, standbyOffset)).find(
        (line) => line.msg === 'this replica is the leader',
      )?.time;
      expect(fencedAt).toBeDefined();
      expect(ledAt).toBeDefined();
      // The old leader was fenced before the new one began.
      expect(fencedAt ?? Infinity).toBeLessThan(ledAt ?? -Infinity);
      await leader.start();
      await leader.waitReady();
      return takeover;
    }
    case 'rolling-restart': {
      // The standby first, then the leader, as a Deployment's rolling update does.
      expect((await standby.terminate(35_000)).code).toBe(0);
      await standby.start();
      await standby.waitReady();
      const stoppedAt = Date.now();
      const stopped = leader.terminate(35_000);
      const takeover = (await pair.waitLeader(standby)) - stoppedAt;
      expect((await stopped).code).toBe(0);
      expect(takeover).toBeLessThan(TAKEOVER_BOUND_MS);
      await leader.start();
      await leader.waitReady();
      return takeover;
    }
  }
}
