import { randomUUID } from 'node:crypto';
import type {
  KeycloakGroup,
  KeycloakGroupRef,
  KeycloakUser,
} from '../../src/domain/keycloak-model.js';
import type { KeycloakRealmReader } from '../../src/sync/keycloak-reader.js';

/**
 * An in-memory Keycloak realm for property-based tests: users, a group tree and direct
 * memberships, changed through operations with the admin REST API's semantics (Keycloak 25/26),
 * each returning the admin events Keycloak would record for it, and read through the relay's
 * narrow `KeycloakRealmReader` interface the way the real paging reader reads a live server.
 *
 * Behaviour taken from Keycloak's own resources (UserResource, UsersResource, GroupResource,
 * GroupsResource, RoleUtils) and /work/shared/notes/keycloak-facts.md:
 * - usernames and emails are stored lower-cased and are unique case-insensitively (409 otherwise);
 *   a user created without `enabled` is disabled;
 * - group names are unique among siblings (case-sensitive); `path` is `/` + the names of the
 *   ancestors and the group, with no escaping of a `/` inside a name (Keycloak 25);
 * - a subgroup's create and a move into a parent are recorded at `groups/{parentId}/children`,
 *   with the child's id only in the representation; a move to the top level at `groups`; a move to
 *   the parent a group already has changes nothing but is still recorded as an UPDATE;
 * - deleting a group records one DELETE; its subtree and every membership in it go silently;
 *   deleting a user drops its memberships silently;
 * - joining a group the user is already a direct member of records nothing; leaving records a
 *   DELETE whenever the user is a member directly or through a subgroup (RoleUtils.isMember), even
 *   though only a direct membership is removed.
 */

/** An admin event in the stored / RabbitMQ-listener shape that the relay parses. */
export interface FakeAdminEvent {
  readonly time: number;
  readonly realmId: string;
  readonly operationType: 'CREATE' | 'UPDATE' | 'DELETE';
  readonly resourceType: 'USER' | 'GROUP' | 'GROUP_MEMBERSHIP';
  readonly resourcePath: string;
  /** The JSON document Keycloak serialises; absent where Keycloak records none (deletes). */
  readonly representation?: string;
}

/** What an operation returns: the events Keycloak would have recorded, in order. */
export interface Emitted {
  readonly events: readonly FakeAdminEvent[];
}

export interface Created extends Emitted {
  readonly id: string;
}

/** The body of `POST /users`. */
export interface NewUser {
  readonly username: string;
  readonly email?: string | undefined;
  readonly firstName?: string | undefined;
  readonly lastName?: string | undefined;
  /** Keycloak leaves a user created without it disabled. */
  readonly enabled?: boolean | undefined;
  /** Group paths joined at creation: silently, no GROUP_MEMBERSHIP event is recorded. */
  readonly groups?: readonly string[] | undefined;
}

/** The body of `PUT /users/{id}`: absent fields stay; `''` clears an email or a name. */
export interface UserPatch {
  readonly username?: string | undefined;
  readonly email?: string | undefined;
  readonly firstName?: string | undefined;
  readonly lastName?: string | undefined;
  readonly enabled?: boolean | undefined;
}

/** A refused admin request, with the HTTP status Keycloak answers it with. */
export class FakeKeycloakError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
    this.name = 'FakeKeycloakError';
  }
}

/** The realm as plain data, for oracles and assertions (never live objects). */
export interface RealmState {
  /** In creation order. */
  readonly users: readonly KeycloakUser[];
  /** Each parent before its children, siblings by name. */
  readonly groups: readonly KeycloakGroup[];
  /** Direct members (user ids, in join order) of every group, including groups with none. */
  readonly members: ReadonlyMap<string, readonly string[]>;
}

export interface FakeRealmOptions {
  /** The realm's internal id, as events carry it. Default: a random UUID. */
  readonly realmId?: string;
  /** Ids for new users and groups; inject a sequence for a deterministic replay. */
  readonly newId?: () => string;
  /** The time of the first event, epoch ms. */
  readonly startTime?: number;
  /**
   * How far the clock moves after each event. Default 1 (every event its own millisecond);
   * 0 gives runs of same-millisecond events, which Keycloak produces under load.
   */
  readonly stepMs?: number;
  /** Store creates as through the admin client: `users//{id}`, `groups//{id}`. */
  readonly emptySegmentOnCreate?: boolean;
  /** Items per listing request; a listing re-reads the live realm for every page, like Keycloak. */
  readonly pageSize?: number;
  /** The random source for latency. Default `Math.random`. */
  readonly random?: () => number;
  /** Each read yields to the event loop between 1 and this many times. Default 3. */
  readonly maxYields?: number;
  /** And then waits up to this many ms (random). Default 0: no timers, tests stay fast. */
  readonly maxDelayMs?: number;
  /** Replaces the default latency entirely (e.g. with a fast-check scheduler). */
  readonly latency?: (call: string) => Promise<void>;
}

interface UserRecord {
  readonly id: string;
  username: string;
  email: string | undefined;
  firstName: string | undefined;
  lastName: string | undefined;
  enabled: boolean;
}

interface GroupRecord {
  readonly id: string;
  name: string;
  parentId: string | undefined;
}

/** About what Keycloak's default `username-prohibited-characters` validator refuses. */
const PROHIBITED_IN_USERNAME = /[\s<>&"'$%!#?§,;:*~/\\|^=[\]{}()`]/;
/** Keycloak validates email syntax; this is the part of it a generator can trip over. */
const EMAIL = /^[^\s@]+@[^\s@]+$/;

const byString =
  <T>(key: (item: T) => string) =>
  (a: T, b: T): number => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };

export class FakeRealm implements KeycloakRealmReader {
  readonly realmId: string;
  private readonly users_ = new Map<string, UserRecord>();
  private readonly groups_ = new Map<string, GroupRecord>();
  /** userId → the groups it is a direct member of, in join order. */
  private readonly memberships = new Map<string, Set<string>>();
  private readonly log: FakeAdminEvent[] = [];
  private clock: number;
  private readonly stepMs: number;
  private readonly newId: () => string;
  private readonly emptySegmentOnCreate: boolean;
  private readonly pageSize: number;
  private readonly latency: (call: string) => Promise<void>;

  constructor(options: FakeRealmOptions = {}) {
    this.realmId = options.realmId ?? randomUUID();
    this.newId = options.newId ?? randomUUID;
    this.clock = options.startTime ?? Date.UTC(2025, 0, 1);
    this.stepMs = options.stepMs ?? 1;
    if (!(this.stepMs >= 0)) throw new RangeError(`stepMs must be >= 0, got ${this.stepMs}`);
    this.emptySegmentOnCreate = options.emptySegmentOnCreate ?? false;
    this.pageSize = options.pageSize ?? 2;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1) {
      throw new RangeError(`pageSize must be a positive integer, got ${this.pageSize}`);
    }
    const random = options.random ?? Math.random;
    const maxYields = Math.max(1, options.maxYields ?? 3);
    const maxDelayMs = options.maxDelayMs ?? 0;
    this.latency =
      options.latency ??
      (async () => {
        // A random number of event-loop turns lets concurrent reconciles overtake each other
        // without making every test wait on timers.
        const turns = 1 + Math.floor(random() * maxYields);
        for (let turn = 0; turn < turns; turn++) {
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        if (maxDelayMs > 0) {
          await new Promise<void>((resolve) => setTimeout(resolve, random() * maxDelayMs));
        }
      });
  }

  // ---------------------------------------------------------------------------------------------
  // Clock and event log

  /** The time the next event will carry. */
  now(): number {
    return this.clock;
  }

  /** Moves the clock forward, e.g. to put a gap between two bursts. */
  advanceClock(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`the clock only moves forward, got ${ms}`);
    this.clock += ms;
  }

  /** Every event recorded so far, oldest first (what `GET admin-events` would hold). */
  adminEvents(): readonly FakeAdminEvent[] {
    return [...this.log];
  }

  // ---------------------------------------------------------------------------------------------
  // Users

  /** `POST /users`. Refuses a taken username or email (409) and an invalid one (400). */
  createUser(body: NewUser): Created {
    const username = this.validUsername(body.username);
    const email = this.validEmail(body.email);
    this.refuseTaken(username, email, undefined);
    // Groups in the body are resolved before anything is stored: an unknown path fails the
    // whole request, as Keycloak rolls the transaction back.
    const joins = (body.groups ?? []).map((path) => {
      const group = [...this.groups_.values()].find((g) => this.pathOf(g) === path);
      if (group === undefined) throw new FakeKeycloakError(400, `Group ${path} not found`);
      return group.id;
    });
    const id = this.newId();
    this.users_.set(id, {
      id,
      username,
      email,
      firstName: nonEmpty(body.firstName),
      lastName: nonEmpty(body.lastName),
      enabled: body.enabled ?? false,
    });
    this.memberships.set(id, new Set(joins));
    const path = this.emptySegmentOnCreate ? `users//${id}` : `users/${id}`;
    return { id, events: [this.emit('USER', 'CREATE', path, body)] };
  }

  /** `PUT /users/{id}` with a partial body. */
  updateUser(id: string, patch: UserPatch): Emitted {
    const user = this.existingUser(id);
    const username =
      patch.username === undefined ? user.username : this.validUsername(patch.username);
    const email = patch.email === undefined ? user.email : this.validEmail(patch.email);
    this.refuseTaken(username, email, id);
    user.username = username;
    user.email = email;
    if (patch.firstName !== undefined) user.firstName = nonEmpty(patch.firstName);
    if (patch.lastName !== undefined) user.lastName = nonEmpty(patch.lastName);
    if (patch.enabled !== undefined) user.enabled = patch.enabled;
    // Keycloak records the update even when nothing changed.
    return { events: [this.emit('USER', 'UPDATE', `users/${id}`, patch)] };
  }

  /** `DELETE /users/{id}`: its memberships go without an event of their own. */
  deleteUser(id: string): Emitted {
    this.existingUser(id);
    this.users_.delete(id);
    this.memberships.delete(id);
    return { events: [this.emit('USER', 'DELETE', `users/${id}`)] };
  }

  // ---------------------------------------------------------------------------------------------
  // Groups

  /** `POST /groups` without an id: a new top-level group. */
  createGroup(name: string): Created {
    this.validGroupName(name);
    if (this.siblingNamed(undefined, name) !== undefined) {
      throw new FakeKeycloakError(409, `Top level group named '${name}' already exists.`);
    }
    const id = this.newId();
    this.groups_.set(id, { id, name, parentId: undefined });
    const path = this.emptySegmentOnCreate ? `groups//${id}` : `groups/${id}`;
    // Keycloak puts the new id into the request body it records.
    return { id, events: [this.emit('GROUP', 'CREATE', path, { name, id })] };
  }

  /** `POST /groups/{parentId}/children` without an id: a new subgroup. */
  createChildGroup(parentId: string, name: string): Created {
    this.existingGroup(parentId);
    this.validGroupName(name);
    if (this.siblingNamed(parentId, name) !== undefined) {
      throw new FakeKeycloakError(409, `Sibling group named '${name}' already exists.`);
    }
    const id = this.newId();
    this.groups_.set(id, { id, name, parentId });
    return {
      id,
      events: [this.emit('GROUP', 'CREATE', `groups/${parentId}/children`, { name, id })],
    };
  }

  /** `PUT /groups/{id}` with a new name: every descendant's path changes, unannounced. */
  renameGroup(id: string, name: string): Emitted {
    const group = this.existingGroup(id);
    this.validGroupName(name);
    const clash = this.siblingNamed(group.parentId, name);
    if (clash !== undefined && clash.id !== id) {
      throw new FakeKeycloakError(409, `Sibling group named '${name}' already exists.`);
    }
    // The admin console sends the group as it read it: the recorded body carries the old path.
    const body = { id, name, path: this.pathOf(group) };
    group.name = name;
    return { events: [this.emit('GROUP', 'UPDATE', `groups/${id}`, body)] };
  }

  /**
   * `POST /groups/{newParentId}/children` (or `POST /groups` for the top level) with the moved
   * group's id. Refuses a move into the group itself or its own subtree, which would detach it
   * from the tree, and a name already taken at the destination (409).
   */
  moveGroup(id: string, newParentId: string | undefined): Emitted {
    const group = this.existingGroup(id);
    if (newParentId !== undefined) {
      this.existingGroup(newParentId);
      if (newParentId === id || this.ancestorIds(newParentId).includes(id)) {
        throw new FakeKeycloakError(400, `Cannot move group ${id} into its own subtree`);
      }
    }
    const body = { id, name: group.name, path: this.pathOf(group) };
    if (group.parentId !== newParentId) {
      const clash = this.siblingNamed(newParentId, group.name);
      if (clash !== undefined) {
        throw new FakeKeycloakError(
          409,
          newParentId === undefined
            ? `Top level group named '${group.name}' already exists.`
            : `Sibling group named '${group.name}' already exists.`,
        );
      }
      group.parentId = newParentId;
    }
    const path = newParentId === undefined ? 'groups' : `groups/${newParentId}/children`;
    return { events: [this.emit('GROUP', 'UPDATE', path, body)] };
  }

  /** `DELETE /groups/{id}`: one event; the subtree and all memberships in it go silently. */
  deleteGroup(id: string): Emitted {
    this.existingGroup(id);
    const doomed = new Set([id, ...this.subtreeIds(id)]);
    for (const gone of doomed) this.groups_.delete(gone);
    for (const joined of this.memberships.values()) {
      for (const gone of doomed) joined.delete(gone);
    }
    return { events: [this.emit('GROUP', 'DELETE', `groups/${id}`)] };
  }

  // ---------------------------------------------------------------------------------------------
  // Memberships

  /** `PUT /users/{userId}/groups/{groupId}`; nothing is recorded for a direct member already. */
  addMember(userId: string, groupId: string): Emitted {
    this.existingUser(userId);
    const group = this.existingGroup(groupId);
    const joined = this.joinedBy(userId);
    if (joined.has(groupId)) return { events: [] };
    joined.add(groupId);
    return {
      events: [
        this.emit(
          'GROUP_MEMBERSHIP',
          'CREATE',
          `users/${userId}/groups/${groupId}`,
          this.fullRepresentation(group),
        ),
      ],
    };
  }

  /**
   * `DELETE /users/{userId}/groups/{groupId}`. Keycloak checks membership through subgroups too
   * (RoleUtils.isMember) but removes only a direct one: leaving an ancestor of one's group records
   * a DELETE that changed nothing.
   */
  removeMember(userId: string, groupId: string): Emitted {
    this.existingUser(userId);
    const group = this.existingGroup(groupId);
    const joined = this.joinedBy(userId);
    const member = [...joined].some((g) => g === groupId || this.ancestorIds(g).includes(groupId));
    if (!member) return { events: [] };
    joined.delete(groupId);
    return {
      events: [
        this.emit(
          'GROUP_MEMBERSHIP',
          'DELETE',
          `users/${userId}/groups/${groupId}`,
          this.fullRepresentation(group),
        ),
      ],
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Synchronous views for tests and generators (not part of what the relay may call)

  /** User ids in creation order: what "the k-th existing user" counts in. */
  userIds(): string[] {
    return [...this.users_.keys()];
  }

  /** Group ids in creation order. */
  groupIds(): string[] {
    return [...this.groups_.keys()];
  }

  /** Direct memberships as `[userId, groupId]`, by user creation order, then join order. */
  membershipPairs(): [string, string][] {
    const pairs: [string, string][] = [];
    for (const userId of this.users_.keys()) {
      for (const groupId of this.joinedBy(userId)) pairs.push([userId, groupId]);
    }
    return pairs;
  }

  /** A copy of one user, or undefined. */
  peekUser(id: string): KeycloakUser | undefined {
    const user = this.users_.get(id);
    return user === undefined ? undefined : this.userView(user);
  }

  /** A copy of one group, or undefined. */
  peekGroup(id: string): KeycloakGroup | undefined {
    const group = this.groups_.get(id);
    return group === undefined ? undefined : this.groupView(group);
  }

  /** The group with this exact path; the oldest if several share it (a `/` in a name). */
  groupByPath(path: string): KeycloakGroup | undefined {
    const group = [...this.groups_.values()].find((g) => this.pathOf(g) === path);
    return group === undefined ? undefined : this.groupView(group);
  }

  /** The whole realm as plain data. */
  state(): RealmState {
    const members = new Map<string, string[]>();
    for (const groupId of this.groups_.keys()) members.set(groupId, []);
    for (const [userId, groupId] of this.membershipPairs()) members.get(groupId)?.push(userId);
    return {
      users: [...this.users_.values()].map((user) => this.userView(user)),
      groups: this.treeOrder(undefined).map((group) => this.groupView(group)),
      members,
    };
  }

  /** Broken invariants, described; empty when the realm is consistent. */
  invariantViolations(): string[] {
    const problems: string[] = [];
    const seen = new Map<string, string>();
    for (const user of this.users_.values()) {
      if (user.username !== user.username.toLowerCase()) {
        problems.push(`username ${user.username} is not lower-case`);
      }
      if (user.email !== undefined && user.email !== user.email.toLowerCase()) {
        problems.push(`email ${user.email} is not lower-case`);
      }
      for (const key of [
        `u:${user.username}`,
        ...(user.email === undefined ? [] : [`e:${user.email}`]),
      ]) {
        const other = seen.get(key);
        if (other !== undefined) problems.push(`${key} is held by ${other} and ${user.id}`);
        seen.set(key, user.id);
      }
    }
    const siblings = new Set<string>();
    for (const group of this.groups_.values()) {
      const key = `${group.parentId ?? ''}\u0000${group.name}`;
      if (siblings.has(key)) problems.push(`two siblings named ${group.name}`);
      siblings.add(key);
      if (group.parentId !== undefined && !this.groups_.has(group.parentId)) {
        problems.push(`group ${group.id} has a missing parent ${group.parentId}`);
      }
      const visited = new Set<string>();
      for (
        let at: string | undefined = group.id;
        at !== undefined;
        at = this.groups_.get(at)?.parentId
      ) {
        if (visited.has(at)) {
          problems.push(`group ${group.id} is in a cycle`);
          break;
        }
        visited.add(at);
      }
    }
    if (this.treeOrder(undefined).length !== this.groups_.size) {
      problems.push('some groups are not reachable from the top level');
    }
    for (const [userId, joined] of this.memberships) {
      if (!this.users_.has(userId)) problems.push(`memberships kept for deleted user ${userId}`);
      for (const groupId of joined) {
        if (!this.groups_.has(groupId)) {
          problems.push(`user ${userId} is a member of deleted group ${groupId}`);
        }
      }
    }
    return problems;
  }

  // ---------------------------------------------------------------------------------------------
  // KeycloakRealmReader: every call yields to the event loop; listings page over the live realm

  async user(id: string): Promise<KeycloakUser | undefined> {
    await this.latency(`read user ${id}`);
    return this.peekUser(id);
  }

  async group(id: string): Promise<KeycloakGroup | undefined> {
    await this.latency(`read group ${id}`);
    return this.peekGroup(id);
  }

  async groupRef(id: string): Promise<KeycloakGroupRef | undefined> {
    await this.latency(`read group ${id}`);
    const group = this.peekGroup(id);
    return group === undefined ? undefined : refOf(group);
  }

  /** As Keycloak lists them: without the ancestors' names, which only reads can give. */
  userGroups(userId: string): AsyncIterable<KeycloakGroupRef> {
    return this.paged(`list groups of user ${userId}`, () => {
      const joined = this.memberships.get(userId);
      if (joined === undefined || !this.users_.has(userId)) return [];
      return [...joined]
        .flatMap((groupId) => {
          const group = this.groups_.get(groupId);
          return group === undefined ? [] : [group];
        })
        .sort(byString((g) => g.name))
        .map((group) => refOf(this.groupView(group)));
    });
  }

  async *descendants(groupId: string): AsyncGenerator<KeycloakGroupRef, void, undefined> {
    for await (const group of this.walkLevel(groupId)) yield refOf(group);
  }

  groupMemberIds(groupId: string): AsyncIterable<string> {
    return this.paged(`list members of group ${groupId}`, () => {
      if (!this.groups_.has(groupId)) return [];
      return [...this.users_.values()]
        .filter((user) => this.joinedBy(user.id).has(groupId))
        .sort(byString((u) => u.username))
        .map((user) => user.id);
    });
  }

  users(from = 0): AsyncIterable<KeycloakUser> {
    return this.paged('list users', () =>
      [...this.users_.values()]
        .sort(byString((u) => u.username))
        .slice(from)
        .map((user) => this.userView(user)),
    );
  }

  async *groups(): AsyncGenerator<KeycloakGroup, void, undefined> {
    yield* this.walkLevel(undefined);
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  /**
   * A `first`/`max` listing: each page is a request that reads the realm as it is at that moment
   * and copies what it returns, so a realm changing between pages makes the listing skip or
   * repeat an item, as against a real server, but never fail.
   */
  private async *paged<T>(
    call: string,
    all: () => readonly T[],
  ): AsyncGenerator<T, void, undefined> {
    for (let first = 0; ; first += this.pageSize) {
      await this.latency(`${call} (first=${first}, max=${this.pageSize})`);
      const page = all().slice(first, first + this.pageSize);
      yield* page;
      if (page.length < this.pageSize) return;
    }
  }

  /** Like the real reader: list one level page by page, descend into each group with children. */
  private async *walkLevel(
    parentId: string | undefined,
  ): AsyncGenerator<KeycloakGroup, void, undefined> {
    const level = this.paged(
      parentId === undefined ? 'list top-level groups' : `list subgroups of group ${parentId}`,
      () => {
        if (parentId !== undefined && !this.groups_.has(parentId)) return [];
        return this.childrenOf(parentId).map((group) => ({
          group: this.groupView(group),
          subGroupCount: this.childrenOf(group.id).length,
        }));
      },
    );
    for await (const { group, subGroupCount } of level) {
      yield group;
      if (subGroupCount > 0) yield* this.walkLevel(group.id);
    }
  }

  private emit(
    resourceType: FakeAdminEvent['resourceType'],
    operationType: FakeAdminEvent['operationType'],
    resourcePath: string,
    representation?: object,
  ): FakeAdminEvent {
    const event: FakeAdminEvent = {
      time: this.clock,
      realmId: this.realmId,
      operationType,
      resourceType,
      resourcePath,
      ...(representation === undefined ? {} : { representation: JSON.stringify(representation) }),
    };
    this.clock += this.stepMs;
    this.log.push(event);
    return event;
  }

  private existingUser(id: string): UserRecord {
    const user = this.users_.get(id);
    if (user === undefined) throw new FakeKeycloakError(404, 'User not found');
    return user;
  }

  private existingGroup(id: string): GroupRecord {
    const group = this.groups_.get(id);
    if (group === undefined) throw new FakeKeycloakError(404, 'Could not find group by id');
    return group;
  }

  private joinedBy(userId: string): Set<string> {
    let joined = this.memberships.get(userId);
    if (joined === undefined) {
      joined = new Set();
      this.memberships.set(userId, joined);
    }
    return joined;
  }

  private validUsername(raw: string): string {
    if (raw.trim() === '') throw new FakeKeycloakError(400, 'User name is missing');
    const username = raw.toLowerCase();
    if (username.length < 3 || username.length > 255 || PROHIBITED_IN_USERNAME.test(username)) {
      throw new FakeKeycloakError(400, `invalid username ${JSON.stringify(raw)}`);
    }
    return username;
  }

  private validEmail(raw: string | undefined): string | undefined {
    const email = nonEmpty(raw)?.toLowerCase();
    if (email !== undefined && !EMAIL.test(email)) {
      throw new FakeKeycloakError(400, `invalid email ${JSON.stringify(raw)}`);
    }
    return email;
  }

  private validGroupName(name: string): void {
    if (name.trim() === '') throw new FakeKeycloakError(400, 'Group name is missing');
  }

  private refuseTaken(username: string, email: string | undefined, self: string | undefined): void {
    for (const other of this.users_.values()) {
      if (other.id === self) continue;
      if (other.username === username) {
        throw new FakeKeycloakError(409, 'User exists with same username');
      }
      if (email !== undefined && other.email === email) {
        throw new FakeKeycloakError(409, 'User exists with same email');
      }
    }
  }

  private siblingNamed(parentId: string | undefined, name: string): GroupRecord | undefined {
    return this.childrenOf(parentId).find((group) => group.name === name);
  }

  private childrenOf(parentId: string | undefined): GroupRecord[] {
    return [...this.groups_.values()]
      .filter((group) => group.parentId === parentId)
      .sort(byString((g) => g.name));
  }

  private subtreeIds(id: string): string[] {
    return this.treeOrder(id).map((group) => group.id);
  }

  /** The groups below `parentId` (everything for undefined), each parent before its children. */
  private treeOrder(parentId: string | undefined): GroupRecord[] {
    return this.childrenOf(parentId).flatMap((group) => [group, ...this.treeOrder(group.id)]);
  }

  /** Nearest first. Stops at a repeat: a bug that made a cycle shows as a broken invariant. */
  private ancestorIds(id: string): string[] {
    const ancestors: string[] = [];
    for (let at = this.groups_.get(id)?.parentId; at !== undefined && at !== id;) {
      if (ancestors.includes(at)) break;
      ancestors.push(at);
      at = this.groups_.get(at)?.parentId;
    }
    return ancestors;
  }

  /** The names from the top-level ancestor down to the group's own. */
  private namesOf(group: GroupRecord): string[] {
    const names = [
      group.name,
      ...this.ancestorIds(group.id).map((id) => this.groups_.get(id)?.name ?? ''),
    ];
    return names.reverse();
  }

  private pathOf(group: GroupRecord): string {
    return `/${this.namesOf(group).join('/')}`;
  }

  private userView(user: UserRecord): KeycloakUser {
    return {
      id: user.id,
      username: user.username,
      ...(user.email === undefined ? {} : { email: user.email }),
      ...(user.firstName === undefined ? {} : { firstName: user.firstName }),
      ...(user.lastName === undefined ? {} : { lastName: user.lastName }),
      enabled: user.enabled,
    };
  }

  private groupView(group: GroupRecord): KeycloakGroup {
    return {
      id: group.id,
      name: group.name,
      path: this.pathOf(group),
      names: this.namesOf(group),
      ...(group.parentId === undefined ? {} : { parentId: group.parentId }),
    };
  }

  /** `ModelToRepresentation.toRepresentation(group, true)`, as membership events carry it. */
  private fullRepresentation(group: GroupRecord): object {
    return {
      id: group.id,
      name: group.name,
      path: this.pathOf(group),
      ...(group.parentId === undefined ? {} : { parentId: group.parentId }),
      subGroups: [],
      attributes: {},
      realmRoles: [],
      clientRoles: {},
    };
  }
}

/** A group without its `names`, as a user's groups or a subtree are listed. */
function refOf({ names: _names, ...group }: KeycloakGroup): KeycloakGroupRef {
  return group;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * UUID-shaped ids from a counter (`00000000-0000-4000-8000-000000000001`, ...), so that a replay
 * of the same operations yields the same ids and events.
 */
export function sequentialIds(): () => string {
  let next = 0;
  return () => {
    next += 1;
    return `00000000-0000-4000-8000-${next.toString(16).padStart(12, '0')}`;
  };
}

/** A small seeded PRNG (mulberry32) for a reproducible latency schedule. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
