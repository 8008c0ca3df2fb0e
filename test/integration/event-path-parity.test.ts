import { setImmediate as nextTurn } from 'node:timers/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hint } from '../../src/domain/hint.js';
import { createLogger, memoryDestination } from '../../src/logger.js';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';
import { FakeRealm, seededRandom, sequentialIds } from '../support/fake-keycloak.js';
import {
  OperationRunner,
  formatRun,
  keycloakOperations,
  type Step,
} from '../support/keycloak-operations.js';
import {
  dryRun,
  keptNameHolders,
  hintsOf,
  parityEngine,
  plannedWrites,
  scimDifferences,
  unexpectedProblems,
  type ParityConfig,
} from '../support/parity.js';

/**
 * The event path and the full reconcile decide alike: random sequences of Keycloak operations
 * (users, groups, moves, renames into freed names, re-creation under a used name, memberships)
 * are applied to a fake of the narrow Keycloak reader, their hints delivered through the
 * relay's engine in random order, with duplicates, while later operations still happen. Then
 * a full reconcile's dry run must plan nothing, and SCIM must equal what an oracle written
 * apart from the relay says Keycloak means.
 *
 * `PARITY_RUNS` sets the number of sequences per profile. A failure prints fast-check's seed
 * and path: `PARITY_SEED=<seed> PARITY_PATH=<path>` replays exactly that counterexample.
 */
const RUNS = Number(process.env.PARITY_RUNS ?? 500);
const SEED = process.env.PARITY_SEED === undefined ? undefined : Number(process.env.PARITY_SEED);
const PATH = process.env.PARITY_PATH;
const token = 'parity-test-token-5d1e8a';

const configs: fc.Arbitrary<ParityConfig> = fc.record({
  usernameSource: fc.constantFrom('username', 'email'),
  groupNameSource: fc.constantFrom('path', 'name'),
  membershipMode: fc.constantFrom('direct', 'inherited'),
  userDeleteMode: fc.constantFrom('delete', 'deactivate'),
});

describe.each(['kestra', 'generic'] as const)('event path parity, %s SCIM profile', (profile) => {
  let server: RunningScimServer;
  let control: ScimServerControl;
  beforeAll(async () => {
    server = await startScimServer({ token, testApi: true, profile, maxPageSize: 50 });
    control = new ScimServerControl(server.origin);
  });
  afterAll(async () => {
    await server.close();
  });

  it(`${RUNS} random sequences: SCIM ends equal to Keycloak and a resync plans nothing`, async () => {
    await fc.assert(
      fc.asyncProperty(
        configs,
        keycloakOperations({ setupSize: 8, maxLength: 25, silentJoins: true }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        async (config, ops, seed) => {
          await control.reset();
          const random = seededRandom(seed);
          const realm = new FakeRealm({ random, newId: sequentialIds(), maxYields: 2 });
          const log = memoryDestination();
          const logger = createLogger({ level: 'info', secrets: [token], destination: log });
          const parts = parityEngine(realm, server.baseUrl, token, config, logger);
          const runner = new OperationRunner(realm);
          const steps: Step[] = [];
          try {
            const pending: Hint[] = [];
            const delivered: Promise<unknown>[] = [];
            // Hints arrive late, out of order and twice, as a queue redelivers and a poll re-reads.
            const deliver = (all: boolean): void => {
              while (pending.length > 0 && (all || random() < 0.6)) {
                const [hint] = pending.splice(Math.floor(random() * pending.length), 1);
                if (hint === undefined) break;
                delivered.push(parts.engine.submit(hint));
                if (random() < 0.2) delivered.push(parts.engine.submit(hint));
              }
            };
            for (const op of ops) {
              const step = runner.apply(op);
              steps.push(step);
              if (step.applied) pending.push(...hintsOf(step.events));
              if (random() < 0.5) deliver(false);
              if (random() < 0.3) await nextTurn();
            }
            deliver(true);
            await Promise.allSettled(delivered);
            await parts.engine.queue.idle();

            const report = await dryRun({ keycloak: realm, ...parts }, config);
            const state = realm.state();
            const scimState = await control.state();
            const exempt = keptNameHolders(state, scimState, config);
            const failures = [
              ...plannedWrites(
                report,
                exempt,
                (id) => scimState.users.find((u) => u.id === id)?.externalId,
              ).map((w) => `planned: ${w}`),
              ...unexpectedProblems(report, state, config, exempt).map((p) => `problem: ${p}`),
              ...scimDifferences(state, scimState, config, exempt),
            ];
            if (failures.length > 0) {
              throw new Error(
                [
                  `${profile} profile, ${JSON.stringify(config)}, delivery seed ${seed}`,
                  ...failures,
                  'operations:',
                  formatRun(steps),
                  'relay log (last 60 lines):',
                  ...log.lines.slice(-60),
                ].join('\n'),
              );
            }
          } finally {
            await parts.close();
          }
        },
      ),
      {
        numRuns: RUNS,
        ...(SEED === undefined ? {} : { seed: SEED }),
        ...(PATH === undefined ? {} : { path: PATH }),
      },
    );
    expect(RUNS).toBeGreaterThan(0);
  }, 1_800_000);
});
