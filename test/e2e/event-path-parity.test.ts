import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { reconcilerView } from '../../src/app/keycloak-adapter.js';
import type { Hint } from '../../src/domain/hint.js';
import { adminEventSchema, hintsFromAdminEvent } from '../../src/domain/keycloak-event.js';
import type { ProfileName } from '../../packages/scim-server/src/profile.js';
import { fingerprint } from '../../src/sources/event-window.js';
import type { Outcome } from '../../src/sync/work-queue.js';
import { seededRandom, sequentialIds } from '../support/fake-keycloak.js';
import {
  KeycloakMirror,
  RecordingRealm,
  emptyRealm,
  modelDifferences,
  realmStateOf,
} from '../support/keycloak-mirror.js';
import {
  OperationRunner,
  formatRun,
  keycloakOperations,
  type Step,
} from '../support/keycloak-operations.js';
import {
  dryRun,
  keptNameHolders,
  plannedWrites,
  scimDifferences,
  unexpectedProblems,
  type ParityConfig,
} from '../support/parity.js';
import { startRelayHarness, type RelayHarness } from '../support/relay-harness.js';
import { createTestRealm, type TestRealm } from '../support/test-realm.js';

/**
 * The property of `test/integration/event-path-parity.test.ts`, against a real Keycloak: random
 * sequences of Keycloak operations are made on a real realm through the admin API (a
 * `FakeRealm` kept in lock-step resolves "the k-th user" and tells which operations Keycloak
 * accepts), and the hints of the admin events Keycloak really stored are delivered through the
 * relay's engine out of order and twice, partly while later operations still happen. Then a
 * full reconcile's dry run must plan nothing, and SCIM must equal what the oracle says the real
 * realm, read back with the admin API, means.
 *
 * `PARITY_E2E_RUNS` sets the sequences per profile (default 8). A failure prints fast-check's
 * seed and path: `PARITY_E2E_SEED=<seed> PARITY_E2E_PATH=<path>` runs that sequence again (the
 * relay's timing against a live server may differ). Shrinking is off by default, as each try
 * costs seconds against a real server; `PARITY_E2E_SHRINK=1` turns it on.
 * `PARITY_E2E_SETUP` and `PARITY_E2E_LENGTH` (default 5 and 12) size the sequences.
 */
const RUNS = Number(process.env.PARITY_E2E_RUNS ?? 8);
const SEED =
  process.env.PARITY_E2E_SEED === undefined ? undefined : Number(process.env.PARITY_E2E_SEED);
const PATH = process.env.PARITY_E2E_PATH;
const SHRINK = process.env.PARITY_E2E_SHRINK === '1';
/** Sequence sizes: small by default, as every operation is a request to a real server. */
const SETUP = Number(process.env.PARITY_E2E_SETUP ?? 5);
const LENGTH = Number(process.env.PARITY_E2E_LENGTH ?? 12);

const configs: fc.Arbitrary<ParityConfig> = fc.record({
  usernameSource: fc.constantFrom('username', 'email'),
  groupNameSource: fc.constantFrom('path', 'name'),
  membershipMode: fc.constantFrom('direct', 'inherited'),
  userDeleteMode: fc.constantFrom('delete', 'deactivate'),
});

const PROFILES: readonly { profile: ProfileName; patchDelayMs?: number }[] = [
  { profile: 'kestra' },
  // An unlocked PATCH with a window between its read and its write: parallel member writes to
  // one group would lose members here.
  { profile: 'generic', patchDelayMs: 20 },
];

describe.each(PROFILES)(
  'event path parity against a real Keycloak, $profile SCIM profile',
  (scim) => {
    const facts = inject('testStack');
    let realm: TestRealm;

    beforeAll(async () => {
      // One realm for all sequences, emptied before each: creating a realm costs seconds.
      realm = await createTestRealm(facts, { prefix: `parity-e2e-${scim.profile}` });
    });
    afterAll(async () => {
      await realm.delete();
    });

    it(`${RUNS} random sequences: SCIM ends equal to Keycloak and a resync plans nothing`, async () => {
      await fc.assert(
        fc.asyncProperty(
          configs,
          keycloakOperations({ setupSize: SETUP, maxLength: LENGTH, silentJoins: true }),
          fc.integer({ min: 1, max: 2 ** 31 - 1 }),
          async (config, ops, seed) => {
            await emptyRealm(realm.admin);
            const harness = await startRelayHarness(facts, {
              prefix: 'parity-e2e',
              realm,
              // The test is the event source: it hands over the hints of the stored events.
              start: false,
              scim,
              env: {
                USERNAME_SOURCE: config.usernameSource,
                GROUP_NAME_SOURCE: config.groupNameSource,
                MEMBERSHIP_MODE: config.membershipMode,
                USER_DELETE_MODE: config.userDeleteMode,
                RESYNC_INTERVAL_MS: '0',
              },
            });
            try {
              await runSequence(harness, realm, scim.profile, config, ops, seed);
            } finally {
              await harness.close();
            }
          },
        ),
        {
          numRuns: RUNS,
          endOnFailure: !SHRINK,
          ...(SEED === undefined ? {} : { seed: SEED }),
          ...(PATH === undefined ? {} : { path: PATH }),
        },
      );
      expect(RUNS).toBeGreaterThan(0);
    }, 1_800_000);
  },
);

async function runSequence(
  harness: RelayHarness,
  realm: TestRealm,
  profile: ProfileName,
  config: ParityConfig,
  ops: Parameters<OperationRunner['apply']>[0][],
  seed: number,
): Promise<void> {
  const { engine, keycloak } = harness.relay;
  const random = seededRandom(seed);
  const model = new RecordingRealm({ newId: sequentialIds() });
  const runner = new OperationRunner(model);
  const mirror = new KeycloakMirror(realm.admin);

  // Events stored before this sequence (earlier sequences, the emptying) are not its own.
  const seen = new Set<string>();
  const fresh = async (): Promise<Hint[]> => {
    const hints: Hint[] = [];
    for await (const raw of keycloak.adminEvents()) {
      const parsed = adminEventSchema.safeParse(raw);
      if (!parsed.success)
        throw new Error(`Keycloak stored an unreadable event: ${JSON.stringify(raw)}`);
      const key = fingerprint({ time: parsed.data.time, id: parsed.data.id, raw });
      if (seen.has(key)) continue;
      seen.add(key);
      hints.push(...hintsFromAdminEvent(parsed.data).hints);
    }
    return hints;
  };
  await fresh();

  const steps: Step[] = [];
  const pending: Hint[] = [];
  const delivered: Promise<Outcome>[] = [];
  const hintLog: string[] = [];
  // Hints arrive late, out of order and twice, as a queue redelivers and a poll re-reads.
  const deliver = (all: boolean): void => {
    while (pending.length > 0 && (all || random() < 0.6)) {
      const [hint] = pending.splice(Math.floor(random() * pending.length), 1);
      if (hint === undefined) break;
      const twice = random() < 0.2;
      hintLog.push(`${JSON.stringify(hint)}${twice ? ' x2' : ''}`);
      delivered.push(engine.submit(hint));
      if (twice) delivered.push(engine.submit(hint));
    }
  };

  for (const op of ops) {
    const step = runner.apply(op);
    steps.push(step);
    for (const call of model.takeCalls()) await mirror.apply(call);
    if (random() < 0.5) {
      pending.push(...(await fresh()));
      deliver(false);
    }
  }
  pending.push(...(await fresh()));
  deliver(true);
  const outcomes = await Promise.allSettled(delivered);
  await engine.queue.idle();

  const { scim, store } = harness.relay;
  const report = await dryRun({ keycloak: reconcilerView(keycloak), engine, scim, store }, config);
  const state = await realmStateOf(realm.admin);
  const scimState = await harness.control.state();
  const exempt = keptNameHolders(state, scimState, config);
  const failures = [
    ...modelDifferences(model.state(), state, mirror).map((d) => `model: ${d}`),
    ...plannedWrites(
      report,
      exempt,
      (id) => scimState.users.find((u) => u.id === id)?.externalId,
    ).map((w) => `planned: ${w}`),
    ...unexpectedProblems(report, state, config, exempt).map((p) => `problem: ${p}`),
    ...scimDifferences(state, scimState, config, exempt),
  ];
  if (failures.length === 0) return;
  const parked = outcomes.filter((o) => o.status === 'fulfilled' && o.value === 'parked').length;
  const rejected = outcomes.filter((o) => o.status === 'rejected').length;
  throw new Error(
    [
      `${profile} profile, Keycloak realm ${realm.name}, ${JSON.stringify(config)}, delivery seed ${seed}`,
      ...failures,
      'operations (model ids):',
      formatRun(steps),
      'ids (model -> Keycloak):',
      ...model.userIds().map((id) => `  user ${id} -> ${mirror.real(id)}`),
      ...model.groupIds().map((id) => `  group ${id} -> ${mirror.real(id)}`),
      `hints delivered (in order, Keycloak ids; ${parked} parked, ${rejected} rejected):`,
      ...hintLog.map((h) => `  ${h}`),
      'relay log (last 80 lines):',
      ...harness.log.lines.slice(-80),
    ].join('\n'),
  );
}
