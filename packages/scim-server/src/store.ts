import { randomUUID } from 'node:crypto';
import type { EqualityTerm } from './filter.js';
import type { MemberChange } from './member-draft.js';
import { applyGroupPatch, applyUserPatchTo, type PatchOperation } from './patch.js';
import {
  NO_EXTRA_ATTRIBUTES,
  type ExtraAttributes,
  type GroupAttributes,
  type MemberInput,
  type StoredGroup,
  type StoredUser,
  type UserAttributes,
} from './records.js';
import { scimError } from './scim-response.js';

/** Attributes a user list can be filtered on. */
export const USER_FILTER_ATTRIBUTES = ['id', 'userName', 'externalId'] as const;
/** Attributes a group list can be filtered on. */
export const GROUP_FILTER_ATTRIBUTES = ['id', 'displayName', 'externalId'] as const;

export type UserFilterAttribute = (typeof USER_FILTER_ATTRIBUTES)[number];
export type GroupFilterAttribute = (typeof GROUP_FILTER_ATTRIBUTES)[number];
export type UserFilter = readonly EqualityTerm<UserFilterAttribute>[];
export type GroupFilter = readonly EqualityTerm<GroupFilterAttribute>[];

/** Where the two server profiles' stores differ (see `ServerProfile`). */
export interface StoreRules {
  /**
   * `revoke-access`: Kestra's SCIM DELETE takes the user's access to this tenant away and keeps
   * the global user and its id. `delete`: the user is gone, as on a plain RFC 7644 server.
   */
  readonly userDelete: 'revoke-access' | 'delete';
  /**
   * How `userName eq` compares. `case-exact` is a plain server that forgets RFC 7643 §4.1.1 in
   * its filter while its uniqueness check still ignores case.
   */
  readonly userNameFilter: 'case-insensitive' | 'case-exact';
}

/** Kestra's rules. */
export const KESTRA_STORE_RULES: StoreRules = {
  userDelete: 'revoke-access',
  userNameFilter: 'case-insensitive',
};

/** One page of a list, before rendering. */
export interface Page<T> {
  readonly totalResults: number;
  readonly resources: readonly T[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type UserRow = Mutable<StoredUser>;
interface GroupRow extends Mutable<Omit<StoredGroup, 'members'>> {
  readonly members: Map<string, string | undefined>;
}

/** What a create answered: `restored` when a known global user got its tenant access back. */
export interface CreatedUser {
  readonly user: StoredUser;
  readonly restored: boolean;
}

function notFound(kind: 'User' | 'Group', id: string): Error {
  return scimError(404, `${kind} "${id}" not found`);
}

function addToIndex(index: Map<string, Set<string>>, key: string | undefined, id: string): void {
  if (key === undefined) return;
  const ids = index.get(key);
  if (ids === undefined) index.set(key, new Set([id]));
  else ids.add(id);
}

function removeFromIndex(
  index: Map<string, Set<string>>,
  key: string | undefined,
  id: string,
): void {
  if (key === undefined) return;
  const ids = index.get(key);
  ids?.delete(id);
  if (ids?.size === 0) index.delete(key);
}

/** Yields one page of an iterable without materialising the rest. */
function page<T>(items: Iterable<T>, total: number, startIndex: number, count: number): Page<T> {
  const resources: T[] = [];
  if (count > 0) {
    let position = 0;
    for (const item of items) {
      position += 1;
      if (position < startIndex) continue;
      resources.push(item);
      if (resources.length >= count) break;
    }
  }
  return { totalResults: total, resources };
}

/**
 * The in-memory state of one Kestra tenant's SCIM integration, and Kestra's rules on it:
 * users are global and only their tenant access is granted and revoked over SCIM; group
 * members must be users with access; userName and group displayName are unique,
 * case-insensitively. Every write checks everything before it changes anything.
 *
 * Indexes (lower-cased userName and displayName, externalId, member-to-groups) keep lookups
 * and membership changes independent of the number of users and groups.
 *
 * `StoreRules` switch the two places where a plain RFC 7644 server differs (user DELETE and the
 * `userName` filter). Every write bumps the resource's `version`, whichever profile serves it.
 */
export class ScimStore {
  /** False when the integration is switched off: every SCIM request is then refused. */
  enabled = true;

  readonly #users = new Map<string, UserRow>();
  /** Users with tenant access, in the order they got it: the order of an unfiltered list. */
  readonly #tenantUsers = new Map<string, UserRow>();
  readonly #userByName = new Map<string, string>();
  readonly #usersByExternalId = new Map<string, Set<string>>();
  readonly #groups = new Map<string, GroupRow>();
  readonly #groupByName = new Map<string, string>();
  readonly #groupsByExternalId = new Map<string, Set<string>>();
  readonly #groupsOfUser = new Map<string, Set<string>>();

  constructor(
    private readonly rules: StoreRules = KESTRA_STORE_RULES,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Forgets every user and group and switches the integration back on. */
  reset(): void {
    this.enabled = true;
    this.#users.clear();
    this.#tenantUsers.clear();
    this.#userByName.clear();
    this.#usersByExternalId.clear();
    this.#groups.clear();
    this.#groupByName.clear();
    this.#groupsByExternalId.clear();
    this.#groupsOfUser.clear();
  }

  // Users

  /** A user with access to this tenant; users without it answer 404, as in Kestra. */
  getUser(id: string): StoredUser {
    return this.#accessibleUser(id);
  }

  /**
   * Creates a user, or gives a known global user (same userName) access to this tenant again:
   * that answers 201 with the user's old id, as Kestra does after a SCIM DELETE.
   */
  createUser(
    attributes: UserAttributes,
    tenantAccess = true,
    extra: ExtraAttributes = NO_EXTRA_ATTRIBUTES,
  ): CreatedUser {
    const existingId = this.#userByName.get(attributes.userName.toLowerCase());
    const existing = existingId === undefined ? undefined : this.#users.get(existingId);
    if (existing !== undefined) {
      if (existing.tenantAccess) {
        throw scimError(
          409,
          `a user with userName "${attributes.userName}" already exists`,
          'uniqueness',
        );
      }
      this.#writeUser(existing, attributes, extra);
      if (tenantAccess) this.#grantAccess(existing);
      return { user: existing, restored: true };
    }
    const now = this.now();
    const row: UserRow = {
      id: randomUUID(),
      attributes,
      tenantAccess: false,
      extra,
      version: 1,
      created: now,
      lastModified: now,
    };
    this.#users.set(row.id, row);
    this.#userByName.set(attributes.userName.toLowerCase(), row.id);
    addToIndex(this.#usersByExternalId, attributes.externalId, row.id);
    if (tenantAccess) this.#grantAccess(row);
    return { user: row, restored: false };
  }

  /** Whether a user with this id is visible over SCIM (has access to this tenant). */
  hasUser(id: string): boolean {
    return this.#tenantUsers.has(id);
  }

  /** Replaces every attribute: what `attributes` and `extra` leave out is cleared. */
  replaceUser(
    id: string,
    attributes: UserAttributes,
    extra: ExtraAttributes = NO_EXTRA_ATTRIBUTES,
  ): StoredUser {
    const row = this.#accessibleUser(id);
    this.#writeUser(row, attributes, extra);
    return row;
  }

  /**
   * Kestra's PATCH: applied to the current attributes in one step, so it never loses a write.
   * Extra attributes change only with `keepExtras`; otherwise they are ignored, as Kestra does.
   */
  patchUser(id: string, operations: readonly PatchOperation[], keepExtras = false): StoredUser {
    const row = this.#accessibleUser(id);
    const result = applyUserPatchTo(row.attributes, row.extra, operations, keepExtras);
    this.#writeUser(row, result.attributes, result.extra);
    return row;
  }

  /**
   * Kestra's SCIM DELETE (`revoke-access`): the user loses access to this tenant and its
   * memberships here, but the global user (and its id) stays. With `delete` it is gone.
   */
  deleteUser(id: string): void {
    const row = this.#accessibleUser(id);
    const now = this.now();
    this.#tenantUsers.delete(id);
    const groupIds = this.#groupsOfUser.get(id);
    this.#groupsOfUser.delete(id);
    for (const groupId of groupIds ?? []) {
      const group = this.#groups.get(groupId);
      if (group === undefined) continue;
      group.members.delete(id);
      group.lastModified = now;
      group.version += 1;
    }
    if (this.rules.userDelete === 'delete') {
      this.#users.delete(id);
      this.#userByName.delete(row.attributes.userName.toLowerCase());
      removeFromIndex(this.#usersByExternalId, row.attributes.externalId, id);
      return;
    }
    row.tenantAccess = false;
    row.lastModified = now;
    row.version += 1;
  }

  listUsers(filter: UserFilter, startIndex: number, count: number): Page<StoredUser> {
    if (filter.length === 0) {
      return page(this.#tenantUsers.values(), this.#tenantUsers.size, startIndex, count);
    }
    const caseExact = this.rules.userNameFilter === 'case-exact';
    const matches = this.#userCandidates(filter).filter(
      (row) => row.tenantAccess && filter.every((term) => userMatches(row, term, caseExact)),
    );
    return page(matches, matches.length, startIndex, count);
  }

  /** Every global user, with or without access to this tenant. */
  allUsers(): Iterable<StoredUser> {
    return this.#users.values();
  }

  #accessibleUser(id: string): UserRow {
    const row = this.#tenantUsers.get(id);
    if (row === undefined) throw notFound('User', id);
    return row;
  }

  #grantAccess(row: UserRow): void {
    row.tenantAccess = true;
    this.#tenantUsers.set(row.id, row);
  }

  /** Stores new attributes after checking that the userName is still unique. */
  #writeUser(row: UserRow, attributes: UserAttributes, extra: ExtraAttributes): void {
    const oldName = row.attributes.userName.toLowerCase();
    const newName = attributes.userName.toLowerCase();
    if (newName !== oldName) {
      if (this.#userByName.has(newName)) {
        throw scimError(
          409,
          `a user with userName "${attributes.userName}" already exists`,
          'uniqueness',
        );
      }
      this.#userByName.delete(oldName);
      this.#userByName.set(newName, row.id);
    }
    removeFromIndex(this.#usersByExternalId, row.attributes.externalId, row.id);
    addToIndex(this.#usersByExternalId, attributes.externalId, row.id);
    row.attributes = attributes;
    row.extra = extra;
    row.lastModified = this.now();
    row.version += 1;
  }

  /** The rows the most selective term can match, found through an index. */
  #userCandidates(filter: UserFilter): UserRow[] {
    const ids = new Set<string>();
    const term =
      filter.find((t) => t.attribute === 'id') ??
      filter.find((t) => t.attribute === 'userName') ??
      filter[0];
    if (term === undefined) return [];
    if (term.attribute === 'id') ids.add(term.value);
    else if (term.attribute === 'userName') {
      const id = this.#userByName.get(term.value.toLowerCase());
      if (id !== undefined) ids.add(id);
    } else for (const id of this.#usersByExternalId.get(term.value) ?? []) ids.add(id);
    return [...ids].flatMap((id) => this.#users.get(id) ?? []);
  }

  // Groups

  getGroup(id: string): StoredGroup {
    return this.#existingGroup(id);
  }

  createGroup(attributes: GroupAttributes, members: readonly MemberInput[]): StoredGroup {
    const name = attributes.displayName.toLowerCase();
    if (this.#groupByName.has(name)) throw duplicateGroup(attributes.displayName);
    const change = membersOf(members);
    this.#checkMembers(change, attributes.displayName);
    const now = this.now();
    const row: GroupRow = {
      id: randomUUID(),
      attributes,
      members: new Map(),
      version: 1,
      created: now,
      lastModified: now,
    };
    this.#groups.set(row.id, row);
    this.#groupByName.set(name, row.id);
    addToIndex(this.#groupsByExternalId, attributes.externalId, row.id);
    this.#applyMembers(row, change);
    return row;
  }

  replaceGroup(
    id: string,
    attributes: GroupAttributes,
    members: readonly MemberInput[],
  ): StoredGroup {
    const row = this.#existingGroup(id);
    this.#writeGroup(row, attributes, { ...membersOf(members), cleared: true });
    return row;
  }

  patchGroup(id: string, operations: readonly PatchOperation[]): StoredGroup {
    const row = this.#existingGroup(id);
    const result = applyGroupPatch(row.attributes, row.members, operations);
    this.#writeGroup(row, result.attributes, result.members);
    return row;
  }

  deleteGroup(id: string): void {
    const row = this.#existingGroup(id);
    for (const userId of row.members.keys()) this.#groupsOfUser.get(userId)?.delete(id);
    this.#groups.delete(id);
    this.#groupByName.delete(row.attributes.displayName.toLowerCase());
    removeFromIndex(this.#groupsByExternalId, row.attributes.externalId, id);
  }

  listGroups(filter: GroupFilter, startIndex: number, count: number): Page<StoredGroup> {
    if (filter.length === 0) {
      return page(this.#groups.values(), this.#groups.size, startIndex, count);
    }
    const matches = this.#groupCandidates(filter).filter((row) =>
      filter.every((term) => groupMatches(row, term)),
    );
    return page(matches, matches.length, startIndex, count);
  }

  allGroups(): Iterable<StoredGroup> {
    return this.#groups.values();
  }

  #existingGroup(id: string): GroupRow {
    const row = this.#groups.get(id);
    if (row === undefined) throw notFound('Group', id);
    return row;
  }

  /** Kestra refuses a member who is unknown or has no access to the tenant. */
  #checkMembers(change: MemberChange, displayName: string): void {
    for (const id of change.added.keys()) {
      if (!this.#tenantUsers.has(id)) {
        throw scimError(
          400,
          `cannot add member "${id}" to group "${displayName}": no user with this id has access to this tenant`,
          'invalidValue',
        );
      }
    }
  }

  #writeGroup(row: GroupRow, attributes: GroupAttributes, change: MemberChange): void {
    const oldName = row.attributes.displayName.toLowerCase();
    const newName = attributes.displayName.toLowerCase();
    if (newName !== oldName && this.#groupByName.has(newName)) {
      throw duplicateGroup(attributes.displayName);
    }
    this.#checkMembers(change, attributes.displayName);
    if (newName !== oldName) {
      this.#groupByName.delete(oldName);
      this.#groupByName.set(newName, row.id);
    }
    removeFromIndex(this.#groupsByExternalId, row.attributes.externalId, row.id);
    addToIndex(this.#groupsByExternalId, attributes.externalId, row.id);
    row.attributes = attributes;
    this.#applyMembers(row, change);
    row.lastModified = this.now();
    row.version += 1;
  }

  #applyMembers(row: GroupRow, change: MemberChange): void {
    if (change.cleared) {
      for (const userId of row.members.keys()) {
        if (!change.added.has(userId)) this.#groupsOfUser.get(userId)?.delete(row.id);
      }
      row.members.clear();
    }
    for (const userId of change.removed) {
      row.members.delete(userId);
      this.#groupsOfUser.get(userId)?.delete(row.id);
    }
    for (const [userId, display] of change.added) {
      row.members.set(userId, display);
      addToIndex(this.#groupsOfUser, userId, row.id);
    }
  }

  #groupCandidates(filter: GroupFilter): GroupRow[] {
    const term =
      filter.find((t) => t.attribute === 'id') ??
      filter.find((t) => t.attribute === 'displayName') ??
      filter[0];
    if (term === undefined) return [];
    let ids: Iterable<string>;
    if (term.attribute === 'id') ids = [term.value];
    else if (term.attribute === 'displayName') {
      const id = this.#groupByName.get(term.value.toLowerCase());
      ids = id === undefined ? [] : [id];
    } else ids = this.#groupsByExternalId.get(term.value) ?? [];
    return [...ids].flatMap((id) => this.#groups.get(id) ?? []);
  }
}

function duplicateGroup(displayName: string): Error {
  return scimError(409, `a group with displayName "${displayName}" already exists`, 'uniqueness');
}

function membersOf(members: readonly MemberInput[]): MemberChange {
  return {
    cleared: false,
    added: new Map(members.map((m) => [m.value, m.display])),
    removed: new Set(),
  };
}

/**
 * userName is case-insensitive (RFC 7643 §4.1.1) unless `caseExact` imitates a server that
 * compares it as stored; id and externalId are case-exact.
 */
function userMatches(row: StoredUser, term: UserFilter[number], caseExact: boolean): boolean {
  switch (term.attribute) {
    case 'id':
      return row.id === term.value;
    case 'userName':
      return caseExact
        ? row.attributes.userName === term.value
        : row.attributes.userName.toLowerCase() === term.value.toLowerCase();
    case 'externalId':
      return row.attributes.externalId === term.value;
  }
}

/** displayName is case-insensitive (RFC 7643 §4.2); id and externalId are case-exact. */
function groupMatches(row: StoredGroup, term: GroupFilter[number]): boolean {
  switch (term.attribute) {
    case 'id':
      return row.id === term.value;
    case 'displayName':
      return row.attributes.displayName.toLowerCase() === term.value.toLowerCase();
    case 'externalId':
      return row.attributes.externalId === term.value;
  }
}
