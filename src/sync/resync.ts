import type { Logger } from 'pino';
import type { GroupDecision } from '../domain/group-plan.js';
import type { KeycloakGroup, KeycloakUser } from '../domain/keycloak-model.js';
import {
  planResync,
  type GroupStep,
  type GuardVerdict,
  type MemberStep,
  type PruneStep,
  type ResyncInput,
  type ResyncOptions,
  type ResyncPlan,
  type UserStep,
  type WaitStep,
} from '../domain/resync-plan.js';
import type { ScimGroupListing, ScimUserView } from '../domain/scim-views.js';
import { EVERYTHING, scopeKeycloakSide, scopesUsers, type Scope } from '../domain/scope.js';
import type { UserDecision } from '../domain/user-plan.js';
import { ScimError, describeError } from '../errors.js';
import type { ScimClient } from '../scim/scim-client.js';
import type { StateStore } from '../state/state-store.js';
import { groupView, userView } from './fact-reader.js';
import { FULL_RECONCILE_APPLYING_CHECKPOINT } from './full-reconcile-record.js';
import type { Snapshot } from './freshness.js';
import type { KeycloakRealmReader } from './keycloak-reader.js';
import type { Outcome, Reconciler } from './reconciler.js';
import { forEachConcurrently } from './resync-pool.js';

/** The parts a resync works with. */
export interface ResyncDeps {
  readonly keycloak: KeycloakRealmReader;
  readonly scim: ScimClient;
  readonly store: StateStore;
  /**
   * Applies every write, through the same per-entity locks as the event path. `run` passes
   * its own, so a full reconcile and the events it meets serialise on the same entities.
   */
  readonly reconciler: Reconciler;
  readonly logger?: Logger | undefined;
  /**
   * Runs the reading and planning, which hold both sides' listings at once: `run` passes one
   * that makes V8 save memory meanwhile (see `memorySaver`), and leaves the writes, which hold
   * only the plan, to its faster mode.
   */
  readonly whileReading?: (<T>(work: () => Promise<T>) => Promise<T>) | undefined;
}

/** The phases a resync goes through, in order, as progress reports them. */
export type ResyncPhase = 'read' | 'groups' | 'users' | 'members' | 'prune';

/** Where a running resync is: `done` of `total` items of the current phase. */
export interface ResyncProgress {
  readonly phase: ResyncPhase;
  readonly done: number;
  readonly total: number;
}

/** Options of {@link resync}: the plan's, plus how to apply it. */
export interface ResyncRunOptions extends ResyncOptions {
  /** Plan only: read both sides, write nothing (not even the id map). */
  readonly dryRun: boolean;
  /** SCIM writes (and Keycloak member listings) in flight at once. */
  readonly concurrency: number;
  readonly onProgress?: ((progress: ResyncProgress) => void) | undefined;
  /** The part of the realm that is provisioned (SCOPE_GROUPS, SCOPE_GROUP_PATH). */
  readonly provisionScope?: Scope | undefined;
}

/** Counts for users or groups. In a dry run, what would happen. */
export interface KindSummary {
  created: number;
  updated: number;
  /** Of the created and updated (or unchanged): found by externalId or name, now managed. */
  adopted: number;
  deactivated: number;
  deleted: number;
  unchanged: number;
  failed: number;
}

/** Counts for memberships, in members (not requests). */
export interface MembershipSummary {
  added: number;
  removed: number;
  /** Keycloak memberships of users that have no SCIM twin (only with `--groups`). */
  skipped: number;
  failed: number;
}

/** One thing that could not be done, named, with why. */
export interface ResyncFailure {
  readonly kind: 'user' | 'group' | 'membership';
  /** The Keycloak id, or the SCIM id for a prune. */
  readonly id: string;
  readonly name: string;
  readonly reason: string;
}

/** What a resync did (or, in a dry run, would do). */
export interface ResyncReport {
  readonly dryRun: boolean;
  readonly plan: ResyncPlan;
  readonly guard: GuardVerdict;
  readonly users: KindSummary;
  readonly groups: KindSummary;
  readonly memberships: MembershipSummary;
  readonly failures: readonly ResyncFailure[];
  /** Set when the run stopped early: the SCIM server refused the token or the integration. */
  readonly aborted: string | undefined;
  readonly durationMs: number;
}

/**
 * Makes the SCIM side match Keycloak: reads every user, the group tree and every membership
 * from Keycloak page by page, lists the SCIM side, plans the difference with
 * {@link planResync}, and applies only that, `concurrency` entities at a time. Groups are
 * created empty and members follow as PATCH deltas.
 *
 * Every decision is applied by the reconciler under the entity's lock, as an event would be;
 * one the event path overtook since the listing began is made again from a fresh read, so a
 * full reconcile never undoes a newer change.
 *
 * Each write that fails is listed in the report and the rest carries on; only a refused
 * SCIM token or a disabled integration (401/403) stops the run early (`aborted`), since every
 * write would fail. Reading failures throw: without both sides there is no plan.
 */
export async function resync(deps: ResyncDeps, options: ResyncRunOptions): Promise<ResyncReport> {
  const started = performance.now();
  const snapshot = deps.reconciler.freshness.snapshot();
  try {
    const reading = deps.whileReading ?? ((work) => work());
    const run = await reading(() => readAndPlan(deps, options, snapshot));
    if (!options.dryRun) await applyInGroups(deps.store, run);
    else run.predict();
    return report(options, run.plan, run, started);
  } finally {
    snapshot.close();
  }
}

/**
 * Applies the plan with its id-map writes committed in groups (see `StateStore.groupCommits`),
 * between a mark that says a full reconcile is applying and its removal: a crash in between
 * leaves the mark, and the next start of `run` reconciles everything again.
 */
async function applyInGroups(store: StateStore, run: Applier): Promise<void> {
  store.putCheckpoint(
    FULL_RECONCILE_APPLYING_CHECKPOINT,
    JSON.stringify({ startedAt: Date.now(), pid: process.pid }),
  );
  await store.groupCommits(() => run.apply());
  store.clearCheckpoint(FULL_RECONCILE_APPLYING_CHECKPOINT);
}

/**
 * Reads both sides, plans, and (unless a dry run) records what the listing showed. Its own
 * function so that both sides' listings are garbage once it returns: the writes that follow,
 * the longest part of a cold run, hold only the plan.
 */
async function readAndPlan(
  deps: ResyncDeps,
  options: ResyncRunOptions,
  snapshot: Snapshot,
): Promise<Applier> {
  const read = await readBothSides(deps, options);
  const scoped = scopeKeycloakSide(read.keycloak, options.provisionScope ?? EVERYTHING);
  const input: ResyncInput = {
    ...read,
    keycloak: {
      ...scoped,
      // Out of scope is, to the plan, as if not provisioned; it still exists, though.
      allIds: new Set([
        ...read.keycloak.users.map((u) => u.id),
        ...read.keycloak.groups.map((g) => g.id),
      ]),
    },
  };
  const run = new Applier(deps, options, planResync(input, options), snapshot);
  if (!options.dryRun) {
    // The whole tree was listed unless `--users` skipped the groups.
    run.remember(read.scim.groups, groupsRead(options) ? read.keycloak.groups : undefined);
  }
  return run;
}

function report(
  options: ResyncRunOptions,
  plan: ResyncPlan,
  run: Applier,
  started: number,
): ResyncReport {
  return {
    dryRun: options.dryRun,
    plan,
    guard: plan.guard,
    users: run.users,
    groups: run.groups,
    memberships: run.memberships,
    failures: run.failures,
    aborted: run.aborted,
    durationMs: Math.round(performance.now() - started),
  };
}

async function readBothSides(deps: ResyncDeps, options: ResyncRunOptions): Promise<ResyncInput> {
  options.onProgress?.({ phase: 'read', done: 0, total: 0 });
  // One id string per id, shared by both sides and the id map: a SCIM user's externalId is
  // its Keycloak user's id, and the id map names both.
  const ids = new Interner();
  const readScim = async () => {
    const users: ScimUserView[] = [];
    for await (const user of deps.scim.listUsers()) {
      const view = userView(user);
      const { externalId } = view;
      users.push({
        ...view,
        id: ids.of(view.id),
        externalId: externalId === undefined ? undefined : ids.of(externalId),
      });
    }
    const groups: ScimGroupListing[] = [];
    if (options.scope !== 'users') {
      for await (const group of deps.scim.listGroups(undefined, { withMembers: true })) {
        const memberIds = (group.members ?? []).map((m) => ids.of(m.value));
        groups.push({ ...groupView(group), memberIds });
      }
    }
    return { users, groups };
  };
  const readKeycloak = async () => {
    const users: KeycloakUser[] = [];
    const groups: KeycloakGroup[] = [];
    const members = new Map<string, string[]>();
    const listUsers = async (): Promise<void> => {
      // Only the fields the plan reads: a realm's users stay a small part of memory.
      for await (const u of deps.keycloak.users()) {
        users.push({
          id: ids.of(u.id),
          username: u.username,
          email: u.email,
          firstName: u.firstName,
          lastName: u.lastName,
          enabled: u.enabled,
          serviceAccountClientId: u.serviceAccountClientId,
        });
      }
    };
    const listGroups = async (): Promise<void> => {
      for await (const g of deps.keycloak.groups()) {
        groups.push({ id: g.id, name: g.name, path: g.path, parentId: g.parentId, names: g.names });
      }
      await forEachConcurrently(groups, options.concurrency, async (group) => {
        const memberIds: string[] = [];
        for await (const memberId of deps.keycloak.groupMemberIds(group.id)) {
          memberIds.push(ids.of(memberId));
        }
        members.set(group.id, memberIds);
      });
    };
    // The users and the tree with its members are read side by side: Keycloak answers each
    // listing one page at a time, and two listings keep more of its cores busy. Scoping users
    // by group needs the groups and their members even for `--users`.
    await Promise.all([listUsers(), groupsRead(options) ? listGroups() : undefined]);
    return { users, groups, members };
  };
  const [scim, keycloak] = await Promise.all([readScim(), readKeycloak()]);
  return {
    keycloak,
    scim,
    idMap: {
      users: deps.store.users().map((u) => ({
        keycloakId: ids.of(u.keycloakId),
        scimId: ids.of(u.scimId),
        name: u.userName,
      })),
      groups: deps.store.groups().map((g) => ({
        keycloakId: ids.of(g.keycloakId),
        scimId: ids.of(g.scimId),
        name: g.displayName,
        parentId: g.parentId,
      })),
    },
  };
}

/**
 * One copy of each id string. Every page of a listing parses its ids into new strings, so a
 * realm's memberships would hold each user's id once per group it is in, beside the user's
 * own: at 500,000 memberships, some 30 MB per side of copies; and each SCIM user's externalId
 * would copy its Keycloak user's id.
 */
class Interner {
  readonly #ids = new Map<string, string>();

  /** The first copy of `id` seen, which is kept. */
  of(id: string): string {
    const known = this.#ids.get(id);
    if (known !== undefined) return known;
    this.#ids.set(id, id);
    return id;
  }
}

const emptyKind = (): KindSummary => ({
  created: 0,
  updated: 0,
  adopted: 0,
  deactivated: 0,
  deleted: 0,
  unchanged: 0,
  failed: 0,
});

/** Whether a run lists Keycloak's groups: scoping users by group needs them even for `--users`. */
function groupsRead(options: ResyncRunOptions): boolean {
  return options.scope !== 'users' || scopesUsers(options.provisionScope ?? EVERYTHING);
}

/** How many rounds waiting entities get: enough for names that swap between two entities. */
const WAIT_ROUNDS = 3;

/** Applies one plan through the reconciler and keeps its counts. */
class Applier {
  readonly users = emptyKind();
  readonly groups = emptyKind();
  readonly memberships: MembershipSummary;
  readonly failures: ResyncFailure[] = [];
  /** Set once the SCIM server refused our token or the integration: nothing more can work. */
  private fatal: ScimError | undefined;
  /**
   * The SCIM twin of each user this run created or updated, for the members phase, which would
   * otherwise look up each member in the id map: half a million random reads of it in a cold
   * run of a large realm, most of that phase's time.
   */
  private readonly twins = new Map<string, string>();
  private readonly why = 'full reconcile';

  constructor(
    private readonly deps: ResyncDeps,
    private readonly options: ResyncRunOptions,
    readonly plan: ResyncPlan,
    private readonly snapshot: Snapshot,
  ) {
    this.memberships = { added: 0, removed: 0, skipped: plan.membersSkipped, failed: 0 };
    this.users.unchanged = plan.unchanged.users;
    this.groups.unchanged = plan.unchanged.groups;
    for (const link of plan.links) {
      if (link.kind === 'user') this.users.adopted += 1;
      else this.groups.adopted += 1;
    }
    for (const problem of plan.problems) {
      this.fail(problem.kind, problem.keycloakId, problem.name, problem.reason);
    }
  }

  /** Fills the counts with what {@link apply} would do, for a dry run. */
  predict(): void {
    for (const step of this.plan.groups) countStep(this.groups, step);
    for (const step of this.plan.users) countStep(this.users, step);
    for (const step of this.plan.waits) {
      countStep(step.kind === 'user' ? this.users : this.groups, {
        op: 'update',
        adopted: undefined,
      });
    }
    for (const step of this.plan.members) {
      this.memberships.added += step.add.length;
      this.memberships.removed += step.remove.length;
    }
    if (!this.plan.guard.blocked) for (const step of this.plan.prune) this.countPrune(step);
  }

  /**
   * Records the plan's id-map links and what the listing showed: `listed`, the SCIM groups as
   * read, whose members become the relay's records, and the Keycloak group tree. Before
   * {@link apply}, which then needs neither listing.
   */
  remember(listed: readonly ScimGroupListing[], tree: readonly KeycloakGroup[] | undefined): void {
    const { store, reconciler } = this.deps;
    store.transaction(() => {
      for (const link of this.plan.links) {
        if (link.kind === 'user') {
          reconciler.writer.linkUser(link.keycloakId, link.scimId, link.name);
        } else {
          reconciler.writer.linkGroup(link.keycloakId, link.scimId, link.name, link.parentId);
        }
      }
      for (const group of listed) {
        reconciler.members.refresh(group.id, group.memberIds, this.snapshot);
      }
      if (tree !== undefined) reconciler.refreshGroupTree(tree, this.snapshot);
    });
  }

  async apply(): Promise<void> {
    await this.phase('groups', this.plan.groups, (step) => this.applyGroup(step));
    // Renames first: a user taking over a name another user gives up must find it free.
    const users = [
      ...this.plan.users.filter((s) => s.op === 'update'),
      ...this.plan.users.filter((s) => s.op === 'create'),
    ];
    await this.phase('users', users, (step) => this.applyUser(step));
    await this.phase('members', this.plan.members, (step) => this.applyMembers(step));
    if (this.plan.guard.blocked) {
      this.deps.logger?.warn(
        { deletions: this.plan.guard.deletions },
        `prune held back: ${this.plan.guard.reason ?? ''}`,
      );
    } else {
      await this.phase('prune', this.plan.prune, (step) => this.applyPrune(step));
    }
    await this.applyMovesAside();
    await this.applyWaits();
  }

  /**
   * Entities that cannot be provisioned but whose twins hold a name they no longer want: the
   * fresh reconcile renames the twin out of the way (and fails again, already counted).
   */
  private async applyMovesAside(): Promise<void> {
    for (const problem of this.plan.problems) {
      if (problem.moveAside === undefined || this.fatal !== undefined) continue;
      try {
        await this.afresh(problem.kind, problem.keycloakId);
      } catch (error) {
        if (error instanceof ScimError && (error.status === 401 || error.status === 403)) {
          this.fatal ??= error;
        }
      }
    }
  }

  get aborted(): string | undefined {
    return this.fatal === undefined
      ? undefined
      : `stopped early, every further write would fail too: ${describeError(this.fatal)}`;
  }

  private async phase<T>(
    phase: ResyncPhase,
    steps: readonly T[],
    apply: (step: T) => Promise<void>,
  ): Promise<void> {
    if (steps.length === 0 || this.fatal !== undefined) return;
    let done = 0;
    const report = this.options.onProgress;
    report?.({ phase, done, total: steps.length });
    // Id-map writes of one batch of entities share a transaction; losing a batch to a crash
    // costs nothing, the next run finds the resources by externalId.
    await forEachConcurrently(steps, this.options.concurrency, async (step) => {
      if (this.fatal !== undefined) return;
      await apply(step);
      done += 1;
      report?.({ phase, done, total: steps.length });
    });
  }

  // Groups and users: each decision applied by the reconciler, as an event would be.

  private async applyGroup(step: GroupStep): Promise<void> {
    await this.decide('group', step.keycloakId, step.desired.displayName, async () => {
      const outcome = await this.deps.reconciler.reconcileGroup(step.keycloakId, false, {
        why: this.why,
        planned: { decision: step, snapshot: this.snapshot },
      });
      countOutcome(this.groups, outcome, step);
    });
  }

  private async applyUser(step: UserStep): Promise<void> {
    await this.decide('user', step.keycloakId, step.desired.userName, async () => {
      const outcome = await this.deps.reconciler.reconcileUser(step.keycloakId, {
        why: this.why,
        planned: { decision: step, snapshot: this.snapshot },
      });
      if (outcome.scimId !== undefined) this.twins.set(step.keycloakId, outcome.scimId);
      countOutcome(this.users, outcome, step);
    });
  }

  private async applyPrune(step: PruneStep): Promise<void> {
    const { reconciler } = this.deps;
    const why = `${this.why}: ${step.reason}`;
    await this.decide(step.kind, step.scimId, step.name, async () => {
      // Keycloak pages its listings by offset: an entity deleted before the page being read
      // shifts the rest back by one, and the listing misses one that still exists. Missing
      // from the listing is not gone, then: Keycloak is asked before anything is removed, and
      // an owner it still has is decided afresh, from that read, as an event would be.
      let outcome: Outcome;
      if (await this.inKeycloak(step.kind, step.externalId)) {
        outcome = await this.afresh(step.kind, step.externalId);
      } else if (step.kind === 'user') {
        const decision: UserDecision = {
          op: 'deprovision',
          keycloakId: step.externalId,
          scimId: step.scimId,
          userName: step.name,
          how: step.op,
          reason: step.reason,
        };
        outcome = await reconciler.reconcileUser(step.externalId, {
          why,
          planned: { decision, snapshot: this.snapshot },
        });
      } else {
        const decision: GroupDecision = {
          op: 'deprovision',
          keycloakId: step.externalId,
          scimId: step.scimId,
          displayName: step.name,
          reason: step.reason,
        };
        outcome = await reconciler.reconcileGroup(step.externalId, false, {
          why,
          planned: { decision, snapshot: this.snapshot },
        });
      }
      if (outcome.change === 'deprovisioned') this.countPrune(step);
      else countOutcome(step.kind === 'user' ? this.users : this.groups, outcome, undefined);
    });
  }

  /**
   * Entities whose name another one held: tried again, afresh, once everything else is
   * applied, in rounds, since two entities swapping names free each other's in turn.
   */
  private async applyWaits(): Promise<void> {
    let waiting: readonly WaitStep[] = this.plan.waits;
    for (
      let round = 1;
      round <= WAIT_ROUNDS && waiting.length > 0 && this.fatal === undefined;
      round++
    ) {
      const next: WaitStep[] = [];
      for (const step of waiting) {
        const name = step.kind === 'user' ? step.userName : step.displayName;
        await this.decide(step.kind, step.keycloakId, name, async () => {
          const outcome = await this.afresh(step.kind, step.keycloakId);
          if (outcome.change !== 'waiting') {
            countOutcome(step.kind === 'user' ? this.users : this.groups, outcome, undefined);
          } else if (round === WAIT_ROUNDS) {
            this.fail(
              step.kind,
              step.keycloakId,
              name,
              `its SCIM name is still held by Keycloak ${step.kind} ${outcome.waitingFor ?? step.owner}`,
            );
          } else {
            next.push(step);
          }
        });
      }
      waiting = next;
    }
  }

  // Memberships

  private async applyMembers(step: MemberStep): Promise<void> {
    const { store, reconciler } = this.deps;
    const groupScimId = step.groupScimId ?? store.group(step.groupKeycloakId)?.scimId;
    if (groupScimId === undefined) {
      // The group's create failed and is listed already; its members cannot follow.
      this.memberships.failed += step.add.length;
      return;
    }
    const writes: { keycloakId: string | undefined; scimId: string; member: boolean }[] = [];
    // A twin this run wrote may have changed since only through an event on its user, and the
    // reconciler decides the membership of such a user afresh (see `plannedMember`).
    const others = step.add.filter((id) => !this.twins.has(id));
    const stored = others.length === 0 ? undefined : store.userScimIds(others);
    for (const keycloakId of step.add) {
      const scimId = this.twins.get(keycloakId) ?? stored?.get(keycloakId);
      if (scimId === undefined) this.memberships.failed += 1;
      else writes.push({ keycloakId, scimId, member: true });
    }
    for (const scimId of step.remove) {
      writes.push({ keycloakId: store.userByScimId(scimId)?.keycloakId, scimId, member: false });
    }
    await Promise.all(
      writes.map(async (write) => {
        try {
          const skipped = await this.skippedByListing(write);
          if (skipped !== undefined) {
            // Its membership is decided from a fresh read instead.
            await reconciler.reconcileMembership(skipped, step.groupKeycloakId, this.why);
            return;
          }
          await reconciler.plannedMember(
            { keycloakId: step.groupKeycloakId, scimId: groupScimId },
            write,
            this.snapshot,
            this.why,
          );
          if (write.member) this.memberships.added += 1;
          else this.memberships.removed += 1;
        } catch (error) {
          this.memberships.failed += 1;
          this.failOn(
            error,
            'membership',
            step.groupKeycloakId,
            `${write.member ? 'add' : 'remove'} ${write.keycloakId ?? write.scimId} ${write.member ? 'to' : 'from'} ${step.displayName}`,
          );
        }
      }),
    );
  }

  // Shared

  /**
   * The Keycloak id of a member to remove that the listing did not show though Keycloak has
   * it: skipped by a listing paged by offset (see applyPrune). Keycloak is asked only about
   * users missing from the listing, which are few.
   */
  private async skippedByListing(write: {
    readonly keycloakId: string | undefined;
    readonly member: boolean;
  }): Promise<string | undefined> {
    const { keycloakId } = write;
    if (write.member || keycloakId === undefined) return undefined;
    if (this.plan.userNames.keycloak.has(keycloakId)) return undefined;
    return (await this.inKeycloak('user', keycloakId)) ? keycloakId : undefined;
  }

  /** Whether Keycloak has the entity now: one read, which the listing may have contradicted. */
  private async inKeycloak(kind: 'user' | 'group', keycloakId: string): Promise<boolean> {
    const { keycloak } = this.deps;
    const found =
      kind === 'user' ? await keycloak.user(keycloakId) : await keycloak.groupRef(keycloakId);
    return found !== undefined;
  }

  /** The entity decided from fresh reads, as an event would have it, not from the plan. */
  private afresh(kind: 'user' | 'group', keycloakId: string): Promise<Outcome> {
    const { reconciler } = this.deps;
    return kind === 'user'
      ? reconciler.reconcileUser(keycloakId, { why: this.why })
      : reconciler.reconcileGroup(keycloakId, false, { why: this.why });
  }

  private countPrune(step: PruneStep): void {
    const summary = step.kind === 'user' ? this.users : this.groups;
    if (step.op === 'delete') summary.deleted += 1;
    else summary.deactivated += 1;
  }

  private async decide(
    kind: ResyncFailure['kind'],
    id: string,
    name: string,
    work: () => Promise<void>,
  ): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.failOn(error, kind, id, name);
    }
  }

  private failOn(error: unknown, kind: ResyncFailure['kind'], id: string, name: string): void {
    if (error instanceof ScimError && (error.status === 401 || error.status === 403)) {
      this.fatal ??= error;
    }
    this.fail(kind, id, name, describeError(error));
  }

  private fail(kind: ResyncFailure['kind'], id: string, name: string, reason: string): void {
    if (kind === 'user') this.users.failed += 1;
    if (kind === 'group') this.groups.failed += 1;
    this.failures.push({ kind, id, name, reason });
    this.deps.logger?.warn({ kind, id, reason }, `resync could not reconcile ${kind} ${name}`);
  }
}

/** Counts a planned create or update, as the dry run predicts it. */
function countStep(
  summary: KindSummary,
  step: {
    readonly op: 'create' | 'update';
    readonly adopted?: { readonly foundBy: string } | undefined;
  },
): void {
  if (step.op === 'create') summary.created += 1;
  else {
    summary.updated += 1;
    if (step.adopted !== undefined) summary.adopted += 1;
  }
}

/** Counts what a reconcile did, which can differ from the plan when an event overtook it. */
function countOutcome(
  summary: KindSummary,
  outcome: Outcome,
  step: UserStep | GroupStep | undefined,
): void {
  switch (outcome.change) {
    case 'created':
      summary.created += 1;
      return;
    case 'adopted':
      summary.updated += 1;
      summary.adopted += 1;
      return;
    case 'updated':
      summary.updated += 1;
      if (step?.op === 'update' && step.adopted !== undefined) summary.adopted += 1;
      return;
    case 'unchanged':
      summary.unchanged += 1;
      return;
    case 'deprovisioned':
    case 'waiting':
      return;
  }
}
