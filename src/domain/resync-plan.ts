import type { GroupDecision, GroupFacts } from './group-plan.js';
import { planGroup } from './group-plan.js';
import type { KeycloakGroup, KeycloakUser } from './keycloak-model.js';
import { toScimGroup, toScimUser, type MappingOptions } from './mapping.js';
import { effectiveGroups, planMembers, type MembershipMode } from './membership.js';
import { ownerOf, type Holder, type Owned } from './ownership.js';
import type { ScimGroupListing, ScimUserView } from './scim-views.js';
import type { FoundBy, ScimSide } from './target-choice.js';
import { planUser, type MoveAside, type UserDecision, type UserFacts } from './user-plan.js';

/** One entry of the relay's id map; `parentId` only for groups. */
export interface IdLink {
  readonly keycloakId: string;
  readonly scimId: string;
  readonly name: string;
  readonly parentId?: string | undefined;
}

/** Everything a resync knows before it writes: both sides and the relay's memory. */
export interface ResyncInput {
  readonly keycloak: {
    /** The users to provision from: the realm's, reduced to the provisioning scope. */
    readonly users: readonly KeycloakUser[];
    /** The group tree, reduced to the provisioning scope. */
    readonly groups: readonly KeycloakGroup[];
    /** Direct members (Keycloak user ids) by Keycloak group id. */
    readonly members: ReadonlyMap<string, readonly string[]>;
    /**
     * Every user and group id of the realm, in scope or not. A SCIM resource of an entity that
     * still exists is never taken over by another, whatever the scope. Defaults to the above.
     */
    readonly allIds?: ReadonlySet<string> | undefined;
  };
  readonly scim: {
    readonly users: readonly ScimUserView[];
    readonly groups: readonly ScimGroupListing[];
  };
  readonly idMap: {
    readonly users: readonly IdLink[];
    readonly groups: readonly IdLink[];
  };
}

/** The mass-deletion guard: over either threshold, nothing is deleted without confirmation. */
export interface DeletionGuard {
  /** Most deletions and deactivations allowed in one run. */
  readonly maxDeletes: number;
  /** Largest share (0..1) of the managed SCIM resources one run may delete or deactivate. */
  readonly maxDeleteShare: number;
}

/**
 * Default mass-deletion guard: a run may delete or deactivate at most this many managed SCIM
 * resources, and at most this share of them, before it needs `--yes`. A Keycloak that answers
 * with an empty realm (a wrong realm name, a lost role) must not empty Kestra.
 */
export const DEFAULT_DELETION_GUARD: DeletionGuard = { maxDeletes: 100, maxDeleteShare: 0.5 };

/** How to plan: mapping and semantics from the configuration, scope and prune from the command. */
export interface ResyncOptions {
  readonly mapping: MappingOptions;
  readonly userDeleteMode: 'delete' | 'deactivate';
  readonly membershipMode: MembershipMode;
  /** `users` leaves groups and memberships alone; `groups` creates no users. */
  readonly scope: 'all' | 'users' | 'groups';
  /** Remove managed SCIM resources (those with an `externalId`) that Keycloak no longer has. */
  readonly prune: boolean;
  readonly guard: DeletionGuard;
  /** The operator said `--yes`: the guard does not hold deletions back. */
  readonly confirmed: boolean;
}

/** A user write: a create, or an update (of the twin, or of a resource adopted). */
export type UserStep = Extract<UserDecision, { op: 'create' | 'update' }>;
/** A group write; groups are created empty, members follow as {@link MemberStep}s. */
export type GroupStep = Extract<GroupDecision, { op: 'create' | 'update' }>;

/** An entity whose SCIM name is held by another one that will free it: applied last. */
export type WaitStep =
  | (Extract<UserDecision, { op: 'wait' }> & { readonly kind: 'user' })
  | (Extract<GroupDecision, { op: 'wait' }> & { readonly kind: 'group' });

/** The member delta of one group. Adds name Keycloak users, whose SCIM id may not exist yet. */
export interface MemberStep {
  readonly groupKeycloakId: string;
  /** Undefined while the group is still to be created. */
  readonly groupScimId: string | undefined;
  readonly displayName: string;
  readonly add: readonly string[];
  /** SCIM user ids. */
  readonly remove: readonly string[];
}

/** A managed SCIM resource that Keycloak no longer has (or no longer provisions). */
export interface PruneStep {
  readonly kind: 'user' | 'group';
  readonly op: 'delete' | 'deactivate';
  readonly scimId: string;
  readonly name: string;
  /** The Keycloak id the resource belongs to. */
  readonly externalId: string;
  readonly reason: string;
}

/** An id-map entry to write without any SCIM write: an identical resource found without it. */
export interface LinkStep extends IdLink {
  readonly kind: 'user' | 'group';
}

/** Something the plan cannot do, named by entity, with why. Counted as a failure. */
export interface PlanProblem {
  readonly kind: 'user' | 'group';
  readonly keycloakId: string;
  readonly name: string;
  readonly reason: string;
  /** The entity's twin still holds a name it no longer wants: renamed out of the way. */
  readonly moveAside?: MoveAside | undefined;
}

/** The guard's verdict on this plan's deletions. */
export interface GuardVerdict {
  /** Deletions and deactivations the plan holds. */
  readonly deletions: number;
  /** Managed (externalId-carrying) SCIM resources in scope, the base of the share. */
  readonly managed: number;
  /** True when the deletions must not run: over a threshold and not confirmed. */
  readonly blocked: boolean;
  /** Why they are blocked, in words an operator can act on. */
  readonly reason: string | undefined;
}

/** The difference between Keycloak and SCIM, as the writes that remove it. */
export interface ResyncPlan {
  readonly groups: readonly GroupStep[];
  readonly users: readonly UserStep[];
  readonly waits: readonly WaitStep[];
  readonly members: readonly MemberStep[];
  readonly prune: readonly PruneStep[];
  readonly links: readonly LinkStep[];
  readonly problems: readonly PlanProblem[];
  readonly unchanged: { readonly users: number; readonly groups: number };
  /** Keycloak memberships left out because their user has no SCIM twin and none is planned. */
  readonly membersSkipped: number;
  /** Keycloak user id to SCIM id for every user matched on the SCIM side. */
  readonly userScimIds: ReadonlyMap<string, string>;
  /** userNames by Keycloak user id and by SCIM user id, to name members in reports. */
  readonly userNames: {
    readonly keycloak: ReadonlyMap<string, string>;
    readonly scim: ReadonlyMap<string, string>;
  };
  readonly guard: GuardVerdict;
}

/**
 * Computes what to write so that SCIM matches Keycloak. Pure: no I/O, same input, same plan.
 *
 * Each entity is decided by {@link planUser} or {@link planGroup}, the same functions the
 * event path calls for one hint, on the slice of both sides this listing gives it. Pruning is
 * the decision for an entity that Keycloak no longer has (or no longer provisions) and whose
 * managed SCIM resource is still there; the guard then decides whether it may run.
 */
export function planResync(input: ResyncInput, options: ResyncOptions): ResyncPlan {
  const allIds =
    input.keycloak.allIds ??
    new Set([...input.keycloak.users.map((u) => u.id), ...input.keycloak.groups.map((g) => g.id)]);
  const users = planUsers(input, options, allIds);
  const groups = options.scope === 'users' ? undefined : planGroups(input, options, allIds);

  const problems = [
    ...(options.scope === 'groups' ? [] : users.problems),
    ...(groups?.problems ?? []),
  ];
  const pruneUsers = options.prune && options.scope !== 'groups' ? users.prune : [];
  const pruneGroups = options.prune && groups !== undefined ? groups.prune : [];
  const prune = [...pruneUsers, ...pruneGroups];

  const deletedUserScimIds = new Set(
    pruneUsers.filter((step) => step.op === 'delete').map((step) => step.scimId),
  );
  const members =
    groups === undefined
      ? { steps: [], skipped: 0 }
      : planAllMembers(input, options, users, groups, deletedUserScimIds);

  const managed =
    (options.scope === 'groups' ? 0 : users.managed) + (groups === undefined ? 0 : groups.managed);
  return {
    groups: groups?.steps ?? [],
    users: options.scope === 'groups' ? [] : users.steps,
    waits: [...(options.scope === 'groups' ? [] : users.waits), ...(groups?.waits ?? [])],
    members: members.steps,
    prune,
    links: [...(options.scope === 'groups' ? [] : users.links), ...(groups?.links ?? [])],
    problems,
    unchanged: {
      users: options.scope === 'groups' ? 0 : users.unchanged,
      groups: groups?.unchanged ?? 0,
    },
    membersSkipped: members.skipped,
    userScimIds: users.scimIdOf,
    userNames: {
      keycloak: new Map(input.keycloak.users.map((u) => [u.id, u.username])),
      scim: new Map(input.scim.users.map((u) => [u.id, u.userName])),
    },
    guard: judgeDeletions(prune.length, managed, options),
  };
}

/** Blocked when over the count or the share, unless confirmed; the reason says which. */
export function judgeDeletions(
  deletions: number,
  managed: number,
  options: Pick<ResyncOptions, 'guard' | 'confirmed'>,
): GuardVerdict {
  const { maxDeletes, maxDeleteShare } = options.guard;
  const share = managed === 0 ? 0 : deletions / managed;
  const reasons: string[] = [];
  if (deletions > maxDeletes) {
    reasons.push(`${deletions} deletions exceed the limit of ${maxDeletes}`);
  }
  if (deletions > 0 && share > maxDeleteShare) {
    reasons.push(
      `${deletions} of ${managed} managed SCIM resources (${percent(share)}) exceed the limit of ${percent(maxDeleteShare)}`,
    );
  }
  const over = reasons.length > 0;
  return {
    deletions,
    managed,
    blocked: over && !options.confirmed,
    reason: over
      ? `${reasons.join('; ')}${options.confirmed ? ' (confirmed with --yes)' : '; nothing is deleted without --yes'}`
      : undefined,
  };
}

// Both kinds: one index of a SCIM listing answers the questions the facts ask.

/**
 * A SCIM listing indexed the way the relay looks resources up one at a time: by the id map,
 * by `externalId`, by name (case-insensitively).
 */
class SideIndex<R extends Owned> {
  private readonly byId = new Map<string, R>();
  /** One resource, or more when a server holds duplicates: no array per resource. */
  private readonly byExternalId = new Map<string, R | R[]>();
  private readonly byName = new Map<string, R>();
  private readonly mappedTo = new Map<string, string>();
  private readonly linkOf = new Map<string, IdLink>();

  constructor(
    resources: readonly R[],
    links: readonly IdLink[],
    private readonly nameOf: (resource: R) => string,
  ) {
    for (const resource of resources) {
      this.byId.set(resource.id, resource);
      const { externalId } = resource;
      if (externalId !== undefined && externalId !== '') {
        const same = this.byExternalId.get(externalId);
        if (same === undefined) this.byExternalId.set(externalId, resource);
        else if (Array.isArray(same)) same.push(resource);
        else this.byExternalId.set(externalId, [same, resource]);
      }
      const name = nameOf(resource).toLowerCase();
      if (!this.byName.has(name)) this.byName.set(name, resource);
    }
    for (const link of links) {
      this.linkOf.set(link.keycloakId, link);
      if (this.byId.has(link.scimId)) this.mappedTo.set(link.scimId, link.keycloakId);
    }
  }

  link(keycloakId: string): IdLink | undefined {
    return this.linkOf.get(keycloakId);
  }

  owner(resource: R): string | undefined {
    return ownerOf(resource, this.mappedTo.get(resource.id));
  }

  /** The entity's own resource, as the event path would find it: id map, then externalId. */
  twin(keycloakId: string): { resource: R; foundBy: FoundBy } | undefined {
    const link = this.linkOf.get(keycloakId);
    const mapped = link === undefined ? undefined : this.byId.get(link.scimId);
    if (mapped !== undefined) return { resource: mapped, foundBy: 'id map' };
    const carriers = this.byExternalId.get(keycloakId);
    const carrier = (
      Array.isArray(carriers) ? carriers : carriers === undefined ? [] : [carriers]
    ).find((r) => this.owner(r) === keycloakId);
    return carrier === undefined ? undefined : { resource: carrier, foundBy: 'externalId' };
  }

  holder(
    name: string,
    twinId: string | undefined,
    facts: {
      readonly live: (id: string) => boolean;
      readonly wants: (id: string) => string | undefined;
    },
  ): Holder<R> | undefined {
    const resource = this.byName.get(name.toLowerCase());
    if (resource === undefined || resource.id === twinId) return undefined;
    const owner = this.owner(resource);
    return {
      resource,
      owner,
      ownerLive: owner !== undefined && facts.live(owner),
      ownersTwin: owner !== undefined && this.twin(owner)?.resource.id === resource.id,
      ownerWants: owner === undefined ? undefined : facts.wants(owner),
    };
  }

  /** Every resource with an owner, with that owner. */
  *managed(): Generator<{ resource: R; owner: string }> {
    for (const resource of this.byId.values()) {
      const owner = this.owner(resource);
      if (owner !== undefined) yield { resource, owner };
    }
  }
}

/**
 * The SCIM name each entity wants. A second entity wanting a name already wanted is refused
 * here, since neither may have a twin yet to tell them apart; it still wants the name, which
 * is what makes the name taken for the others.
 */
function claimNames<E extends { readonly id: string }>(
  entities: readonly E[],
  nameOf: (entity: E) => string | undefined,
  refuse: (entity: E, name: string, holder: string) => void,
): Map<string, string> {
  const wants = new Map<string, string>();
  const holders = new Map<string, string>();
  for (const entity of entities) {
    const name = nameOf(entity);
    if (name === undefined) continue;
    wants.set(entity.id, name);
    const holder = holders.get(name.toLowerCase());
    if (holder === undefined) holders.set(name.toLowerCase(), entity.id);
    else refuse(entity, name, holder);
  }
  return wants;
}

/** Why a managed SCIM resource's owner, a live Keycloak entity, is left out of the plan. */
const OUT_OF_SCOPE = 'outside the provisioning scope (SCOPE_GROUPS, SCOPE_GROUP_PATH)';

// Users

interface UserPlan {
  readonly steps: UserStep[];
  readonly waits: WaitStep[];
  readonly prune: PruneStep[];
  readonly links: LinkStep[];
  readonly problems: PlanProblem[];
  unchanged: number;
  managed: number;
  /** Every provisioned Keycloak user with a SCIM twin, whether or not it gets written. */
  readonly scimIdOf: Map<string, string>;
  /** Provisioned Keycloak users whose SCIM twin is still to be created. */
  readonly pending: Set<string>;
  /** Keycloak ids of users that are provisioned (wanted, mapped, not refused). */
  readonly desired: Set<string>;
  /**
   * Users that cannot be provisioned now but have a twin, by Keycloak id and SCIM id: their
   * memberships are left as they are until the problem is solved, as the event path leaves
   * them (it parks the user's work).
   */
  readonly frozen: Set<string>;
}

function planUsers(
  input: ResyncInput,
  options: ResyncOptions,
  allIds: ReadonlySet<string>,
): UserPlan {
  const index = new SideIndex(input.scim.users, input.idMap.users, (u) => u.userName);
  const plan: UserPlan = {
    steps: [],
    waits: [],
    prune: [],
    links: [],
    problems: [],
    unchanged: 0,
    managed: 0,
    scimIdOf: new Map(),
    pending: new Set(),
    desired: new Set(),
    frozen: new Set(),
  };
  const refused = new Set<string>();
  const wants = claimNames(
    input.keycloak.users,
    (user) => {
      if (user.serviceAccountClientId !== undefined) return undefined;
      const mapped = toScimUser(user, options.mapping);
      return mapped.ok ? mapped.resource.userName : undefined;
    },
    (user, name, holder) => {
      refused.add(user.id);
      plan.problems.push({
        kind: 'user',
        keycloakId: user.id,
        name: user.username,
        reason: `SCIM userName ${JSON.stringify(name)} is also Keycloak user ${holder}'s`,
      });
    },
  );
  plan.managed = forEachSlice(input.keycloak.users, index, wants, refused, allIds, (user, side) => {
    const facts: UserFacts = { ...side, user };
    recordUser(plan, planUser(facts, options), facts, index);
  });
  return plan;
}

function recordUser(
  plan: UserPlan,
  decision: UserDecision,
  facts: UserFacts,
  index: SideIndex<ScimUserView>,
): void {
  const { keycloakId } = decision;
  switch (decision.op) {
    case 'none':
      if (!decision.provisioned) return;
      plan.unchanged += 1;
      plan.desired.add(keycloakId);
      if (decision.scimId !== undefined) plan.scimIdOf.set(keycloakId, decision.scimId);
      if (decision.scimId !== undefined && decision.userName !== undefined) {
        const link = index.link(keycloakId);
        if (decision.relink || link?.name !== decision.userName) {
          plan.links.push({
            kind: 'user',
            keycloakId,
            scimId: decision.scimId,
            name: decision.userName,
          });
        }
      }
      return;
    case 'create':
      plan.desired.add(keycloakId);
      plan.pending.add(keycloakId);
      plan.steps.push(decision);
      return;
    case 'update':
      plan.desired.add(keycloakId);
      plan.scimIdOf.set(keycloakId, decision.scimId);
      plan.steps.push(decision);
      return;
    case 'wait':
      plan.desired.add(keycloakId);
      if (facts.twin !== undefined) plan.scimIdOf.set(keycloakId, facts.twin.id);
      plan.waits.push({ ...decision, kind: 'user' });
      return;
    case 'deprovision':
      plan.prune.push({
        kind: 'user',
        op: decision.how,
        scimId: decision.scimId,
        name: decision.userName,
        externalId: keycloakId,
        reason: decision.reason,
      });
      return;
    case 'problem':
      if (facts.twin !== undefined) {
        plan.frozen.add(keycloakId);
        plan.frozen.add(facts.twin.id);
      }
      plan.problems.push({
        kind: 'user',
        keycloakId,
        name: decision.userName,
        reason: decision.reason,
        moveAside: decision.moveAside,
      });
      return;
  }
}

// Groups

interface GroupPlan {
  readonly steps: GroupStep[];
  readonly waits: WaitStep[];
  readonly prune: PruneStep[];
  readonly links: LinkStep[];
  readonly problems: PlanProblem[];
  unchanged: number;
  managed: number;
  /** Keycloak group id to the SCIM group it writes to, and that group's current members. */
  readonly targets: Map<
    string,
    { scimId: string | undefined; displayName: string; memberIds: readonly string[] }
  >;
}

function planGroups(
  input: ResyncInput,
  options: ResyncOptions,
  allIds: ReadonlySet<string>,
): GroupPlan {
  const index = new SideIndex(input.scim.groups, input.idMap.groups, (g) => g.displayName);
  const plan: GroupPlan = {
    steps: [],
    waits: [],
    prune: [],
    links: [],
    problems: [],
    unchanged: 0,
    managed: 0,
    targets: new Map(),
  };
  const refused = new Set<string>();
  const wants = claimNames(
    input.keycloak.groups,
    (group) => toScimGroup(group, options.mapping).displayName,
    (group, name, holder) => {
      refused.add(group.id);
      plan.problems.push({
        kind: 'group',
        keycloakId: group.id,
        name: group.path,
        reason: `SCIM displayName ${JSON.stringify(name)} is also Keycloak group ${holder}'s (GROUP_NAME_SOURCE=path keeps same-named groups apart)`,
      });
    },
  );
  const listing = new Map(input.scim.groups.map((g) => [g.id, g]));
  const membersOf = (scimId: string | undefined): readonly string[] =>
    scimId === undefined ? [] : (listing.get(scimId)?.memberIds ?? []);

  const decide = (facts: GroupFacts): void => {
    const decision = planGroup(facts, options);
    const { keycloakId } = decision;
    switch (decision.op) {
      case 'none':
        if (!decision.provisioned || decision.scimId === undefined) return;
        plan.unchanged += 1;
        plan.targets.set(keycloakId, {
          scimId: decision.scimId,
          displayName: decision.displayName ?? '',
          memberIds: membersOf(decision.scimId),
        });
        if (decision.displayName !== undefined) {
          const link = index.link(keycloakId);
          if (
            decision.relink ||
            link?.name !== decision.displayName ||
            link.parentId !== decision.parentId
          ) {
            plan.links.push({
              kind: 'group',
              keycloakId,
              scimId: decision.scimId,
              name: decision.displayName,
              parentId: decision.parentId,
            });
          }
        }
        return;
      case 'create':
        plan.targets.set(keycloakId, {
          scimId: undefined,
          displayName: decision.desired.displayName,
          memberIds: [],
        });
        plan.steps.push(decision);
        return;
      case 'update':
        plan.targets.set(keycloakId, {
          scimId: decision.scimId,
          displayName: decision.desired.displayName,
          memberIds: membersOf(decision.scimId),
        });
        plan.steps.push(decision);
        return;
      case 'wait':
        if (facts.twin !== undefined) {
          plan.targets.set(keycloakId, {
            scimId: facts.twin.id,
            displayName: decision.displayName,
            memberIds: membersOf(facts.twin.id),
          });
        }
        plan.waits.push({ ...decision, kind: 'group' });
        return;
      case 'deprovision':
        plan.prune.push({
          kind: 'group',
          op: 'delete',
          scimId: decision.scimId,
          name: decision.displayName,
          externalId: keycloakId,
          reason: decision.reason,
        });
        return;
      case 'problem':
        plan.problems.push({
          kind: 'group',
          keycloakId,
          name: decision.displayName,
          reason: decision.reason,
          moveAside: decision.moveAside,
        });
        return;
    }
  };

  plan.managed = forEachSlice(
    input.keycloak.groups,
    index,
    wants,
    refused,
    allIds,
    (group, side) => {
      decide({ ...side, group });
    },
  );
  return plan;
}

/**
 * Each entity's slice of both sides, as the event path would read it for that entity: every
 * listed entity (but those refused a name), then the owner of every managed resource the
 * listing lacks (deleted, or out of scope), whose twins and strays are deprovisioned. Returns
 * how many managed resources there are, the base of the deletion guard's share.
 */
function forEachSlice<E extends { readonly id: string }, R extends Owned>(
  entities: readonly E[],
  index: SideIndex<R>,
  wants: ReadonlyMap<string, string>,
  refused: ReadonlySet<string>,
  allIds: ReadonlySet<string>,
  decide: (
    entity: E | undefined,
    side: ScimSide<R> & { readonly keycloakId: string; readonly outOfScope: string | undefined },
  ) => void,
): number {
  const owners = { live: (id: string) => allIds.has(id), wants: (id: string) => wants.get(id) };
  const decidedTwins = new Set<string>();
  const listed = new Set<string>();
  for (const entity of entities) {
    listed.add(entity.id);
    if (refused.has(entity.id)) continue;
    const twin = index.twin(entity.id);
    const wanted = wants.get(entity.id);
    if (twin !== undefined) decidedTwins.add(twin.resource.id);
    decide(entity, {
      keycloakId: entity.id,
      outOfScope: undefined,
      twin: twin?.resource,
      twinFoundBy: twin?.foundBy,
      holder: wanted === undefined ? undefined : index.holder(wanted, twin?.resource.id, owners),
    });
  }
  let managed = 0;
  for (const { resource, owner } of index.managed()) {
    managed += 1;
    if (decidedTwins.has(resource.id) || listed.has(owner)) continue;
    decide(undefined, {
      keycloakId: owner,
      outOfScope: allIds.has(owner) ? OUT_OF_SCOPE : undefined,
      twin: resource,
      twinFoundBy: 'externalId',
      holder: undefined,
    });
  }
  return managed;
}

// Memberships

function planAllMembers(
  input: ResyncInput,
  options: ResyncOptions,
  users: UserPlan,
  groups: GroupPlan,
  deletedUserScimIds: ReadonlySet<string>,
): { steps: MemberStep[]; skipped: number } {
  const wantedIn = membersWanted(input, options.membershipMode);
  // Users created in this run exist only under `all`; `groups` alone creates none.
  const canCreateUsers = options.scope === 'all';

  const keycloakIdOf = new Map([...users.scimIdOf].map(([k, s]) => [s, k]));
  const steps: MemberStep[] = [];
  let skipped = 0;
  for (const group of input.keycloak.groups) {
    const target = groups.targets.get(group.id);
    if (target === undefined) continue;
    const desired = new Set<string>();
    const toCreate: string[] = [];
    for (const keycloakId of wantedIn.get(group.id) ?? []) {
      if (!users.desired.has(keycloakId) || users.frozen.has(keycloakId)) continue;
      const scimId = users.scimIdOf.get(keycloakId);
      if (scimId !== undefined) desired.add(scimId);
      else if (canCreateUsers && users.pending.has(keycloakId)) toCreate.push(keycloakId);
      else skipped += 1;
    }
    const current = new Set(
      target.memberIds.filter((id) => !deletedUserScimIds.has(id) && !users.frozen.has(id)),
    );
    const delta = planMembers(desired, current);
    const add = [...delta.add.map((scimId) => keycloakIdOf.get(scimId) ?? scimId), ...toCreate];
    if (add.length > 0 || delta.remove.length > 0) {
      steps.push({
        groupKeycloakId: group.id,
        groupScimId: target.scimId,
        displayName: target.displayName,
        add,
        remove: delta.remove,
      });
    }
  }
  return { steps, skipped };
}

/**
 * Who belongs in each group, by Keycloak user id: the same rule as the event path's. With
 * direct memberships, that is the listing itself, which is not copied: at 500,000 memberships
 * the copy, and the user-to-groups index it is built from, held some 15 MB at the plan's peak.
 */
function membersWanted(
  input: ResyncInput,
  mode: MembershipMode,
): ReadonlyMap<string, readonly string[]> {
  if (mode === 'direct') return input.keycloak.members;
  const parentOf = new Map(input.keycloak.groups.map((g) => [g.id, g.parentId]));
  const directOf = new Map<string, string[]>();
  for (const [groupId, members] of input.keycloak.members) {
    for (const userId of members) {
      const groups = directOf.get(userId);
      if (groups === undefined) directOf.set(userId, [groupId]);
      else groups.push(groupId);
    }
  }
  const wantedIn = new Map<string, string[]>();
  for (const [userId, direct] of directOf) {
    for (const groupId of effectiveGroups(direct, (id) => parentOf.get(id), mode)) {
      const members = wantedIn.get(groupId);
      if (members === undefined) wantedIn.set(groupId, [userId]);
      else members.push(userId);
    }
  }
  return wantedIn;
}

function percent(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}
