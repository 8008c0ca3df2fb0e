import type { Logger } from 'pino';
import type { GroupDecision } from '../domain/group-plan.js';
import { changedAttributes } from '../domain/mapping.js';
import { ownerOf } from '../domain/ownership.js';
import type { MoveAside, UserDecision } from '../domain/user-plan.js';
import { ScimError, TransientError } from '../errors.js';
import type { ScimClient } from '../scim/scim-client.js';
import type { ScimPatchOperation } from '../scim/scim-types.js';
import type { StateStore } from '../state/state-store.js';
import type { GroupMemberWriter } from './member-writer.js';

type UserWrite<Op extends UserDecision['op']> = Extract<UserDecision, { op: Op }>;
type GroupWrite<Op extends GroupDecision['op']> = Extract<GroupDecision, { op: Op }>;

/**
 * Thrown when a SCIM resource is no longer what a decision was made on (another owner took
 * it, or its ETag changed): decide again from a fresh read.
 */
export class StaleDecisionError extends TransientError {}

/**
 * Applies the decisions of `planUser` and `planGroup` to the SCIM side, for the event path and
 * the full reconcile alike, and keeps the relay's id map in step. Every write is logged at info
 * with the entity, the change and why: that log is the audit trail of what the relay did.
 *
 * A resource is written to only while it is the entity's: before taking one over, and right
 * before any DELETE, it is read again and its owner checked, and the write carries `If-Match`
 * when the server has ETags. Callers hold the locks of the entity and of the names involved.
 */
export class ScimWriter {
  constructor(
    private readonly scim: ScimClient,
    private readonly store: StateStore,
    private readonly members: GroupMemberWriter,
    private readonly logger?: Logger,
    /** A twin gave up a name (renamed, moved aside, deleted): whoever was refused it may try. */
    private readonly onNameFreed: (kind: 'user' | 'group', name: string) => void = () => undefined,
  ) {}

  // Users

  /** Creates the user. A `ScimError` 409 means the name is taken: decide again. */
  async createUser(decision: UserWrite<'create'>, why: string): Promise<string> {
    const created = await this.scim.createUser(decision.desired);
    this.store.putUser({
      keycloakId: decision.keycloakId,
      scimId: created.id,
      userName: decision.desired.userName,
    });
    this.audit(
      'user',
      decision.keycloakId,
      created.id,
      `created SCIM user ${decision.desired.userName}`,
      why,
    );
    return created.id;
  }

  /** PATCHes the attributes that differ; when adopting, only if the resource is still free. */
  async updateUser(decision: UserWrite<'update'>, why: string, verify: boolean): Promise<string> {
    const { keycloakId, scimId, adopted, changes } = decision;
    const ifMatch =
      adopted === undefined
        ? undefined
        : await this.expectOwner(
            'user',
            keycloakId,
            scimId,
            adopted.leftBy,
            adopted.version,
            verify,
          );
    await this.patch('user', scimId, changes, ifMatch);
    const before = this.store.user(keycloakId)?.userName;
    this.store.putUser({ keycloakId, scimId, userName: decision.desired.userName });
    this.freed('user', before, decision.desired.userName);
    this.audit(
      'user',
      keycloakId,
      scimId,
      adopted === undefined
        ? `updated SCIM user ${decision.desired.userName} (${changedAttributes(changes).join(', ')})`
        : `adopted SCIM user ${decision.desired.userName}, found by ${adopted.foundBy}${adopted.leftBy === undefined ? '' : ` and left by deleted Keycloak user ${adopted.leftBy}`} (${changedAttributes(changes).join(', ')})`,
      why,
    );
    return scimId;
  }

  /** Deletes (Kestra: removes tenant access) or deactivates the user's twin, if still its. */
  async deprovisionUser(decision: UserWrite<'deprovision'>, why: string): Promise<void> {
    const { keycloakId, scimId, userName } = decision;
    const current = await this.scim.getUser(scimId);
    const reason = `${decision.reason}; ${why}`;
    if (current === undefined || !this.owns('user', keycloakId, current)) {
      this.forgetUserLink(keycloakId, scimId);
      return;
    }
    const ifMatch = await this.condition(current.meta?.version);
    if (decision.how === 'delete') {
      const deleted = await this.guarded(this.scim.deleteUser(scimId, { ifMatch }), 'user', scimId);
      this.forgetUserLink(keycloakId, scimId);
      this.members.userDeleted(scimId);
      this.freed('user', userName, undefined);
      if (deleted) this.audit('user', keycloakId, scimId, `deleted SCIM user ${userName}`, reason);
      return;
    }
    if (current.active !== false) {
      await this.patch('user', scimId, [{ op: 'replace', path: 'active', value: false }], ifMatch);
      this.audit('user', keycloakId, scimId, `deactivated SCIM user ${userName}`, reason);
    }
    await this.leaveAllGroups(scimId, reason);
  }

  /** A deactivated user keeps no memberships: Keycloak has none for it. */
  async leaveAllGroups(userScimId: string, why: string): Promise<void> {
    await Promise.all(
      this.store
        .groupsOfMember(userScimId)
        .map((group) => this.members.set(group, userScimId, false, why)),
    );
  }

  linkUser(keycloakId: string, scimId: string, userName: string): void {
    const link = this.store.user(keycloakId);
    if (link?.scimId === scimId && link.userName === userName) return;
    this.store.putUser({ keycloakId, scimId, userName });
  }

  // Groups

  async createGroup(decision: GroupWrite<'create'>, why: string): Promise<string> {
    const created = await this.scim.createGroup(decision.desired);
    this.store.putGroup({
      keycloakId: decision.keycloakId,
      scimId: created.id,
      displayName: decision.desired.displayName,
      parentId: decision.parentId,
    });
    this.members.created(created.id);
    this.audit(
      'group',
      decision.keycloakId,
      created.id,
      `created SCIM group ${decision.desired.displayName}`,
      why,
    );
    return created.id;
  }

  async updateGroup(decision: GroupWrite<'update'>, why: string, verify: boolean): Promise<string> {
    const { keycloakId, scimId, adopted, changes } = decision;
    await this.members.exclusive(scimId, async () => {
      const ifMatch =
        adopted === undefined
          ? undefined
          : await this.expectOwner(
              'group',
              keycloakId,
              scimId,
              adopted.leftBy,
              adopted.version,
              verify,
            );
      await this.patch('group', scimId, changes, ifMatch);
    });
    const before = this.store.group(keycloakId)?.displayName;
    this.freed('group', before, decision.desired.displayName);
    this.store.putGroup({
      keycloakId,
      scimId,
      displayName: decision.desired.displayName,
      parentId: decision.parentId,
    });
    this.audit(
      'group',
      keycloakId,
      scimId,
      adopted === undefined
        ? `renamed SCIM group to ${decision.desired.displayName} (${changedAttributes(changes).join(', ')})`
        : `adopted SCIM group ${decision.desired.displayName}, found by ${adopted.foundBy}${adopted.leftBy === undefined ? '' : ` and left by deleted Keycloak group ${adopted.leftBy}`}`,
      why,
    );
    return scimId;
  }

  /** Deletes the group's twin if it is still the group's. */
  async deprovisionGroup(decision: GroupWrite<'deprovision'>, why: string): Promise<void> {
    const { keycloakId, scimId, displayName } = decision;
    // Read again and delete with no member write to the group in between.
    const deleted = await this.members.exclusive(scimId, async () => {
      const current = await this.scim.getGroup(scimId, { withMembers: false });
      if (current === undefined || !this.owns('group', keycloakId, current)) return undefined;
      const ifMatch = await this.condition(current.meta?.version);
      return this.guarded(this.scim.deleteGroup(scimId, { ifMatch }), 'group', scimId);
    });
    if (deleted === undefined) {
      this.forgetGroupLink(keycloakId, scimId);
      return;
    }
    this.forgetGroupLink(keycloakId, scimId);
    this.members.groupDeleted(scimId);
    this.freed('group', displayName, undefined);
    if (deleted) {
      this.audit(
        'group',
        keycloakId,
        scimId,
        `deleted SCIM group ${displayName}`,
        `${decision.reason}; ${why}`,
      );
    }
  }

  linkGroup(
    keycloakId: string,
    scimId: string,
    displayName: string,
    parentId: string | undefined,
  ): void {
    const link = this.store.group(keycloakId);
    if (link?.scimId === scimId && link.displayName === displayName && link.parentId === parentId) {
      return;
    }
    this.store.putGroup({ keycloakId, scimId, displayName, parentId });
  }

  // Both

  /** Renames the entity's own twin out of the way of a name swap (see `movedAsideName`). */
  async moveAside(
    kind: 'user' | 'group',
    keycloakId: string,
    aside: MoveAside,
    why: string,
  ): Promise<void> {
    const before =
      kind === 'user'
        ? this.store.user(keycloakId)?.userName
        : this.store.group(keycloakId)?.displayName;
    if (kind === 'group') {
      await this.members.exclusive(aside.scimId, () =>
        this.patch(kind, aside.scimId, aside.changes, undefined),
      );
    } else {
      await this.patch(kind, aside.scimId, aside.changes, undefined);
    }
    if (kind === 'user')
      this.store.putUser({ keycloakId, scimId: aside.scimId, userName: aside.name });
    else {
      const link = this.store.group(keycloakId);
      this.store.putGroup({
        keycloakId,
        scimId: aside.scimId,
        displayName: aside.name,
        parentId: link?.parentId,
      });
    }
    this.freed(kind, before, aside.name);
    this.audit(kind, keycloakId, aside.scimId, `moved SCIM ${kind} aside to ${aside.name}`, why);
  }

  private owns(
    kind: 'user' | 'group',
    keycloakId: string,
    resource: { id: string; externalId?: string | undefined },
  ): boolean {
    const mapped =
      kind === 'user'
        ? this.store.userByScimId(resource.id)?.keycloakId
        : this.store.groupByScimId(resource.id)?.keycloakId;
    return ownerOf(resource, mapped) === keycloakId;
  }

  /**
   * Before a takeover: the resource must still be nobody's or the deleted entity's it was
   * left by. `verify` re-reads it (a decision from an older listing); otherwise the read the
   * decision was made on, under the same locks, stands. Returns the `If-Match` to send.
   */
  private async expectOwner(
    kind: 'user' | 'group',
    keycloakId: string,
    scimId: string,
    leftBy: string | undefined,
    version: string | undefined,
    verify: boolean,
  ): Promise<string | undefined> {
    if (!verify) return this.condition(version);
    const current =
      kind === 'user'
        ? await this.scim.getUser(scimId)
        : await this.scim.getGroup(scimId, { withMembers: false });
    if (current === undefined) {
      throw new StaleDecisionError(`SCIM ${kind} ${scimId} is gone since it was listed`);
    }
    const mapped =
      kind === 'user'
        ? this.store.userByScimId(scimId)?.keycloakId
        : this.store.groupByScimId(scimId)?.keycloakId;
    const owner = ownerOf(current, mapped);
    if (owner !== undefined && owner !== keycloakId && owner !== leftBy) {
      throw new StaleDecisionError(
        `SCIM ${kind} ${scimId} belongs to Keycloak ${kind} ${owner} since it was listed`,
      );
    }
    return this.condition(current.meta?.version);
  }

  private async condition(version: string | undefined): Promise<string | undefined> {
    if (version === undefined) return undefined;
    return (await this.scim.etagsSupported()) ? version : undefined;
  }

  private patch(
    kind: 'user' | 'group',
    scimId: string,
    changes: readonly ScimPatchOperation[],
    ifMatch: string | undefined,
  ): Promise<void> {
    const write =
      kind === 'user'
        ? this.scim.patchUser(scimId, changes, { ifMatch })
        : this.scim.patchGroup(scimId, changes, { ifMatch });
    return this.guarded(write, kind, scimId);
  }

  /** A 412 means the resource changed after it was read: the decision must be made again. */
  private async guarded<T>(write: Promise<T>, kind: 'user' | 'group', scimId: string): Promise<T> {
    try {
      return await write;
    } catch (error) {
      if (error instanceof ScimError && error.status === 412) {
        throw new StaleDecisionError(
          `SCIM ${kind} ${scimId} changed since it was read (ETag no longer matches)`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** Tells that `before` is no longer held, unless the twin still answers to it. */
  private freed(
    kind: 'user' | 'group',
    before: string | undefined,
    after: string | undefined,
  ): void {
    if (before === undefined) return;
    if (after !== undefined && before.toLowerCase() === after.toLowerCase()) return;
    this.onNameFreed(kind, before);
  }

  private forgetUserLink(keycloakId: string, scimId: string): void {
    if (this.store.user(keycloakId)?.scimId === scimId) this.store.forgetUser(keycloakId);
  }

  private forgetGroupLink(keycloakId: string, scimId: string): void {
    if (this.store.group(keycloakId)?.scimId === scimId) this.store.forgetGroup(keycloakId);
  }

  private audit(
    kind: 'user' | 'group',
    keycloakId: string,
    scimId: string,
    change: string,
    why: string,
  ): void {
    this.logger?.info({ kind, keycloakId, scimId, why }, `${change} (${why})`);
  }
}
