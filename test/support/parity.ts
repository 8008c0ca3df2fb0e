import type { Logger } from 'pino';
import { hintsFromAdminEvent, adminEventSchema } from '../../src/domain/keycloak-event.js';
import type { Hint } from '../../src/domain/hint.js';
import type { ResyncOptions } from '../../src/domain/resync-plan.js';
import { DEFAULT_DELETION_GUARD } from '../../src/domain/resync-plan.js';
import { ScimClient } from '../../src/scim/scim-client.js';
import type { ScimServerState } from '../../packages/scim-server/src/test-api-schema.js';
import { StateStore } from '../../src/state/state-store.js';
import { SyncEngine } from '../../src/sync/engine.js';
import type { KeycloakRealmReader } from '../../src/sync/keycloak-reader.js';
import { resync, type ResyncReport } from '../../src/sync/resync.js';
import { expectedScim, type ExpectedScim } from './expected-scim.js';
import type { FakeAdminEvent, RealmState } from './fake-keycloak.js';

/** The mapping and semantics one parity run uses; every combination is generated. */
export interface ParityConfig {
  readonly usernameSource: 'username' | 'email';
  readonly groupNameSource: 'path' | 'name';
  readonly membershipMode: 'direct' | 'inherited';
  readonly userDeleteMode: 'delete' | 'deactivate';
}

/** The hints Keycloak's events mean, as a source would hand them over. */
export function hintsOf(events: readonly FakeAdminEvent[]): Hint[] {
  return events.flatMap((event) => {
    const parsed = adminEventSchema.safeParse(event);
    if (!parsed.success)
      throw new Error(`the fake emitted an unparseable event: ${JSON.stringify(event)}`);
    return [...hintsFromAdminEvent(parsed.data).hints];
  });
}

/** A relay engine against `keycloak` and a SCIM server, as `run` wires it, with fast retries. */
export function parityEngine(
  keycloak: KeycloakRealmReader,
  scimBaseUrl: string,
  token: string,
  config: ParityConfig,
  logger: Logger,
): { engine: SyncEngine; scim: ScimClient; store: StateStore; close(): Promise<void> } {
  const scim = new ScimClient(
    {
      baseUrl: scimBaseUrl,
      token,
      timeoutMs: 5_000,
      connectTimeoutMs: 2_000,
      maxConnections: 8,
      pageSize: 50,
      memberBatchSize: 5,
      retry: { maxAttempts: 3, minDelayMs: 5, maxDelayMs: 20, maxElapsedMs: 5_000 },
    },
    { logger },
  );
  const store = StateStore.open(':memory:');
  const engine = new SyncEngine(
    { keycloak, scim, store },
    {
      mapping: { usernameSource: config.usernameSource, groupNameSource: config.groupNameSource },
      userDeleteMode: config.userDeleteMode,
      membershipMode: config.membershipMode,
      concurrency: 4,
      verifyIntervalMs: 0,
      minDelayMs: 2,
      maxDelayMs: 20,
      maxTransientAttempts: 50,
      resyncIntervalMs: 0,
      parkedRetryMs: 3_600_000,
      logger,
    },
  );
  return {
    engine,
    scim,
    store,
    async close() {
      await engine.stop();
      await scim.close();
      await store.close();
    },
  };
}

/** The full reconcile's dry run, as `resync --dry-run --prune` plans it. */
export function dryRun(
  parts: { keycloak: KeycloakRealmReader; engine: SyncEngine; scim: ScimClient; store: StateStore },
  config: ParityConfig,
): Promise<ResyncReport> {
  const options: ResyncOptions = {
    mapping: { usernameSource: config.usernameSource, groupNameSource: config.groupNameSource },
    userDeleteMode: config.userDeleteMode,
    membershipMode: config.membershipMode,
    scope: 'all',
    prune: true,
    guard: DEFAULT_DELETION_GUARD,
    confirmed: true,
  };
  return resync(
    {
      keycloak: parts.keycloak,
      scim: parts.scim,
      store: parts.store,
      reconciler: parts.engine.reconciler,
    },
    { ...options, dryRun: true, concurrency: 4 },
  );
}

/**
 * Keycloak users whose userName the SCIM side keeps for someone else, by design, so the relay
 * reports a problem instead of provisioning them:
 * - on the kestra profile, the name of a Kestra user whose access to this tenant was removed
 *   earlier: Kestra keeps users global and their userNames unique, and the tenant cannot see
 *   the holder;
 * - with USER_DELETE_MODE=deactivate, the name of a deactivated twin whose Keycloak user is
 *   gone or no longer provisioned: deactivation keeps the twin, and the name with it.
 */
export function keptNameHolders(
  realm: RealmState,
  scim: ScimServerState,
  config: ParityConfig,
): Set<string> {
  const expected = expectedScim(realm, config);
  const provisioned = new Set(expected.users.map((u) => u.externalId));
  const kept = new Set(
    scim.users
      .filter(
        (u) =>
          !u.tenantAccess ||
          (config.userDeleteMode === 'deactivate' &&
            !u.active &&
            !provisioned.has(u.externalId ?? '')),
      )
      .map((u) => u.userName.toLowerCase()),
  );
  return new Set(
    expected.users.filter((u) => kept.has(u.userName.toLowerCase())).map((u) => u.externalId),
  );
}

/** Every write a plan holds, one line each; empty when SCIM already matches Keycloak. */
export function plannedWrites(
  report: ResyncReport,
  exempt: ReadonlySet<string> = new Set(),
  ownerOfScimUser: (scimId: string) => string | undefined = () => undefined,
): string[] {
  const plan = {
    ...report.plan,
    users: report.plan.users.filter((s) => !exempt.has(s.keycloakId)),
    waits: report.plan.waits.filter((s) => !exempt.has(s.keycloakId)),
    problems: report.plan.problems.filter((s) => !exempt.has(s.keycloakId)),
  };
  return [
    ...plan.groups.map((s) => `group ${s.op} ${s.desired.displayName} [${s.keycloakId}]`),
    ...plan.users.map((s) => `user ${s.op} ${s.desired.userName} [${s.keycloakId}]`),
    ...plan.waits.map((s) => `${s.kind} waits for ${s.owner} [${s.keycloakId}]`),
    ...plan.members.flatMap((s) => [
      ...s.add.filter((id) => !exempt.has(id)).map((id) => `member add ${id} to ${s.displayName}`),
      ...s.remove
        .filter((id) => !exempt.has(ownerOfScimUser(id) ?? ''))
        .map((id) => `member remove ${id} from ${s.displayName}`),
    ]),
    ...plan.prune.map((s) => `${s.kind} ${s.op} ${s.name} [${s.externalId}]`),
    ...plan.links.map((s) => `${s.kind} link ${s.name} [${s.keycloakId}]`),
    ...plan.problems.flatMap((s) =>
      s.moveAside === undefined ? [] : [`${s.kind} moves aside [${s.keycloakId}]`],
    ),
  ];
}

/**
 * Differences between what SCIM holds and what it should hold, written independently of the
 * relay's own planner: the oracle says what each Keycloak entity becomes. Entities the oracle
 * says cannot be provisioned (no userName, a displayName several groups share) are left out.
 */
export function scimDifferences(
  realm: RealmState,
  scim: ScimServerState,
  config: ParityConfig,
  exempt: ReadonlySet<string> = new Set(),
): string[] {
  const expected: ExpectedScim = expectedScim(realm, config);
  const problems: string[] = [];
  const visibleUsers = scim.users.filter((u) => u.tenantAccess);
  const userByExternalId = new Map(visibleUsers.map((u) => [u.externalId ?? '', u]));
  const externalIdOfScimUser = new Map(visibleUsers.map((u) => [u.id, u.externalId ?? '?']));
  const expectedUserIds = new Set(expected.users.map((u) => u.externalId));

  for (const want of expected.users) {
    if (exempt.has(want.externalId)) continue;
    const have = userByExternalId.get(want.externalId);
    if (have === undefined) {
      problems.push(`user ${want.userName} [${want.externalId}] is missing`);
      continue;
    }
    const email = (have.emails.find((e) => e.primary === true) ?? have.emails[0])?.value;
    const got = {
      userName: have.userName,
      givenName: have.givenName,
      familyName: have.familyName,
      email: email?.toLowerCase(),
      active: have.active,
    };
    const wanted = {
      userName: want.userName,
      givenName: want.givenName,
      familyName: want.familyName,
      email: want.email?.toLowerCase(),
      active: want.active,
    };
    if (JSON.stringify(got) !== JSON.stringify(wanted)) {
      problems.push(
        `user [${want.externalId}] is ${JSON.stringify(got)}, not ${JSON.stringify(wanted)}`,
      );
    }
  }
  for (const have of visibleUsers) {
    if (have.externalId !== undefined && expectedUserIds.has(have.externalId)) continue;
    // A deactivated twin of a deleted user may stay; an active one, or a stranger, may not.
    if (config.userDeleteMode === 'deactivate' && !have.active) continue;
    problems.push(
      `user ${have.userName} [${have.externalId ?? 'no externalId'}] should not be there`,
    );
  }
  if (new Set(visibleUsers.map((u) => u.externalId)).size !== visibleUsers.length) {
    problems.push('two SCIM users carry the same externalId');
  }

  const ambiguous = new Set(expected.duplicateDisplayNames.map((n) => n.toLowerCase()));
  const groupByExternalId = new Map(scim.groups.map((g) => [g.externalId ?? '', g]));
  const expectedGroupIds = new Set(expected.groups.map((g) => g.externalId));
  for (const want of expected.groups) {
    if (ambiguous.has(want.displayName.toLowerCase())) continue;
    const have = groupByExternalId.get(want.externalId);
    if (have === undefined) {
      problems.push(`group ${want.displayName} [${want.externalId}] is missing`);
      continue;
    }
    if (have.displayName !== want.displayName) {
      problems.push(
        `group [${want.externalId}] is named ${have.displayName}, not ${want.displayName}`,
      );
    }
    // A user the relay cannot provision keeps the memberships it had: left out on both sides.
    const members = have.members
      .map((id) => externalIdOfScimUser.get(id) ?? `unknown ${id}`)
      .filter((id) => !exempt.has(id))
      .sort();
    const wanted = want.members.filter((id) => !exempt.has(id));
    if (JSON.stringify(members) !== JSON.stringify(wanted)) {
      problems.push(
        `group ${want.displayName} has members ${JSON.stringify(members)}, not ${JSON.stringify(wanted)}`,
      );
    }
  }
  for (const have of scim.groups) {
    if (have.externalId !== undefined && expectedGroupIds.has(have.externalId)) continue;
    problems.push(
      `group ${have.displayName} [${have.externalId ?? 'no externalId'}] should not be there`,
    );
  }
  return problems;
}

/** What a plan may legitimately still refuse: names the oracle too says cannot be had. */
export function unexpectedProblems(
  report: ResyncReport,
  realm: RealmState,
  config: ParityConfig,
  exempt: ReadonlySet<string> = new Set(),
): string[] {
  const expected = expectedScim(realm, config);
  const unprovisioned = new Set(expected.unprovisioned);
  const ambiguous = new Set(expected.duplicateDisplayNames.map((n) => n.toLowerCase()));
  const groupNames = new Map(
    expected.groups.map((g) => [g.externalId, g.displayName.toLowerCase()]),
  );
  return report.plan.problems
    .filter((p) =>
      p.kind === 'user'
        ? !unprovisioned.has(p.keycloakId) && !exempt.has(p.keycloakId)
        : !ambiguous.has(groupNames.get(p.keycloakId) ?? ''),
    )
    .map((p) => `${p.kind} ${p.name} [${p.keycloakId}]: ${p.reason}`);
}
