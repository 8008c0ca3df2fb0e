import type { ScimGroup, ScimGroupInput, ScimUser, ScimUserInput } from '../scim/scim-types.js';
import type { KeycloakGroup, KeycloakUser } from './keycloak-model.js';
import {
  groupMatches,
  toScimGroup,
  toScimUser,
  userMatches,
  type MappingOptions,
} from './mapping.js';

/** A user as a SCIM listing returns it, reduced to what the plan compares. */
export type ScimUserView = Pick<
  ScimUser,
  'id' | 'userName' | 'externalId' | 'name' | 'emails' | 'active'
>;

/** A group as a SCIM listing returns it (with its member ids), reduced to what the plan reads. */
export interface ScimGroupView {
  readonly id: string;
  readonly displayName: string;
  readonly externalId?: string;
  /** SCIM user ids. */
  readonly memberIds: readonly string[];
}

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
    /** Every user of the realm, service accounts included (they are excluded here). */
    readonly users: readonly KeycloakUser[];
    /** The whole group tree. */
    readonly groups: readonly KeycloakGroup[];
    /** Direct members (Keycloak user ids) by Keycloak group id. */
    readonly members: ReadonlyMap<string, readonly string[]>;
  };
  readonly scim: {
    readonly users: readonly ScimUserView[];
    readonly groups: readonly ScimGroupView[];
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

/** How to plan: mapping and semantics from the configuration, scope and prune from the command. */
export interface ResyncOptions {
  readonly mapping: MappingOptions;
  readonly userDeleteMode: 'delete' | 'deactivate';
  readonly membershipMode: 'direct' | 'inherited';
  /** `users` leaves groups and memberships alone; `groups` creates no users. */
  readonly scope: 'all' | 'users' | 'groups';
  /** Remove managed SCIM resources (those with an `externalId`) that Keycloak no longer has. */
  readonly prune: boolean;
  readonly guard: DeletionGuard;
  /** The operator said `--yes`: the guard does not hold deletions back. */
  readonly confirmed: boolean;
}

/** A user write. `adopted`: the SCIM user was found by externalId or name, not the id map. */
export type UserStep =
  | { readonly op: 'create'; readonly keycloakId: string; readonly desired: ScimUserInput }
  | {
      readonly op: 'update';
      readonly keycloakId: string;
      readonly scimId: string;
      readonly desired: ScimUserInput;
      readonly adopted: boolean;
    };

/** A group write; groups are created empty, members follow as {@link MemberStep}s. */
export type GroupStep =
  | {
      readonly op: 'create';
      readonly keycloakId: string;
      readonly parentId: string | undefined;
      readonly desired: ScimGroupInput;
    }
  | {
      readonly op: 'update';
      readonly keycloakId: string;
      readonly parentId: string | undefined;
      readonly scimId: string;
      readonly desired: ScimGroupInput;
      readonly adopted: boolean;
    };

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
  readonly externalId: string;
  readonly reason: string;
}

/** An id-map entry to write without any SCIM write: an adoption of an identical resource. */
export interface LinkStep extends IdLink {
  readonly kind: 'user' | 'group';
}

/** Something the plan cannot do, named by entity, with why. Counted as a failure. */
export interface PlanProblem {
  readonly kind: 'user' | 'group';
  readonly keycloakId: string;
  readonly name: string;
  readonly reason: string;
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
 * Each Keycloak entity is matched to at most one SCIM resource: through the id map, then
 * `externalId`, then `userName` (case-insensitive) or `displayName`. A resource found by name
 * is adopted only when its `externalId` is empty or names no live Keycloak entity, as the
 * reconciler does. Pruning only ever considers resources with an `externalId` that no desired
 * entity claimed; the guard then decides whether those deletions may run.
 */
export function planResync(input: ResyncInput, options: ResyncOptions): ResyncPlan {
  const userProblems: PlanProblem[] = [];
  const groupProblems: PlanProblem[] = [];
  const links: LinkStep[] = [];

  // Users are matched under every scope: memberships need their SCIM ids.
  const users = planUsers(input, options, userProblems, links);
  const groups =
    options.scope === 'users' ? emptyGroupPlan() : planGroups(input, options, groupProblems, links);
  const problems = [...(options.scope === 'groups' ? [] : userProblems), ...groupProblems];

  const pruneUsers = options.prune && options.scope !== 'groups' ? users.prune : [];
  const pruneGroups = options.prune && options.scope !== 'users' ? groups.prune : [];
  const prune = [...pruneUsers, ...pruneGroups];

  const deletedUserScimIds = new Set(
    pruneUsers.filter((step) => step.op === 'delete').map((step) => step.scimId),
  );
  const members =
    options.scope === 'users'
      ? { steps: [], skipped: 0 }
      : planMembers(input, options, users, groups, deletedUserScimIds);

  const managed =
    (options.scope === 'groups' ? 0 : users.managed) +
    (options.scope === 'users' ? 0 : groups.managed);
  return {
    groups: options.scope === 'users' ? [] : groups.steps,
    users: options.scope === 'groups' ? [] : users.steps,
    members: members.steps,
    prune,
    links,
    problems,
    unchanged: {
      users: options.scope === 'groups' ? 0 : users.unchanged,
      groups: options.scope === 'users' ? 0 : groups.unchanged,
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

// Users

interface UserPlan {
  readonly steps: UserStep[];
  readonly prune: PruneStep[];
  readonly unchanged: number;
  readonly managed: number;
  /** Every desired Keycloak user with a SCIM twin, whether or not it gets written. */
  readonly scimIdOf: Map<string, string>;
  /** Desired Keycloak users whose SCIM twin is still to be created. */
  readonly pending: Set<string>;
  /** Keycloak ids of users that are provisioned (desired and mappable). */
  readonly desired: Set<string>;
}

function planUsers(
  input: ResyncInput,
  options: ResyncOptions,
  problems: PlanProblem[],
  links: LinkStep[],
): UserPlan {
  const scimUsers = new Map(input.scim.users.map((u) => [u.id, u]));
  const live = new Set(input.keycloak.users.map((u) => u.id));
  const mapped = new Map(input.idMap.users.map((link) => [link.keycloakId, link]));

  const wanted: { user: KeycloakUser; desired: ScimUserInput }[] = [];
  const reasonsNotWanted = new Map<string, string>();
  const names = new Map<string, string>();
  for (const user of input.keycloak.users) {
    if (user.serviceAccountClientId !== undefined) {
      reasonsNotWanted.set(user.id, `service account of client ${user.serviceAccountClientId}`);
      continue;
    }
    const mapping = toScimUser(user, options.mapping);
    if (!mapping.ok) {
      problems.push({
        kind: 'user',
        keycloakId: user.id,
        name: user.username,
        reason: mapping.reason,
      });
      continue;
    }
    const key = mapping.resource.userName.toLowerCase();
    const holder = names.get(key);
    if (holder !== undefined) {
      problems.push({
        kind: 'user',
        keycloakId: user.id,
        name: user.username,
        reason: `SCIM userName ${JSON.stringify(mapping.resource.userName)} is also Keycloak user ${holder}'s`,
      });
      continue;
    }
    names.set(key, user.id);
    wanted.push({ user, desired: mapping.resource });
  }

  const matcher = new Matcher(
    input.scim.users,
    (u) => u.userName,
    (id) => live.has(id),
  );
  const claims = matcher.claimStrong(
    wanted.map(({ user }) => ({ keycloakId: user.id, knownScimId: mapped.get(user.id)?.scimId })),
    (id) => scimUsers.has(id),
  );

  const steps: UserStep[] = [];
  const scimIdOf = new Map<string, string>();
  const pending = new Set<string>();
  let unchanged = 0;
  for (const { user, desired } of wanted) {
    const claim = claims.get(user.id) ?? matcher.claimByName(user.id, desired.userName);
    if (typeof claim === 'string') {
      problems.push({ kind: 'user', keycloakId: user.id, name: desired.userName, reason: claim });
      continue;
    }
    if (claim === undefined) {
      steps.push({ op: 'create', keycloakId: user.id, desired });
      pending.add(user.id);
      continue;
    }
    const current = scimUsers.get(claim.scimId);
    if (current === undefined) continue;
    scimIdOf.set(user.id, current.id);
    if (userMatches(current, desired)) {
      unchanged += 1;
      const link = mapped.get(user.id);
      if (link?.scimId !== current.id || link.name !== desired.userName) {
        links.push({
          kind: 'user',
          keycloakId: user.id,
          scimId: current.id,
          name: desired.userName,
        });
      }
    } else {
      steps.push({
        op: 'update',
        keycloakId: user.id,
        scimId: current.id,
        desired,
        adopted: claim.how !== 'id map',
      });
    }
  }

  const prune: PruneStep[] = [];
  let managed = 0;
  for (const user of input.scim.users) {
    if (!isManaged(user.externalId)) continue;
    managed += 1;
    if (matcher.isClaimed(user.id)) continue;
    // A second SCIM twin of a live, provisioned Keycloak user is left for a person to sort out.
    if (live.has(user.externalId) && !reasonsNotWanted.has(user.externalId)) continue;
    const reason = reasonsNotWanted.get(user.externalId) ?? 'gone from Keycloak';
    if (options.userDeleteMode === 'deactivate') {
      if (user.active === false) continue;
      prune.push({
        kind: 'user',
        op: 'deactivate',
        scimId: user.id,
        name: user.userName,
        externalId: user.externalId,
        reason,
      });
    } else {
      prune.push({
        kind: 'user',
        op: 'delete',
        scimId: user.id,
        name: user.userName,
        externalId: user.externalId,
        reason,
      });
    }
  }

  return {
    steps,
    prune,
    unchanged,
    managed,
    scimIdOf,
    pending,
    desired: new Set(wanted.map(({ user }) => user.id)),
  };
}

// Groups

interface GroupPlan {
  readonly steps: GroupStep[];
  readonly prune: PruneStep[];
  readonly unchanged: number;
  readonly managed: number;
  /** Keycloak group id to its SCIM twin, for groups matched on the SCIM side. */
  readonly matched: Map<string, ScimGroupView>;
  /** Keycloak group id to the displayName it must have, for every group provisioned. */
  readonly displayNames: Map<string, string>;
}

function emptyGroupPlan(): GroupPlan {
  return {
    steps: [],
    prune: [],
    unchanged: 0,
    managed: 0,
    matched: new Map(),
    displayNames: new Map(),
  };
}

function planGroups(
  input: ResyncInput,
  options: ResyncOptions,
  problems: PlanProblem[],
  links: LinkStep[],
): GroupPlan {
  const scimGroups = new Map(input.scim.groups.map((g) => [g.id, g]));
  const live = new Set(input.keycloak.groups.map((g) => g.id));
  const mapped = new Map(input.idMap.groups.map((link) => [link.keycloakId, link]));

  const wanted: { group: KeycloakGroup; desired: ScimGroupInput }[] = [];
  const names = new Map<string, string>();
  for (const group of input.keycloak.groups) {
    const desired = toScimGroup(group, options.mapping);
    const key = desired.displayName.toLowerCase();
    const holder = names.get(key);
    if (holder !== undefined) {
      problems.push({
        kind: 'group',
        keycloakId: group.id,
        name: group.path,
        reason: `SCIM displayName ${JSON.stringify(desired.displayName)} is also Keycloak group ${holder}'s (GROUP_NAME_SOURCE=path keeps same-named groups apart)`,
      });
      continue;
    }
    names.set(key, group.id);
    wanted.push({ group, desired });
  }

  const matcher = new Matcher(
    input.scim.groups,
    (g) => g.displayName,
    (id) => live.has(id),
  );
  const claims = matcher.claimStrong(
    wanted.map(({ group }) => ({
      keycloakId: group.id,
      knownScimId: mapped.get(group.id)?.scimId,
    })),
    (id) => scimGroups.has(id),
  );

  const steps: GroupStep[] = [];
  const matched = new Map<string, ScimGroupView>();
  const displayNames = new Map<string, string>();
  let unchanged = 0;
  for (const { group, desired } of wanted) {
    const claim = claims.get(group.id) ?? matcher.claimByName(group.id, desired.displayName);
    if (typeof claim === 'string') {
      problems.push({
        kind: 'group',
        keycloakId: group.id,
        name: desired.displayName,
        reason: claim,
      });
      continue;
    }
    displayNames.set(group.id, desired.displayName);
    if (claim === undefined) {
      steps.push({
        op: 'create',
        keycloakId: group.id,
        parentId: group.parentId,
        desired,
      });
      continue;
    }
    const current = scimGroups.get(claim.scimId);
    if (current === undefined) continue;
    matched.set(group.id, current);
    if (groupMatches(current, desired)) {
      unchanged += 1;
      const link = mapped.get(group.id);
      if (
        link?.scimId !== current.id ||
        link.name !== desired.displayName ||
        link.parentId !== group.parentId
      ) {
        links.push({
          kind: 'group',
          keycloakId: group.id,
          scimId: current.id,
          name: desired.displayName,
          parentId: group.parentId,
        });
      }
    } else {
      steps.push({
        op: 'update',
        keycloakId: group.id,
        parentId: group.parentId,
        scimId: current.id,
        desired,
        adopted: claim.how !== 'id map',
      });
    }
  }

  const prune: PruneStep[] = [];
  let managed = 0;
  for (const group of input.scim.groups) {
    if (!isManaged(group.externalId)) continue;
    managed += 1;
    if (matcher.isClaimed(group.id) || live.has(group.externalId)) continue;
    prune.push({
      kind: 'group',
      op: 'delete',
      scimId: group.id,
      name: group.displayName,
      externalId: group.externalId,
      reason: 'gone from Keycloak',
    });
  }
  return { steps, prune, unchanged, managed, matched, displayNames };
}

// Memberships

function planMembers(
  input: ResyncInput,
  options: ResyncOptions,
  users: UserPlan,
  groups: GroupPlan,
  deletedUserScimIds: ReadonlySet<string>,
): { steps: MemberStep[]; skipped: number } {
  const desiredMembers =
    options.membershipMode === 'inherited'
      ? inheritedMembers(input.keycloak.groups, input.keycloak.members)
      : input.keycloak.members;
  // Users created in this run exist only under `all`; `groups` alone creates none.
  const canCreateUsers = options.scope === 'all';

  const steps: MemberStep[] = [];
  let skipped = 0;
  for (const group of input.keycloak.groups) {
    const displayName = groups.displayNames.get(group.id);
    if (displayName === undefined) continue;
    const current = groups.matched.get(group.id);
    const currentIds = new Set(current?.memberIds ?? []);
    const keep = new Set<string>();
    const add: string[] = [];
    for (const keycloakId of desiredMembers.get(group.id) ?? []) {
      if (!users.desired.has(keycloakId)) continue;
      const scimId = users.scimIdOf.get(keycloakId);
      if (scimId !== undefined) {
        keep.add(scimId);
        if (!currentIds.has(scimId)) add.push(keycloakId);
      } else if (canCreateUsers && users.pending.has(keycloakId)) {
        add.push(keycloakId);
      } else {
        skipped += 1;
      }
    }
    const remove = [...currentIds].filter(
      (scimId) => !keep.has(scimId) && !deletedUserScimIds.has(scimId),
    );
    if (add.length > 0 || remove.length > 0) {
      steps.push({ groupKeycloakId: group.id, groupScimId: current?.id, displayName, add, remove });
    }
  }
  return { steps, skipped };
}

/** Each group's members plus those of every group below it. */
function inheritedMembers(
  groups: readonly KeycloakGroup[],
  direct: ReadonlyMap<string, readonly string[]>,
): Map<string, string[]> {
  const children = new Map<string, string[]>();
  for (const group of groups) {
    if (group.parentId === undefined) continue;
    const siblings = children.get(group.parentId);
    if (siblings === undefined) children.set(group.parentId, [group.id]);
    else siblings.push(group.id);
  }
  const result = new Map<string, string[]>();
  const collect = (id: string, seen: Set<string>): Set<string> => {
    const members = new Set(direct.get(id) ?? []);
    for (const child of children.get(id) ?? []) {
      // A corrupt tree must not loop forever.
      if (seen.has(child)) continue;
      seen.add(child);
      for (const member of collect(child, seen)) members.add(member);
    }
    return members;
  };
  for (const group of groups) result.set(group.id, [...collect(group.id, new Set([group.id]))]);
  return result;
}

// Matching

type Claim = { readonly scimId: string; readonly how: 'id map' | 'externalId' | 'name' };

/**
 * Hands each SCIM resource to at most one Keycloak entity. Strong claims (id map, externalId)
 * go first for everyone, so a name match can never take a resource another entity owns.
 */
class Matcher<R extends { readonly id: string; readonly externalId?: string | undefined }> {
  private readonly claimed = new Set<string>();
  private readonly byExternalId = new Map<string, R>();
  private readonly byName = new Map<string, R>();

  constructor(
    resources: readonly R[],
    private readonly nameOf: (resource: R) => string,
    private readonly isLive: (keycloakId: string) => boolean,
  ) {
    for (const resource of resources) {
      if (isManaged(resource.externalId) && !this.byExternalId.has(resource.externalId)) {
        this.byExternalId.set(resource.externalId, resource);
      }
      const name = nameOf(resource).toLowerCase();
      if (!this.byName.has(name)) this.byName.set(name, resource);
    }
  }

  claimStrong(
    entities: readonly { keycloakId: string; knownScimId: string | undefined }[],
    exists: (scimId: string) => boolean,
  ): Map<string, Claim> {
    const claims = new Map<string, Claim>();
    for (const { keycloakId, knownScimId } of entities) {
      if (knownScimId !== undefined && exists(knownScimId) && !this.claimed.has(knownScimId)) {
        this.claimed.add(knownScimId);
        claims.set(keycloakId, { scimId: knownScimId, how: 'id map' });
      }
    }
    for (const { keycloakId } of entities) {
      if (claims.has(keycloakId)) continue;
      const found = this.byExternalId.get(keycloakId);
      if (found !== undefined && !this.claimed.has(found.id)) {
        this.claimed.add(found.id);
        claims.set(keycloakId, { scimId: found.id, how: 'externalId' });
      }
    }
    return claims;
  }

  /** A claim, nothing (create it), or why the resource of that name cannot be adopted. */
  claimByName(keycloakId: string, name: string): Claim | string | undefined {
    const found = this.byName.get(name.toLowerCase());
    if (found === undefined) return undefined;
    const owner = found.externalId;
    if (this.claimed.has(found.id)) {
      // Taken by a match above; if its owner is renamed in this run, the create succeeds after it.
      return undefined;
    }
    if (isManaged(owner) && owner !== keycloakId && this.isLive(owner)) {
      return `SCIM resource ${JSON.stringify(this.nameOf(found))} (${found.id}) already belongs to Keycloak entity ${owner}`;
    }
    this.claimed.add(found.id);
    return { scimId: found.id, how: 'name' };
  }

  isClaimed(scimId: string): boolean {
    return this.claimed.has(scimId);
  }
}

function isManaged(externalId: string | undefined): externalId is string {
  return externalId !== undefined && externalId !== '';
}

function percent(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}

/** Reduces a listed SCIM user to the plan's view. */
export function scimUserView(user: ScimUser): ScimUserView {
  return {
    id: user.id,
    userName: user.userName,
    ...(user.externalId === undefined ? {} : { externalId: user.externalId }),
    ...(user.name === undefined ? {} : { name: user.name }),
    ...(user.emails === undefined ? {} : { emails: user.emails }),
    ...(user.active === undefined ? {} : { active: user.active }),
  };
}

/** Reduces a listed SCIM group (with members) to the plan's view. */
export function scimGroupView(group: ScimGroup): ScimGroupView {
  return {
    id: group.id,
    displayName: group.displayName,
    ...(group.externalId === undefined ? {} : { externalId: group.externalId }),
    memberIds: (group.members ?? []).map((m) => m.value),
  };
}
