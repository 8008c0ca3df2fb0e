import type { Logger } from 'pino';
import type { KeycloakGroup, KeycloakUser } from '../domain/keycloak-model.js';
import { groupMatches, userMatches } from '../domain/mapping.js';
import {
  planResync,
  scimGroupView,
  scimUserView,
  type GroupStep,
  type GuardVerdict,
  type MemberStep,
  type PruneStep,
  type ResyncInput,
  type ResyncOptions,
  type ResyncPlan,
  type ScimGroupView,
  type ScimUserView,
  type UserStep,
} from '../domain/resync-plan.js';
import { EVERYTHING, scopeKeycloakSide, scopesUsers, type Scope } from '../domain/scope.js';
import { ScimError, describeError } from '../errors.js';
import type { ScimClient } from '../scim/scim-client.js';
import type { StateStore } from '../state/state-store.js';
import { forEachConcurrently } from './resync-pool.js';

/** What a resync reads from Keycloak; the Keycloak access layer provides it, page by page. */
export interface ResyncKeycloak {
  users(): AsyncIterable<KeycloakUser>;
  groups(): AsyncIterable<KeycloakGroup>;
  groupMembers(groupId: string): AsyncIterable<KeycloakUser>;
}

/** The parts a resync works with. */
export interface ResyncDeps {
  readonly keycloak: ResyncKeycloak;
  readonly scim: ScimClient;
  readonly store: StateStore;
  readonly logger?: Logger | undefined;
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
 * {@link planResync}, and applies only that, `concurrency` writes at a time. Groups are
 * created empty and members follow as PATCH deltas; the id map is kept up to date.
 *
 * Each write that fails is listed in the report and the rest carries on; only a refused
 * SCIM token or a disabled integration (401/403) stops the run early (`aborted`), since every
 * write would fail. Reading failures throw: without both sides there is no plan.
 */
export async function resync(deps: ResyncDeps, options: ResyncRunOptions): Promise<ResyncReport> {
  const started = performance.now();
  const read = await readBothSides(deps, options);
  // Out of scope is, to the plan, as if Keycloak did not have it.
  const input = {
    ...read,
    keycloak: scopeKeycloakSide(read.keycloak, options.provisionScope ?? EVERYTHING),
  };
  const plan = planResync(input, options);
  const run = new Applier(deps, options, plan, input);
  if (!options.dryRun) await run.apply();
  else run.predict();
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
  const readScim = async () => {
    const users: ScimUserView[] = [];
    for await (const user of deps.scim.listUsers()) users.push(scimUserView(user));
    const groups: ScimGroupView[] = [];
    if (options.scope !== 'users') {
      for await (const group of deps.scim.listGroups(undefined, { withMembers: true })) {
        groups.push(scimGroupView(group));
      }
    }
    return { users, groups };
  };
  const readKeycloak = async () => {
    const users: KeycloakUser[] = [];
    // Only the fields the plan reads: a realm's users stay a small part of memory.
    for await (const u of deps.keycloak.users()) {
      users.push({
        id: u.id,
        username: u.username,
        email: u.email,
        firstName: u.firstName,
        lastName: u.lastName,
        enabled: u.enabled,
        serviceAccountClientId: u.serviceAccountClientId,
      });
    }
    const groups: KeycloakGroup[] = [];
    const members = new Map<string, string[]>();
    // Scoping users by group needs the groups and their members even for `--users`.
    if (options.scope !== 'users' || scopesUsers(options.provisionScope ?? EVERYTHING)) {
      for await (const g of deps.keycloak.groups()) {
        groups.push({ id: g.id, name: g.name, path: g.path, parentId: g.parentId });
      }
      await forEachConcurrently(groups, options.concurrency, async (group) => {
        const ids: string[] = [];
        for await (const member of deps.keycloak.groupMembers(group.id)) ids.push(member.id);
        members.set(group.id, ids);
      });
    }
    return { users, groups, members };
  };
  const [scim, keycloak] = await Promise.all([readScim(), readKeycloak()]);
  return {
    keycloak,
    scim,
    idMap: {
      users: deps.store.users().map((u) => ({
        keycloakId: u.keycloakId,
        scimId: u.scimId,
        name: u.userName,
      })),
      groups: deps.store.groups().map((g) => ({
        keycloakId: g.keycloakId,
        scimId: g.scimId,
        name: g.displayName,
        parentId: g.parentId,
      })),
    },
  };
}

/** Id-map writes per SQLite transaction. */
const STORE_BATCH = 200;

const emptyKind = (): KindSummary => ({
  created: 0,
  updated: 0,
  adopted: 0,
  deactivated: 0,
  deleted: 0,
  unchanged: 0,
  failed: 0,
});

/** Applies one plan and keeps its counts. */
class Applier {
  readonly users = emptyKind();
  readonly groups = emptyKind();
  readonly memberships: MembershipSummary;
  readonly failures: ResyncFailure[] = [];

  /** SCIM ids known so far: matched ones from the plan, created ones as they come. */
  private readonly userScimIds: Map<string, string>;
  private readonly groupScimIds = new Map<string, string>();
  private readonly liveUsers: Set<string>;
  private readonly liveGroups: Set<string>;
  /** Set once the SCIM server refused our token or the integration: nothing more can work. */
  private fatal: ScimError | undefined;
  /**
   * Id-map writes not yet committed. One SQLite transaction per batch instead of one synced
   * write per resource: losing a batch to a crash costs nothing, the next run adopts by
   * externalId.
   */
  private pendingStore: (() => void)[] = [];

  constructor(
    private readonly deps: ResyncDeps,
    private readonly options: ResyncRunOptions,
    private readonly plan: ResyncPlan,
    input: ResyncInput,
  ) {
    this.userScimIds = new Map(plan.userScimIds);
    this.liveUsers = new Set(input.keycloak.users.map((u) => u.id));
    this.liveGroups = new Set(input.keycloak.groups.map((g) => g.id));
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
    for (const step of this.plan.groups) this.countGroup(step);
    for (const step of this.plan.users) this.countUser(step);
    for (const step of this.plan.members) {
      this.memberships.added += step.add.length;
      this.memberships.removed += step.remove.length;
    }
    if (!this.plan.guard.blocked) for (const step of this.plan.prune) this.countPrune(step);
  }

  async apply(): Promise<void> {
    const { store } = this.deps;
    store.transaction(() => {
      for (const link of this.plan.links) {
        if (link.kind === 'user') {
          store.putUser({ keycloakId: link.keycloakId, scimId: link.scimId, userName: link.name });
        } else {
          store.putGroup({
            keycloakId: link.keycloakId,
            scimId: link.scimId,
            displayName: link.name,
            parentId: link.parentId,
          });
        }
      }
    });
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
    try {
      await forEachConcurrently(steps, this.options.concurrency, async (step) => {
        if (this.fatal !== undefined) return;
        await apply(step);
        done += 1;
        report?.({ phase, done, total: steps.length });
      });
    } finally {
      this.flushStore();
    }
  }

  private remember(write: () => void): void {
    this.pendingStore.push(write);
    if (this.pendingStore.length >= STORE_BATCH) this.flushStore();
  }

  private flushStore(): void {
    const writes = this.pendingStore;
    this.pendingStore = [];
    if (writes.length === 0) return;
    this.deps.store.transaction(() => {
      for (const write of writes) write();
    });
  }

  // Groups

  private async applyGroup(step: GroupStep): Promise<void> {
    const name = step.desired.displayName;
    try {
      let scimId: string;
      if (step.op === 'create') {
        const created = await this.deps.scim.createGroup(step.desired);
        scimId = created.resource.id;
        if (created.adopted) {
          const owner = created.resource.externalId;
          if (this.ownedByAnother(owner, step.keycloakId, this.liveGroups)) {
            this.fail(
              'group',
              step.keycloakId,
              name,
              `SCIM displayName ${JSON.stringify(name)} already belongs to Keycloak group ${owner ?? ''}`,
            );
            return;
          }
          if (!groupMatches(created.resource, step.desired)) await this.renameGroup(scimId, step);
        }
      } else {
        scimId = step.scimId;
        await this.renameGroup(scimId, step);
      }
      this.remember(() => {
        this.deps.store.putGroup({
          keycloakId: step.keycloakId,
          scimId,
          displayName: name,
          parentId: step.parentId,
        });
      });
      this.groupScimIds.set(step.keycloakId, scimId);
      this.countGroup(step);
    } catch (error) {
      this.failOn(error, 'group', step.keycloakId, name);
    }
  }

  /** PATCH, not PUT: a PUT without `members` would empty the group. */
  private renameGroup(scimId: string, step: GroupStep): Promise<void> {
    return this.deps.scim.patchGroup(scimId, [
      { op: 'replace', path: 'displayName', value: step.desired.displayName },
      { op: 'replace', path: 'externalId', value: step.keycloakId },
    ]);
  }

  private countGroup(step: GroupStep): void {
    if (step.op === 'create') this.groups.created += 1;
    else {
      this.groups.updated += 1;
      if (step.adopted) this.groups.adopted += 1;
    }
  }

  // Users

  private async applyUser(step: UserStep): Promise<void> {
    const name = step.desired.userName;
    try {
      let scimId: string;
      if (step.op === 'create') {
        const created = await this.deps.scim.createUser(step.desired);
        scimId = created.resource.id;
        if (created.adopted) {
          const owner = created.resource.externalId;
          if (this.ownedByAnother(owner, step.keycloakId, this.liveUsers)) {
            this.fail(
              'user',
              step.keycloakId,
              name,
              `SCIM userName ${JSON.stringify(name)} already belongs to Keycloak user ${owner ?? ''}`,
            );
            return;
          }
          if (!userMatches(created.resource, step.desired)) {
            await this.deps.scim.replaceUser(scimId, step.desired);
          }
        }
      } else {
        scimId = step.scimId;
        await this.deps.scim.replaceUser(scimId, step.desired);
      }
      this.remember(() => {
        this.deps.store.putUser({ keycloakId: step.keycloakId, scimId, userName: name });
      });
      this.userScimIds.set(step.keycloakId, scimId);
      this.countUser(step);
    } catch (error) {
      this.failOn(error, 'user', step.keycloakId, name);
    }
  }

  private countUser(step: UserStep): void {
    if (step.op === 'create') this.users.created += 1;
    else {
      this.users.updated += 1;
      if (step.adopted) this.users.adopted += 1;
    }
  }

  // Memberships

  private async applyMembers(step: MemberStep): Promise<void> {
    const groupId = step.groupScimId ?? this.groupScimIds.get(step.groupKeycloakId);
    if (groupId === undefined) {
      // The group's create failed and is listed already; its members cannot follow.
      this.memberships.failed += step.add.length;
      return;
    }
    const add: string[] = [];
    for (const keycloakId of step.add) {
      const scimId = this.userScimIds.get(keycloakId);
      if (scimId === undefined) this.memberships.failed += 1;
      else add.push(scimId);
    }
    try {
      if (add.length > 0) {
        await this.deps.scim.addMembers(groupId, add);
        this.memberships.added += add.length;
      }
    } catch (error) {
      this.memberships.failed += add.length;
      this.failOn(
        error,
        'membership',
        step.groupKeycloakId,
        `${step.displayName} (add ${add.length})`,
      );
    }
    try {
      if (step.remove.length > 0) {
        await this.removeMembers(groupId, step.remove);
        this.memberships.removed += step.remove.length;
      }
    } catch (error) {
      this.memberships.failed += step.remove.length;
      this.failOn(
        error,
        'membership',
        step.groupKeycloakId,
        `${step.displayName} (remove ${step.remove.length})`,
      );
    }
  }

  /** Removing a member who is not there is success: the server may say `noTarget`. */
  private async removeMembers(groupId: string, userIds: readonly string[]): Promise<void> {
    try {
      await this.deps.scim.removeMembers(groupId, userIds);
    } catch (error) {
      if (!(error instanceof ScimError && error.status === 400 && error.scimType === 'noTarget')) {
        throw error;
      }
      // One absent member fails its whole batch (PATCH is atomic): retry them one by one.
      for (const id of userIds) {
        try {
          await this.deps.scim.removeMembers(groupId, [id]);
        } catch (single) {
          if (!(single instanceof ScimError && single.scimType === 'noTarget')) throw single;
        }
      }
    }
  }

  // Prune

  private async applyPrune(step: PruneStep): Promise<void> {
    const { scim, store } = this.deps;
    try {
      if (step.kind === 'group') {
        await scim.deleteGroup(step.scimId);
        this.remember(() => {
          store.forgetGroup(step.externalId);
        });
      } else if (step.op === 'deactivate') {
        await scim.patchUser(step.scimId, [{ op: 'replace', path: 'active', value: false }]);
      } else {
        await scim.deleteUser(step.scimId);
        this.remember(() => {
          store.forgetUser(step.externalId);
        });
      }
      this.deps.logger?.info(
        { scimId: step.scimId, externalId: step.externalId, reason: step.reason },
        `${step.op === 'delete' ? 'deleted' : 'deactivated'} SCIM ${step.kind} ${step.name}`,
      );
      this.countPrune(step);
    } catch (error) {
      this.failOn(error, step.kind, step.scimId, step.name);
    }
  }

  private countPrune(step: PruneStep): void {
    const summary = step.kind === 'user' ? this.users : this.groups;
    if (step.op === 'delete') summary.deleted += 1;
    else summary.deactivated += 1;
  }

  // Shared

  /** A resource adopted on a 409 may carry another live Keycloak entity's id. */
  private ownedByAnother(
    owner: string | undefined,
    keycloakId: string,
    live: ReadonlySet<string>,
  ): boolean {
    return owner !== undefined && owner !== '' && owner !== keycloakId && live.has(owner);
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
