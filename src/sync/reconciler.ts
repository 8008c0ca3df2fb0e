import type { Logger } from 'pino';
import { planGroup, type GroupDecision } from '../domain/group-plan.js';
import { describeHint, groupHint, userHint, type Hint } from '../domain/hint.js';
import type { KeycloakGroupRef } from '../domain/keycloak-model.js';
import type { MappingOptions } from '../domain/mapping.js';
import { affectedGroups, effectiveGroups, type MembershipMode } from '../domain/membership.js';
import { EVERYTHING, groupInScope, scopesUsers, type Scope } from '../domain/scope.js';
import { moveAside, planUser, type UserDecision } from '../domain/user-plan.js';
import { PermanentError, ScimError, WaitingError, describeError } from '../errors.js';
import type { ScimClient } from '../scim/scim-client.js';
import type { StateStore } from '../state/state-store.js';
import { FactReader, type KeycloakGroupSide, type NameLookup } from './fact-reader.js';
import { Freshness, type Snapshot } from './freshness.js';
import { KeyedLock } from './keyed-lock.js';
import type { KeycloakReader } from './keycloak-reader.js';
import { GroupMemberWriter } from './member-writer.js';
import { ScimWriter, StaleDecisionError } from './scim-writer.js';

export interface ReconcilerOptions {
  readonly mapping: MappingOptions;
  /** `delete` removes the user's tenant access in Kestra; `deactivate` sets `active=false`. */
  readonly userDeleteMode: 'delete' | 'deactivate';
  /** `inherited`: a member of a child group also counts as a member of every ancestor. */
  readonly membershipMode: MembershipMode;
  /** The part of the realm that is provisioned; everything when absent. */
  readonly scope?: Scope | undefined;
  readonly logger?: Logger | undefined;
  /**
   * Work to do soon, outside the locks held now: the entity that holds a name another one
   * waits for, or the members of a group created in passing. The work queue takes the hint;
   * without one (a one-off resync), the full reconcile's own phases cover it.
   */
  readonly schedule?: ((hint: Hint) => void) | undefined;
  /** A twin the id map names answered 404: the SCIM side may have lost what it held. */
  readonly onTwinMissing?: ((kind: 'user' | 'group', scimId: string) => void) | undefined;
}

/** What a reconcile did on the SCIM side, for counters and reports. */
export type Change = 'created' | 'adopted' | 'updated' | 'deprovisioned' | 'unchanged' | 'waiting';

/** The end of one user or group reconcile. */
export interface Outcome {
  /** The SCIM twin when the entity is provisioned; undefined when it is not (any more). */
  readonly scimId: string | undefined;
  readonly change: Change;
  /** For `waiting`: the entity that holds the name. */
  readonly waitingFor?: string | undefined;
  /** A user made active again: its memberships are given back. */
  readonly rejoins?: boolean | undefined;
}

/** A decision made by a full reconcile from its listing, applied through the same locks. */
export interface Planned<D> {
  readonly decision: D;
  readonly snapshot: Snapshot;
}

/**
 * Makes the SCIM side match Keycloak, one entity at a time, for the event path and the full
 * reconcile alike. For each entity it reads the slice of both sides the decision needs, asks
 * the pure planner (`planUser`, `planGroup`, `planMembers`), and applies the decision with the
 * one `ScimWriter`. Reading Keycloak first makes it safe to call for any hint, any number of
 * times, in any order.
 *
 * Serialisation: an entity's lock (`user:ID`, `group:ID`) is held for its whole reconcile;
 * the locks of the SCIM names it may take (`userName:…`, `displayName:…`) around the read of
 * the SCIM side and the write, so an adoption by name and a pending write on the same name
 * never interleave; member changes go through the `GroupMemberWriter`, one PATCH per group at a
 * time. Locks are taken user before group, entity before name, so none waits in a circle.
 */
export class Reconciler {
  readonly locks = new KeyedLock();
  readonly freshness = new Freshness();
  readonly members: GroupMemberWriter;
  readonly writer: ScimWriter;
  private readonly facts: FactReader;
  private readonly scope: Scope;
  /** Ticks at each group-path reconcile of a group's members; see writeMemberships. */
  private memberClock = 0;
  /** When each group's members were last reconciled by the group path, in memberClock ticks. */
  private readonly membersReconciled = new Map<string, number>();
  /**
   * Hints refused a SCIM name another entity held, by name: tried again as soon as the relay
   * sees the holder give it up, instead of waiting for the parked work's next round.
   */
  private readonly refusedNames = new Map<string, Hint[]>();

  constructor(
    private readonly keycloak: KeycloakReader,
    scim: ScimClient,
    private readonly store: StateStore,
    private readonly options: ReconcilerOptions,
  ) {
    this.scope = options.scope ?? EVERYTHING;
    this.members = new GroupMemberWriter(scim, store, this.freshness, options.logger);
    this.writer = new ScimWriter(scim, store, this.members, options.logger, (kind, name) => {
      this.nameFreed(kind, name);
    });
    this.facts = new FactReader(keycloak, scim, store, {
      mapping: options.mapping,
      scope: this.scope,
      onTwinMissing: options.onTwinMissing,
    });
  }

  /**
   * Reconciles what a hint names. An entity that must wait for another to free its name has
   * that one scheduled (`schedule`) and fails transiently, to be tried again after it.
   */
  async apply(hint: Hint): Promise<void> {
    try {
      await this.applyHint(hint);
    } catch (error) {
      if (error instanceof Problem && error.nameKey !== undefined) {
        const waiting = this.refusedNames.get(error.nameKey) ?? [];
        if (!waiting.some((h) => describeHint(h) === describeHint(hint))) waiting.push(hint);
        this.refusedNames.set(error.nameKey, waiting);
      }
      throw error;
    }
  }

  private nameFreed(kind: 'user' | 'group', name: string): void {
    const [key] = kind === 'user' ? userNameKeys([name]) : displayNameKeys([name]);
    if (key === undefined) return;
    const waiting = this.refusedNames.get(key);
    this.refusedNames.delete(key);
    for (const hint of waiting ?? []) this.options.schedule?.(hint);
  }

  private async applyHint(hint: Hint): Promise<void> {
    const why = `event: ${describeHint(hint)}`;
    let outcome: Outcome;
    switch (hint.kind) {
      case 'user':
        outcome = await this.reconcileUser(hint.userId, { why });
        break;
      case 'group':
        outcome = await this.reconcileGroup(hint.groupId, hint.subtree, { why });
        if (hint.members === true && outcome.change !== 'created' && outcome.change !== 'adopted') {
          await this.reconcileGroupMembers(hint.groupId, why);
        }
        break;
      case 'membership':
        outcome = await this.reconcileMembership(hint.userId, hint.groupId, why);
        break;
    }
    if (outcome.change === 'waiting' && outcome.waitingFor !== undefined) {
      const blocker =
        hint.kind === 'group' ? groupHint(outcome.waitingFor) : userHint(outcome.waitingFor);
      this.options.schedule?.(blocker);
      throw new WaitingError(
        `${describeHint(hint)} waits for ${describeHint(blocker)} to give up the SCIM name it wants`,
      );
    }
  }

  // Users

  /**
   * Reconciles one user. A user new to SCIM also joins its groups: Keycloak announces no
   * membership for default groups or the groups of a create body.
   */
  reconcileUser(
    keycloakId: string,
    how: { readonly why: string; readonly planned?: Planned<UserDecision> | undefined },
  ): Promise<Outcome> {
    return this.locks.run(userKey(keycloakId), () =>
      this.marked(userKey(keycloakId), how.planned, () => this.userLocked(keycloakId, how)),
    );
  }

  private async userLocked(
    keycloakId: string,
    how: { readonly why: string; readonly planned?: Planned<UserDecision> | undefined },
  ): Promise<Outcome> {
    const { planned, why } = how;
    if (
      planned !== undefined &&
      !this.freshness.changedSince(planned.snapshot, userKey(keycloakId))
    ) {
      const names = [nameOfUserDecision(planned.decision), this.store.user(keycloakId)?.userName];
      try {
        return await this.locks.runAll(userNameKeys(names), () =>
          this.applyUser(planned.decision, why, true),
        );
      } catch (error) {
        // The listing is out of date for this user: decide again from a fresh read.
        if (!(error instanceof StaleDecisionError) && !isNameTaken(error)) throw error;
      }
    }
    // A user the relay has never mapped is most likely new to SCIM, and then joins its groups:
    // those are read beside the user, not after the create, which halves the wait on Keycloak.
    // Read before the create, they are no staler than a read after it: a membership changed
    // since comes with an event of its own, handled under this user's lock after this one.
    const since = this.memberClock;
    const joining = planned === undefined && this.store.user(keycloakId) === undefined;
    const [keycloak, groupsRead] = await Promise.all([
      this.facts.keycloakUser(keycloakId),
      joining && !scopesUsers(this.scope) ? this.facts.userGroups(keycloakId) : undefined,
    ]);
    // Under SCOPE_GROUPS the user's read brought its groups already.
    const direct = groupsRead ?? keycloak.directGroups;
    const names = [this.facts.wantedUserName(keycloak), this.store.user(keycloakId)?.userName];
    const outcome = await this.locks.runAll(userNameKeys(names), async () => {
      return decideAfresh(
        `user ${keycloakId}`,
        async (lookup) => {
          const facts = await this.facts.userFacts(keycloakId, keycloak, lookup);
          return this.applyUser(planUser(facts, this.options), why, false);
        },
        () => this.moveTwinAside('user', keycloakId, why),
      );
    });
    const joins =
      outcome.change === 'created' || outcome.change === 'adopted' || outcome.rejoins === true;
    if (planned === undefined && joins) {
      await this.joinGroups(
        keycloakId,
        outcome,
        why,
        direct === undefined ? undefined : { since, direct },
      );
    }
    return outcome;
  }

  private async applyUser(decision: UserDecision, why: string, verify: boolean): Promise<Outcome> {
    const { writer } = this;
    switch (decision.op) {
      case 'none':
        if (decision.relink && decision.scimId !== undefined && decision.userName !== undefined) {
          writer.linkUser(decision.keycloakId, decision.scimId, decision.userName);
        }
        if (!decision.provisioned && decision.scimId !== undefined) {
          // Left inactive by an earlier deactivation: no memberships either.
          await writer.leaveAllGroups(decision.scimId, why);
        }
        return { scimId: decision.provisioned ? decision.scimId : undefined, change: 'unchanged' };
      case 'create':
        return { scimId: await writer.createUser(decision, why), change: 'created' };
      case 'update':
        return {
          scimId: await writer.updateUser(decision, why, verify),
          change: decision.adopted?.foundBy === 'name' ? 'adopted' : 'updated',
          // Deactivated as no longer provisioned, it left its groups; back, it joins them.
          rejoins: decision.changes.some((c) => c.path === 'active' && c.value === true),
        };
      case 'deprovision':
        await writer.deprovisionUser(decision, why);
        return { scimId: undefined, change: 'deprovisioned' };
      case 'wait':
        if (decision.moveAside !== undefined) {
          await writer.moveAside(
            'user',
            decision.keycloakId,
            decision.moveAside,
            `${why}; userName ${decision.userName} is still held by Keycloak user ${decision.owner}`,
          );
        }
        return { scimId: undefined, change: 'waiting', waitingFor: decision.owner };
      case 'problem':
        if (decision.moveAside !== undefined) {
          await writer.moveAside(
            'user',
            decision.keycloakId,
            decision.moveAside,
            `${why}; ${decision.reason}`,
          );
        }
        throw new Problem(
          `user ${decision.keycloakId} (${decision.userName}): ${decision.reason}`,
          decision.nameTaken === true ? userNameKeys([decision.userName])[0] : undefined,
        );
    }
  }

  /**
   * Gives a user new to SCIM its memberships: it joins its groups (and their ancestors when
   * inherited), and a resource taken over leaves the groups of whoever it was before.
   */
  private async joinGroups(
    keycloakId: string,
    outcome: Outcome,
    why: string,
    read: GroupsRead | undefined,
  ): Promise<void> {
    const userScimId = outcome.scimId;
    if (userScimId === undefined) return;
    const member = await this.writeMemberships(
      keycloakId,
      userScimId,
      (effective) => effective,
      `${why}; new to SCIM, joins its groups`,
      { read },
    );
    if (outcome.change !== 'adopted') return;
    for (const groupScimId of this.store.groupsOfMember(userScimId)) {
      const owner = this.store.groupByScimId(groupScimId)?.keycloakId;
      if (owner !== undefined && !member.has(owner)) {
        await this.members.set(
          groupScimId,
          userScimId,
          false,
          `${why}; taken over, leaves the groups of its former owner`,
        );
      }
    }
  }

  /**
   * Writes one user's membership of each of the `targets` groups, as its Keycloak groups say.
   * Returns the groups the user counts as a member of.
   *
   * A group's members may have been reconciled by the group path (a move or a delete under
   * inherited memberships) between this read and a write; the write would then undo it with
   * an older read. So each write first checks that no such reconcile began since the read, and
   * reads again if one did.
   *
   * `read`: the user's groups, read already at `since`, for the first attempt. `target`: a
   * group the user may have left, so not among its groups; with direct memberships it is read
   * only when it is not among them. When Keycloak no longer has it, nothing is written (its own
   * reconcile deletes its twin).
   */
  private async writeMemberships(
    userId: string,
    userScimId: string,
    targets: (
      effective: Set<string>,
      groups: ReadonlyMap<string, KeycloakGroupRef>,
    ) => Iterable<string>,
    why: string,
    how: { readonly read?: GroupsRead | undefined; readonly target?: string | undefined } = {},
  ): Promise<Set<string>> {
    let read = how.read;
    let target: KeycloakGroupRef | undefined;
    for (let attempt = 1; attempt <= 5; attempt++) {
      const since = read?.since ?? this.memberClock;
      const direct = read?.direct ?? (await this.facts.userGroups(userId));
      read = undefined;
      const extra: KeycloakGroupRef[] = [];
      // Under inherited memberships the group's own read is kept: its parent is what counts,
      // and a server may leave `parentId` out of a user's group listing.
      if (
        how.target !== undefined &&
        (this.options.membershipMode === 'inherited' || !direct.some((g) => g.id === how.target))
      ) {
        target ??= await this.keycloak.groupRef(how.target);
        if (target === undefined) return new Set();
        extra.push(target);
      }
      const groups = await this.withAncestors([...direct, ...extra]);
      const member = effectiveGroups(
        direct.map((g) => g.id),
        (id) => groups.get(id)?.parentId,
        this.options.membershipMode,
      );
      let stale = false;
      for (const groupId of targets(member, groups)) {
        const group = groups.get(groupId);
        if (group === undefined || !groupInScope(this.scope, group.path)) continue;
        const groupScimId = await this.groupTwin(group, why);
        if (groupScimId === undefined) continue;
        if ((this.membersReconciled.get(groupId) ?? 0) > since) {
          stale = true;
          break;
        }
        await this.members.set(groupScimId, userScimId, member.has(groupId), why);
      }
      if (!stale) return member;
    }
    throw new StaleDecisionError(
      `the memberships of user ${userId} kept changing under the relay; trying again later`,
    );
  }

  // Memberships

  /**
   * Makes one user's membership of one group (and, when inherited, of its ancestors) match
   * Keycloak. The user is provisioned first: Kestra refuses members without tenant access.
   */
  reconcileMembership(userId: string, groupId: string, why: string): Promise<Outcome> {
    return this.locks.run(userKey(userId), () =>
      this.marked(userKey(userId), undefined, () => this.membershipLocked(userId, groupId, why)),
    );
  }

  private async membershipLocked(userId: string, groupId: string, why: string): Promise<Outcome> {
    const outcome =
      (await this.provisionedTwin(userId)) ?? (await this.userLocked(userId, { why }));
    const userScimId = outcome.scimId;
    if (userScimId === undefined) return outcome;
    await this.writeMemberships(
      userId,
      userScimId,
      (_effective, groups) =>
        affectedGroups(groupId, (id) => groups.get(id)?.parentId, this.options.membershipMode),
      why,
      { target: groupId },
    );
    return outcome;
  }

  /**
   * The user's twin, when the id map and the twin's presence prove the user provisioned: with
   * deleted users' twins deleted (USER_DELETE_MODE=delete) and no SCOPE_GROUPS, a mapped twin
   * is one the relay created or adopted for a user it could provision, and took over from
   * nobody else since (ownership is the id map's word). Its membership then needs no read of
   * the user from Keycloak first: whatever else changed about the user comes with an event of
   * its own, or is found by the periodic verification. Otherwise (no twin any more, a twin left
   * deactivated, a scope that a membership may change) the user is reconciled first, as for
   * any hint: Kestra refuses members without tenant access, and a plain server may not.
   */
  private async provisionedTwin(userId: string): Promise<Outcome | undefined> {
    if (this.options.userDeleteMode !== 'delete' || scopesUsers(this.scope)) return undefined;
    const link = this.store.user(userId);
    if (link === undefined || !(await this.facts.userTwinPresent(link.scimId))) return undefined;
    return { scimId: link.scimId, change: 'unchanged' };
  }

  /**
   * A member change a full reconcile planned from its listing, made under the user's lock. If
   * the event path worked on the user or the group since the listing began, the membership is
   * decided afresh instead. Members nobody owns in Keycloak are just removed.
   */
  async plannedMember(
    group: { readonly keycloakId: string; readonly scimId: string },
    user: {
      readonly keycloakId: string | undefined;
      readonly scimId: string;
      readonly member: boolean;
    },
    snapshot: Snapshot,
    why: string,
  ): Promise<void> {
    const userId = user.keycloakId;
    if (userId === undefined) {
      await this.members.set(group.scimId, user.scimId, user.member, why);
      return;
    }
    const stale = (): boolean =>
      this.freshness.changedSince(snapshot, userKey(userId)) ||
      this.freshness.changedSince(snapshot, groupKey(group.keycloakId));
    // Nobody holds the user's lock, and nothing below awaits before the change is queued: taking
    // the lock would change nothing but cost two promises per member, half a million of them in
    // a cold resync of a large realm.
    if (!this.locks.held(userKey(userId)) && !stale()) {
      await this.members.set(group.scimId, user.scimId, user.member, why);
      return;
    }
    // The change is queued under the lock, so it lands in order with the event path's; the
    // PATCH itself is awaited outside it.
    const queued = await this.locks.run(userKey(userId), async () => {
      if (!stale()) return { done: this.members.set(group.scimId, user.scimId, user.member, why) };
      await this.membershipLocked(userId, group.keycloakId, why);
      return { done: Promise.resolve() };
    });
    await queued.done;
  }

  /**
   * Makes a group's members match Keycloak, member by member through
   * {@link reconcileMembership}, so each change is decided under its user's lock from a fresh
   * read. Used where members change without an event of their own: a group created or
   * adopted, a group moved or deleted under inherited memberships.
   */
  async reconcileGroupMembers(groupId: string, why: string): Promise<void> {
    // From now on, a user's membership write decided from an older read is stale (see
    // writeMemberships); one already queued is let through first, so it is read below.
    this.membersReconciled.set(groupId, ++this.memberClock);
    this.freshness.mark(groupKey(groupId));
    const { group, outOfScope } = await this.facts.keycloakGroup(groupId);
    const groupScimId = this.store.group(groupId)?.scimId;
    if (group === undefined || outOfScope !== undefined || groupScimId === undefined) return;
    await this.members.settled(groupScimId);
    const wanted = new Set<string>();
    const collect = async (id: string): Promise<void> => {
      for await (const memberId of this.keycloak.groupMemberIds(id)) wanted.add(memberId);
    };
    await collect(groupId);
    if (this.options.membershipMode === 'inherited') {
      for await (const descendant of this.keycloak.descendants(groupId))
        await collect(descendant.id);
    }
    const current = await this.members.members(groupScimId);
    for (const keycloakUserId of wanted) {
      const userScimId = this.store.user(keycloakUserId)?.scimId;
      if (userScimId === undefined || !current.has(userScimId)) {
        await this.ownProblem(keycloakUserId, () =>
          this.reconcileMembership(keycloakUserId, groupId, why),
        );
      }
    }
    for (const userScimId of current) {
      const owner = this.store.userByScimId(userScimId)?.keycloakId;
      if (owner === undefined) {
        // Nobody's in Keycloak, so nobody's member: Keycloak does not have this membership.
        await this.members.set(groupScimId, userScimId, false, `${why}; not a member in Keycloak`);
      } else if (!wanted.has(owner)) {
        await this.ownProblem(owner, () => this.reconcileMembership(owner, groupId, why));
      }
    }
  }

  // Groups

  /**
   * Creates, renames or deletes the group's twin. With `subtree`, also every descendant: a
   * rename changes their paths, and a delete takes them all without an event of their own.
   * A group created or adopted also gets its members, unless `inPassing` (a user's reconcile
   * needs the twin and holds that user's lock): then they are scheduled. A group that cannot be
   * provisioned (its name taken) still has its subtree reconciled before its problem is thrown.
   */
  reconcileGroup(keycloakId: string, subtree: boolean, how: GroupReconcileHow): Promise<Outcome> {
    // From before its first read to after its last look at the id map (see unlessDeletedMeanwhile).
    return this.marked(ANY_GROUP, how.planned, () =>
      this.reconcileGroupMarked(keycloakId, subtree, how),
    );
  }

  private async reconcileGroupMarked(
    keycloakId: string,
    subtree: boolean,
    how: GroupReconcileHow,
  ): Promise<Outcome> {
    const { why } = how;
    // Who belonged below it, for what its deletion changes; read before the records go.
    const formerMembers = subtree ? this.recordedMembers(keycloakId) : [];
    const step = await this.locks.run(groupKey(keycloakId), () =>
      this.marked(groupKey(keycloakId), how.planned, () => this.groupLocked(keycloakId, how)),
    );
    const { outcome, keycloak, before } = step;
    // A full reconcile plans the members of what it creates itself, from its listing.
    if (
      (outcome.change === 'created' || outcome.change === 'adopted') &&
      how.planned === undefined
    ) {
      if (how.inPassing === true) this.options.schedule?.(groupHint(keycloakId, false, true));
      else await this.reconcileGroupMembers(keycloakId, why);
    }
    const group = keycloak?.group;
    const gone =
      keycloak === undefined
        ? outcome.change === 'deprovisioned'
        : group === undefined || keycloak.outOfScope !== undefined;
    if (gone) {
      // Deepest first: no moment where a child outlives its parent's deletion halfway.
      for (const descendant of this.store.descendantsOf(keycloakId)) {
        await this.descend(descendant, false, `${why}; below a deleted group`);
      }
      if (keycloak !== undefined && group === undefined) this.store.forgetGroupNode(keycloakId);
    } else if (subtree) {
      const present = new Set<string>();
      for await (const descendant of this.keycloak.descendants(keycloakId)) {
        present.add(descendant.id);
        await this.descend(descendant.id, false, `${why}; below a changed group`);
      }
      // Groups known below this one that Keycloak no longer lists there were moved or deleted.
      for (const known of this.store.descendantsOf(keycloakId)) {
        if (!present.has(known)) {
          await this.descend(known, true, `${why}; no longer below it`);
        }
      }
    }
    if (subtree && before !== undefined && (gone || before.parentId !== group?.parentId)) {
      await this.afterMove(before.parentId, gone ? undefined : group, formerMembers, why);
    }
    if (step.problem !== undefined) throw step.problem;
    return outcome;
  }

  /**
   * Keycloak's group tree, as a full listing read it after `snapshot` began, becomes the
   * relay's record of it, but for the groups the event path worked on since.
   */
  refreshGroupTree(groups: readonly KeycloakGroupRef[], snapshot: Snapshot): void {
    const listed = new Set<string>();
    for (const group of groups) {
      listed.add(group.id);
      if (!this.freshness.changedSince(snapshot, groupKey(group.id))) {
        this.store.putGroupNode(group.id, group.parentId);
      }
    }
    for (const id of this.store.groupNodes()) {
      if (!listed.has(id) && !this.freshness.changedSince(snapshot, groupKey(id))) {
        this.store.forgetGroupNode(id);
      }
    }
  }

  /**
   * Reconciles a group below the one at hand. A problem of its own (its name taken) is its own:
   * it gets a hint of its own, parked with that problem, and the rest of the subtree goes on.
   */
  private async descend(groupId: string, subtree: boolean, why: string): Promise<void> {
    try {
      await this.reconcileGroup(groupId, subtree, { why });
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      this.options.schedule?.(groupHint(groupId, subtree));
    }
  }

  /** Keycloak ids of the members the relay recorded for a group and the groups below it. */
  private recordedMembers(keycloakId: string): string[] {
    const users = new Set<string>();
    for (const id of [keycloakId, ...this.store.descendantsOf(keycloakId)]) {
      const twin = this.store.group(id);
      if (twin === undefined) continue;
      for (const scimId of this.store.knownMembers(twin.scimId) ?? []) {
        const owner = this.store.userByScimId(scimId)?.keycloakId;
        if (owner !== undefined) users.add(owner);
      }
    }
    return [...users];
  }

  /**
   * The group's own reconcile, under its lock: decided from the full reconcile's listing
   * (`planned`) or a fresh read. Records where Keycloak has the group now, and says where the
   * relay saw it before (`before`), for what a move changes.
   */
  private async groupLocked(
    keycloakId: string,
    how: { readonly why: string; readonly planned?: Planned<GroupDecision> | undefined },
  ): Promise<{
    outcome: Outcome;
    keycloak: KeycloakGroupSide | undefined;
    before: { readonly parentId: string | undefined } | undefined;
    problem?: Problem;
  }> {
    const { planned, why } = how;
    const before = this.store.groupNode(keycloakId);
    if (
      planned !== undefined &&
      !this.freshness.changedSince(planned.snapshot, groupKey(keycloakId))
    ) {
      const names = [
        nameOfGroupDecision(planned.decision),
        this.store.group(keycloakId)?.displayName,
      ];
      try {
        const outcome = await this.locks.runAll(displayNameKeys(names), async () => {
          const applied = await this.applyGroup(planned.decision, why, true);
          // Only a group reconcile of the event path can have missed this twin (see
          // unlessDeletedMeanwhile); a full reconcile with none beside it skips the read.
          return this.freshness.changedSince(planned.snapshot, ANY_GROUP)
            ? this.unlessDeletedMeanwhile(keycloakId, applied, why)
            : applied;
        });
        return { outcome, keycloak: undefined, before };
      } catch (error) {
        if (!(error instanceof StaleDecisionError) && !isNameTaken(error)) throw error;
      }
    }
    const keycloak = await this.facts.keycloakGroup(keycloakId);
    if (keycloak.group !== undefined) {
      this.store.putGroupNode(keycloakId, keycloak.group.parentId);
    }
    const names = [
      this.facts.wantedDisplayName(keycloak),
      this.store.group(keycloakId)?.displayName,
    ];
    try {
      const outcome = await this.locks.runAll(displayNameKeys(names), async () => {
        const applied = await decideAfresh(
          `group ${keycloakId}`,
          async (lookup) => {
            const facts = await this.facts.groupFacts(keycloakId, keycloak, lookup);
            return this.applyGroup(planGroup(facts, this.options), why, false);
          },
          () => this.moveTwinAside('group', keycloakId, why),
        );
        return this.unlessDeletedMeanwhile(keycloakId, applied, why);
      });
      return { outcome, keycloak, before };
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      const scimId = this.store.group(keycloakId)?.scimId;
      return { outcome: { scimId, change: 'unchanged' }, keycloak, before, problem: error };
    }
  }

  /**
   * A group whose twin was just created or adopted may have been deleted meanwhile with an
   * ancestor, which Keycloak does without an event for it. That ancestor's reconcile looks for
   * twins below it in the id map, where this one was not yet: so look again now that it is.
   * That reconcile marks `ANY_GROUP` when it begins, before it looks, so a full reconcile that
   * finds no such mark since its listing began knows nobody looked without seeing this twin.
   */
  private async unlessDeletedMeanwhile(
    keycloakId: string,
    outcome: Outcome,
    why: string,
  ): Promise<Outcome> {
    const scimId = outcome.scimId;
    if (scimId === undefined || (outcome.change !== 'created' && outcome.change !== 'adopted')) {
      return outcome;
    }
    const now = await this.facts.keycloakGroup(keycloakId);
    if (now.group !== undefined && now.outOfScope === undefined) return outcome;
    await this.writer.deprovisionGroup(
      {
        op: 'deprovision',
        keycloakId,
        scimId,
        displayName: this.store.group(keycloakId)?.displayName ?? scimId,
        reason: now.outOfScope ?? 'deleted in Keycloak while its twin was being created',
      },
      why,
    );
    return { scimId: undefined, change: 'deprovisioned' };
  }

  private async applyGroup(
    decision: GroupDecision,
    why: string,
    verify: boolean,
  ): Promise<Outcome> {
    const { writer } = this;
    switch (decision.op) {
      case 'none':
        // Also after a move that keeps the name (GROUP_NAME_SOURCE=name): the new parent.
        if (
          decision.provisioned &&
          decision.scimId !== undefined &&
          decision.displayName !== undefined
        ) {
          writer.linkGroup(
            decision.keycloakId,
            decision.scimId,
            decision.displayName,
            decision.parentId,
          );
        }
        return { scimId: decision.provisioned ? decision.scimId : undefined, change: 'unchanged' };
      case 'create':
        return { scimId: await writer.createGroup(decision, why), change: 'created' };
      case 'update':
        return {
          scimId: await writer.updateGroup(decision, why, verify),
          change: decision.adopted?.foundBy === 'name' ? 'adopted' : 'updated',
        };
      case 'deprovision':
        await writer.deprovisionGroup(decision, why);
        return { scimId: undefined, change: 'deprovisioned' };
      case 'wait':
        if (decision.moveAside !== undefined) {
          await writer.moveAside(
            'group',
            decision.keycloakId,
            decision.moveAside,
            `${why}; displayName ${decision.displayName} is still held by Keycloak group ${decision.owner}`,
          );
        }
        return { scimId: undefined, change: 'waiting', waitingFor: decision.owner };
      case 'problem':
        if (decision.moveAside !== undefined) {
          await writer.moveAside(
            'group',
            decision.keycloakId,
            decision.moveAside,
            `${why}; ${decision.reason}`,
          );
        }
        throw new Problem(
          `group ${decision.keycloakId} (${decision.displayName}): ${decision.reason}`,
          decision.nameTaken === true ? displayNameKeys([decision.displayName])[0] : undefined,
        );
    }
  }

  /**
   * What a moved or deleted group changes without an event: under inherited memberships the
   * members of its subtree join its new ancestors and leave its old ones; under SCOPE_GROUPS
   * they may enter or leave the scope. `group` is undefined when it was deleted.
   */
  private async afterMove(
    oldParentId: string | undefined,
    group: KeycloakGroupRef | undefined,
    formerMembers: readonly string[],
    why: string,
  ): Promise<void> {
    if (this.options.membershipMode === 'inherited') {
      const ancestors = new Set<string>();
      for (
        let id = oldParentId;
        id !== undefined && !ancestors.has(id);
        id = this.store.group(id)?.parentId
      ) {
        ancestors.add(id);
      }
      if (group !== undefined) {
        for (const id of (await this.withAncestors([group])).keys()) {
          if (id !== group.id) ancestors.add(id);
        }
      }
      for (const ancestor of ancestors) {
        await this.reconcileGroupMembers(ancestor, `${why}; a group below it moved or went`);
      }
    }
    if (scopesUsers(this.scope)) {
      const users = new Set(formerMembers);
      if (group !== undefined) {
        const collect = async (id: string): Promise<void> => {
          for await (const memberId of this.keycloak.groupMemberIds(id)) users.add(memberId);
        };
        await collect(group.id);
        for await (const descendant of this.keycloak.descendants(group.id)) {
          await collect(descendant.id);
        }
      }
      for (const userId of users) {
        await this.ownProblem(userId, () =>
          this.reconcileUser(userId, { why: `${why}; a group of the user moved or went` }),
        );
      }
    }
  }

  // Shared

  /**
   * The SCIM twin of a Keycloak group, created when missing; undefined when the group cannot
   * be provisioned. Its problem is the group's own (its hint is parked with it), not the
   * user's: the user's other memberships go on.
   */
  private async groupTwin(group: KeycloakGroupRef, why: string): Promise<string | undefined> {
    const known = this.store.group(group.id);
    if (known !== undefined) return known.scimId;
    try {
      const outcome = await this.reconcileGroup(group.id, false, { why, inPassing: true });
      return outcome.scimId;
    } catch (error) {
      if (!(error instanceof PermanentError)) throw error;
      this.options.logger?.warn(
        { groupId: group.id, error: describeError(error) },
        `group ${group.path} cannot be provisioned, so nobody joins it: ${describeError(error)}`,
      );
      return undefined;
    }
  }

  /** The given groups and all their ancestors, read from Keycloak, by id. */
  private async withAncestors(
    groups: readonly KeycloakGroupRef[],
  ): Promise<Map<string, KeycloakGroupRef>> {
    const byId = new Map(groups.map((g) => [g.id, g]));
    if (this.options.membershipMode === 'direct') return byId;
    const queue = [...groups];
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const parentId = next.parentId;
      if (parentId === undefined || byId.has(parentId)) continue;
      const parent = await this.keycloak.groupRef(parentId);
      if (parent === undefined) continue;
      byId.set(parent.id, parent);
      queue.push(parent);
    }
    return byId;
  }

  /**
   * One member's work within a group's: a member that cannot be provisioned is its own problem
   * (its own hints are parked with it), and must not stop the others.
   */
  private async ownProblem(userId: string, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (error) {
      if (!(error instanceof PermanentError)) throw error;
      this.options.logger?.warn(
        { userId, error: describeError(error) },
        `user ${userId} is left out: ${describeError(error)}`,
      );
    }
  }

  /** A twin stuck with a name its entity cannot have any more gives it up for others. */
  private async moveTwinAside(
    kind: 'user' | 'group',
    keycloakId: string,
    why: string,
  ): Promise<void> {
    const link = kind === 'user' ? this.store.user(keycloakId) : this.store.group(keycloakId);
    if (link === undefined) return;
    const name = 'userName' in link ? link.userName : link.displayName;
    const aside = moveAside(
      keycloakId,
      { id: link.scimId },
      kind === 'user' ? 'userName' : 'displayName',
    );
    if (aside === undefined || name === aside.name) return;
    await this.writer.moveAside(
      kind,
      keycloakId,
      aside,
      `${why}; its name is taken on the SCIM side`,
    );
  }

  /** Marks `key` as worked on by the event path, at the start and at the end. */
  private async marked<T>(
    key: string,
    planned: Planned<unknown> | undefined,
    work: () => Promise<T>,
  ): Promise<T> {
    // A full reconcile's own work is what the marks are compared with: it leaves none.
    if (planned !== undefined) return work();
    this.freshness.mark(key);
    try {
      return await work();
    } finally {
      this.freshness.mark(key);
    }
  }
}

/** A user's direct groups as read from Keycloak, and the member clock before the read. */
interface GroupsRead {
  readonly since: number;
  readonly direct: readonly KeycloakGroupRef[];
}

/** An entity that cannot be provisioned; when a name another one holds is why, `nameKey` says which. */
class Problem extends PermanentError {
  constructor(
    message: string,
    readonly nameKey: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function userKey(keycloakId: string): string {
  return `user:${keycloakId}`;
}

export function groupKey(keycloakId: string): string {
  return `group:${keycloakId}`;
}

/** How a group is reconciled: why, from a full reconcile's decision or afresh, and whether in passing. */
interface GroupReconcileHow {
  readonly why: string;
  readonly planned?: Planned<GroupDecision> | undefined;
  readonly inPassing?: boolean | undefined;
}

/** Marked by every group reconcile of the event path, whichever group. */
const ANY_GROUP = 'group:*';

function userNameKeys(names: readonly (string | undefined)[]): string[] {
  return names.flatMap((name) => (name === undefined ? [] : [`userName:${name.toLowerCase()}`]));
}

function displayNameKeys(names: readonly (string | undefined)[]): string[] {
  return names.flatMap((name) => (name === undefined ? [] : [`displayName:${name.toLowerCase()}`]));
}

function nameOfUserDecision(decision: UserDecision): string | undefined {
  switch (decision.op) {
    case 'create':
    case 'update':
      return decision.desired.userName;
    case 'none':
    case 'deprovision':
    case 'wait':
    case 'problem':
      return decision.userName;
  }
}

function nameOfGroupDecision(decision: GroupDecision): string | undefined {
  switch (decision.op) {
    case 'create':
    case 'update':
      return decision.desired.displayName;
    case 'none':
    case 'deprovision':
    case 'wait':
    case 'problem':
      return decision.displayName;
  }
}

/**
 * Reads, decides and applies. An entity without a twin is first created without looking its
 * name up; when the SCIM side says the name is taken, the holder is looked up and judged, and
 * when that lookup found nobody (a server whose `eq` is case-sensitive), once more comparing
 * every name here.
 */
async function decideAfresh<T>(
  entity: string,
  attempt: (lookup: NameLookup) => Promise<T>,
  stuck: () => Promise<void>,
): Promise<T> {
  for (const lookup of [
    { exhaustive: false, onConflict: true },
    { exhaustive: false },
  ] satisfies NameLookup[]) {
    try {
      return await attempt(lookup);
    } catch (error) {
      if (!isNameTaken(error)) throw error;
    }
  }
  try {
    return await attempt({ exhaustive: true });
  } catch (error) {
    if (!isNameTaken(error)) throw error;
    await stuck();
    throw new Problem(
      `${entity}: the SCIM side refuses its name as taken, yet no resource it lists has that name (Kestra keeps the userName of a user whose access to this tenant was removed): ${describeError(error)}`,
      undefined,
      { cause: error },
    );
  }
}

function isNameTaken(error: unknown): boolean {
  return error instanceof ScimError && error.status === 409;
}
