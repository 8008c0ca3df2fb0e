import type { Logger } from 'pino';
import type { Hint } from '../domain/hint.js';
import type { KeycloakGroup } from '../domain/keycloak-model.js';
import {
  groupMatches,
  toScimGroup,
  toScimUser,
  userMatches,
  type MappingOptions,
} from '../domain/mapping.js';
import { EVERYTHING, groupInScope, scopesUsers, userInScope, type Scope } from '../domain/scope.js';
import { PermanentError, ScimError } from '../errors.js';
import type { ScimClient } from '../scim/scim-client.js';
import type { ScimGroup, ScimGroupInput, ScimUser, ScimUserInput } from '../scim/scim-types.js';
import type { StateStore } from '../state/state-store.js';
import { KeyedLock } from './keyed-lock.js';
import type { KeycloakReader } from './keycloak-reader.js';

export interface ReconcilerOptions {
  readonly mapping: MappingOptions;
  /** `delete` removes the user's tenant access in Kestra; `deactivate` sets `active=false`. */
  readonly userDeleteMode: 'delete' | 'deactivate';
  /** `inherited`: a member of a child group also counts as a member of every ancestor. */
  readonly membershipMode: 'direct' | 'inherited';
  /** The part of the realm that is provisioned; everything when absent. */
  readonly scope?: Scope;
  readonly logger?: Logger;
}

/** What one reconcile changed on the SCIM side, for counters and resync summaries. */
export type Change = 'created' | 'adopted' | 'updated' | 'deactivated' | 'deleted' | 'unchanged';

/**
 * Makes the SCIM side match Keycloak for one entity at a time. Every method reads Keycloak's
 * current state first, so it is safe to call for any hint, any number of times, in any order.
 */
export class Reconciler {
  private readonly locks = new KeyedLock();
  /** Set once the server refuses `externalId eq` filters; then we rely on the id map alone. */
  private externalIdFilterUnsupported = false;

  constructor(
    private readonly keycloak: KeycloakReader,
    private readonly scim: ScimClient,
    private readonly store: StateStore,
    private readonly options: ReconcilerOptions,
  ) {}

  apply(hint: Hint): Promise<unknown> {
    switch (hint.kind) {
      case 'user':
        return this.reconcileUser(hint.userId);
      case 'group':
        return this.reconcileGroup(hint.groupId, hint.subtree);
      case 'membership':
        return this.reconcileMembership(hint.userId, hint.groupId);
    }
  }

  // Users

  private get scope(): Scope {
    return this.options.scope ?? EVERYTHING;
  }

  /**
   * Returns the SCIM id when the user is provisioned, `undefined` when it must not be (gone,
   * a service account, or out of scope). A user that is new to SCIM also joins its groups:
   * Keycloak announces no membership for default groups or groups given at creation.
   */
  async reconcileUser(keycloakId: string): Promise<{ scimId?: string; change: Change }> {
    return this.locks.run(`user:${keycloakId}`, async () => {
      const user = await this.keycloak.user(keycloakId);
      if (user === undefined || user.serviceAccountClientId !== undefined) {
        return { change: await this.deprovisionUser(keycloakId) };
      }
      let direct: KeycloakGroup[] | undefined;
      if (scopesUsers(this.scope)) {
        direct = await this.directGroups(keycloakId);
        const paths = direct.map((group) => group.path);
        if (!userInScope(this.scope, paths)) {
          return { change: await this.deprovisionUser(keycloakId) };
        }
      }
      const mapped = toScimUser(user, this.options.mapping);
      if (!mapped.ok) throw new PermanentError(mapped.reason);
      const result = await this.ensureUser(keycloakId, mapped.resource);
      if (result.change === 'created' || result.change === 'adopted') {
        await this.joinGroups(result.scimId, direct ?? (await this.directGroups(keycloakId)));
      }
      return result;
    });
  }

  private async directGroups(userId: string): Promise<KeycloakGroup[]> {
    const groups: KeycloakGroup[] = [];
    for await (const group of this.keycloak.userGroups(userId)) groups.push(group);
    return groups;
  }

  /** Adds a newly provisioned user to its in-scope groups (and their ancestors if inherited). */
  private async joinGroups(scimUserId: string, direct: readonly KeycloakGroup[]): Promise<void> {
    const targets = new Map<string, KeycloakGroup>();
    for (const group of direct) {
      const chain =
        this.options.membershipMode === 'inherited' ? await this.affectedGroups(group.id) : [group];
      for (const g of chain) if (groupInScope(this.scope, g.path)) targets.set(g.id, g);
    }
    for (const group of targets.values()) {
      const { scimId } = await this.ensureGroup(group);
      await this.scim.addMembers(scimId, [scimUserId]);
    }
  }

  private async ensureUser(
    keycloakId: string,
    desired: ScimUserInput,
  ): Promise<{ scimId: string; change: Change }> {
    const existing = await this.findUser(keycloakId, desired.userName);
    if (existing !== undefined) {
      await this.assertOwnable('user', existing.externalId, keycloakId, desired.userName);
      const same = userMatches(existing, desired);
      if (!same) await this.scim.replaceUser(existing.id, desired);
      this.store.putUser({ keycloakId, scimId: existing.id, userName: desired.userName });
      return { scimId: existing.id, change: same ? 'unchanged' : 'updated' };
    }

    const created = await this.scim.createUser(desired);
    let change: Change = 'created';
    if (created.adopted) {
      await this.assertOwnable('user', created.resource.externalId, keycloakId, desired.userName);
      change = 'adopted';
      if (!userMatches(created.resource, desired)) {
        await this.scim.replaceUser(created.resource.id, desired);
      }
    }
    this.store.putUser({ keycloakId, scimId: created.resource.id, userName: desired.userName });
    this.options.logger?.info(
      { keycloakId, scimId: created.resource.id, userName: desired.userName },
      `${change} SCIM user ${desired.userName}`,
    );
    return { scimId: created.resource.id, change };
  }

  /** Finds the SCIM user by the id map, then externalId, then userName (adoption). */
  private async findUser(keycloakId: string, userName: string): Promise<ScimUser | undefined> {
    const known = this.store.user(keycloakId);
    if (known !== undefined) {
      const byId = await this.scim.getUser(known.scimId);
      if (byId !== undefined) return byId;
      // Gone on the SCIM side (deleted there, or tenant access removed): look again by name.
    }
    const byExternalId = await this.byExternalId(() => this.scim.findUserByExternalId(keycloakId));
    if (byExternalId !== undefined) return byExternalId;
    return this.scim.findUserByUserName(userName);
  }

  private async deprovisionUser(keycloakId: string): Promise<Change> {
    const known = this.store.user(keycloakId);
    const scimId =
      known?.scimId ??
      (await this.byExternalId(() => this.scim.findUserByExternalId(keycloakId)))?.id;
    if (scimId === undefined) return 'unchanged';

    if (this.options.userDeleteMode === 'deactivate') {
      const current = await this.scim.getUser(scimId);
      if (current === undefined || !(current.active ?? true)) return 'unchanged';
      await this.scim.patchUser(scimId, [{ op: 'replace', path: 'active', value: false }]);
      this.options.logger?.info(
        { keycloakId, scimId },
        `deactivated SCIM user ${current.userName}`,
      );
      return 'deactivated';
    }
    const deleted = await this.scim.deleteUser(scimId);
    this.store.forgetUser(keycloakId);
    if (deleted) this.options.logger?.info({ keycloakId, scimId }, 'deleted SCIM user');
    return deleted ? 'deleted' : 'unchanged';
  }

  // Groups

  /**
   * Creates, renames or deletes the group's SCIM twin. With `subtree`, also every descendant:
   * a rename changes their paths, and a delete takes them all without an event of their own.
   */
  async reconcileGroup(keycloakId: string, subtree: boolean): Promise<Change> {
    const group = await this.keycloak.group(keycloakId);
    if (group === undefined || !groupInScope(this.scope, group.path)) {
      return this.deleteGroupTree(keycloakId);
    }

    const { change } = await this.ensureGroup(group);
    if (subtree) {
      const present = new Set<string>([keycloakId]);
      for await (const descendant of this.keycloak.descendants(keycloakId)) {
        present.add(descendant.id);
        if (groupInScope(this.scope, descendant.path)) await this.ensureGroup(descendant);
        else await this.deleteGroup(descendant.id);
      }
      // Groups we knew below this one that Keycloak no longer lists there were moved or deleted.
      for (const known of this.store.descendantsOf(keycloakId)) {
        if (!present.has(known.keycloakId)) await this.reconcileGroup(known.keycloakId, true);
      }
    }
    return change;
  }

  /** Makes sure the group exists in SCIM with the right name; returns its SCIM id. */
  async ensureGroup(group: KeycloakGroup): Promise<{ scimId: string; change: Change }> {
    return this.locks.run(`group:${group.id}`, async () => {
      const desired = toScimGroup(group, this.options.mapping);
      const existing = await this.findGroup(group.id, desired.displayName);
      let scimId: string;
      let change: Change;
      if (existing !== undefined) {
        await this.assertOwnable('group', existing.externalId, group.id, desired.displayName);
        scimId = existing.id;
        change = groupMatches(existing, desired) ? 'unchanged' : 'updated';
        if (change === 'updated') await this.renameGroup(existing.id, desired);
      } else {
        const created = await this.scim.createGroup(desired);
        scimId = created.resource.id;
        change = created.adopted ? 'adopted' : 'created';
        if (created.adopted) {
          await this.assertOwnable(
            'group',
            created.resource.externalId,
            group.id,
            desired.displayName,
          );
          if (!groupMatches(created.resource, desired)) await this.renameGroup(scimId, desired);
        }
        this.options.logger?.info(
          { keycloakId: group.id, scimId },
          `${change} SCIM group ${desired.displayName}`,
        );
      }
      this.store.putGroup({
        keycloakId: group.id,
        scimId,
        displayName: desired.displayName,
        parentId: group.parentId,
      });
      return { scimId, change };
    });
  }

  /** PATCH, not PUT: a PUT without `members` would empty the group. */
  private async renameGroup(scimId: string, desired: ScimGroupInput): Promise<void> {
    await this.scim.patchGroup(scimId, [
      { op: 'replace', path: 'displayName', value: desired.displayName },
      { op: 'replace', path: 'externalId', value: desired.externalId },
    ]);
  }

  private async findGroup(keycloakId: string, displayName: string): Promise<ScimGroup | undefined> {
    const known = this.store.group(keycloakId);
    if (known !== undefined) {
      const byId = await this.scim.getGroup(known.scimId, { withMembers: false });
      if (byId !== undefined) return byId;
    }
    const byExternalId = await this.byExternalId(() => this.scim.findGroupByExternalId(keycloakId));
    if (byExternalId !== undefined) return byExternalId;
    return this.scim.findGroupByDisplayName(displayName);
  }

  private async deleteGroupTree(keycloakId: string): Promise<Change> {
    let deletedAny = false;
    // Deepest first, so no moment exists where a child outlives its parent's deletion halfway.
    for (const descendant of this.store.descendantsOf(keycloakId)) {
      deletedAny = (await this.deleteGroup(descendant.keycloakId)) || deletedAny;
    }
    deletedAny = (await this.deleteGroup(keycloakId)) || deletedAny;
    return deletedAny ? 'deleted' : 'unchanged';
  }

  private deleteGroup(keycloakId: string): Promise<boolean> {
    return this.locks.run(`group:${keycloakId}`, async () => {
      // The group may still exist under another parent (a move): then it is not ours to delete,
      // unless that move took it out of scope.
      const current = await this.keycloak.group(keycloakId);
      if (current !== undefined && groupInScope(this.scope, current.path)) return false;
      const known = this.store.group(keycloakId);
      const scimId =
        known?.scimId ??
        (await this.byExternalId(() => this.scim.findGroupByExternalId(keycloakId)))?.id;
      if (scimId === undefined) return false;
      const deleted = await this.scim.deleteGroup(scimId);
      this.store.forgetGroup(keycloakId);
      if (deleted) {
        this.options.logger?.info(
          { keycloakId, scimId },
          `deleted SCIM group ${known?.displayName ?? scimId}`,
        );
      }
      return deleted;
    });
  }

  // Memberships

  /**
   * Makes one user's membership in one group (and, in `inherited` mode, in its ancestors)
   * match Keycloak, with a PATCH add or remove of that one member. The user is provisioned
   * first: Kestra refuses members without tenant access.
   */
  async reconcileMembership(userId: string, groupId: string): Promise<Change> {
    const user = await this.reconcileUser(userId);
    if (user.scimId === undefined) return 'unchanged';

    const direct = await this.directGroups(userId);

    let changed = false;
    const affected = await this.affectedGroups(groupId);
    for (const group of affected.filter((g) => groupInScope(this.scope, g.path))) {
      const member = direct.some(
        (g) =>
          g.id === group.id ||
          (this.options.membershipMode === 'inherited' && g.path.startsWith(`${group.path}/`)),
      );
      const { scimId: scimGroupId } = await this.ensureGroup(group);
      if (member) {
        await this.scim.addMembers(scimGroupId, [user.scimId]);
      } else {
        await this.removeMember(scimGroupId, user.scimId);
      }
      changed = true;
    }
    return changed ? 'updated' : 'unchanged';
  }

  /** The group and, in inherited mode, its ancestors; none when the group is gone. */
  private async affectedGroups(groupId: string): Promise<KeycloakGroup[]> {
    const groups: KeycloakGroup[] = [];
    const seen = new Set<string>();
    let next: string | undefined = groupId;
    while (next !== undefined && !seen.has(next)) {
      seen.add(next);
      const group = await this.keycloak.group(next);
      if (group === undefined) break;
      groups.push(group);
      next = this.options.membershipMode === 'inherited' ? group.parentId : undefined;
    }
    return groups;
  }

  /** Removing a member who is not there is success: the server may say `noTarget`. */
  private async removeMember(scimGroupId: string, scimUserId: string): Promise<void> {
    try {
      await this.scim.removeMembers(scimGroupId, [scimUserId]);
    } catch (error) {
      if (error instanceof ScimError && error.status === 400 && error.scimType === 'noTarget')
        return;
      throw error;
    }
  }

  // Shared

  /**
   * A SCIM resource found by name may belong to another Keycloak entity (two groups named
   * alike under GROUP_NAME_SOURCE=name, or a renamed user). Adopt it only when it carries no
   * externalId, ours, or that of an entity Keycloak no longer has.
   */
  private async assertOwnable(
    kind: 'user' | 'group',
    externalId: string | undefined,
    keycloakId: string,
    name: string,
  ): Promise<void> {
    if (externalId === undefined || externalId === '' || externalId === keycloakId) return;
    const other =
      kind === 'user'
        ? await this.keycloak.user(externalId)
        : await this.keycloak.group(externalId);
    if (other === undefined) return;
    throw new PermanentError(
      kind === 'user'
        ? `SCIM userName ${JSON.stringify(name)} already belongs to Keycloak user ${externalId}; Keycloak user ${keycloakId} cannot take it`
        : `SCIM displayName ${JSON.stringify(name)} already belongs to Keycloak group ${externalId}; group ${keycloakId} collides with it (GROUP_NAME_SOURCE=path keeps same-named groups apart)`,
    );
  }

  /** Runs an `externalId eq` lookup, unless the server has shown it cannot filter on it. */
  private async byExternalId<T>(lookup: () => Promise<T | undefined>): Promise<T | undefined> {
    if (this.externalIdFilterUnsupported) return undefined;
    try {
      return await lookup();
    } catch (error) {
      if (error instanceof ScimError && error.status === 400) {
        this.externalIdFilterUnsupported = true;
        this.options.logger?.warn(
          'the SCIM server refuses externalId filters; relying on the relay’s id map and names',
        );
        return undefined;
      }
      throw error;
    }
  }
}
