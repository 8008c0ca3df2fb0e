import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Hint } from '../domain/hint.js';
import { migrateSqlite } from './sqlite-schema.js';
import { StateDirLock } from './state-dir-lock.js';
import { WalSync } from './wal-sync.js';

/** What the relay knows about a user it manages. */
export interface UserRecord {
  readonly keycloakId: string;
  readonly scimId: string;
  readonly userName: string;
}

/** What the relay knows about a group it manages; `parentId` lets it find a deleted subtree. */
export interface GroupRecord {
  readonly keycloakId: string;
  readonly scimId: string;
  readonly displayName: string;
  readonly parentId: string | undefined;
}

/** Work that failed permanently, kept with its reason until a later run succeeds. */
export interface ParkedItem {
  readonly key: string;
  readonly hint: Hint;
  readonly reason: string;
  readonly attempts: number;
  readonly firstFailedAt: number;
  readonly lastFailedAt: number;
}

/** A checkpoint as stored: its name, its value (text, often JSON) and when it was written. */
export interface CheckpointRow {
  readonly name: string;
  readonly value: string;
  /** Epoch ms. */
  readonly updatedAt: number;
}

/** The SQLite page cache of a state store, in KiB. */
const PAGE_CACHE_KIB = 4096;
/**
 * How long writes wait, at most, for the commit of their group (see `groupCommits`). Each
 * commit writes every page its group dirtied, and the member rows of a full reconcile land on
 * random pages of the by-user index: of 500,000 such rows, each commit wrote most of that index
 * again. Measured on that many rows, 50 per statement, in a 32 MB cache: committing every 100
 * statements cost 19.6 µs a row, every 700 cost 10.3 µs. A second holds some 700 of a large
 * realm's PATCHes; what must be on disk sooner asks `durable()`, which commits at once.
 */
export const COMMIT_GROUP_MS = 1_000;
/**
 * The page cache while commits are grouped, in KiB. A group dirties thousands of pages of
 * tables keyed by random ids; in the everyday 4 MB, the group evicted and read them again, and
 * spilled them to the log before its commit wrote them once more.
 */
const GROUPED_PAGE_CACHE_KIB = 32 * 1024;

/**
 * The relay's durable memory, in one SQLite file under STATE_DIR: the Keycloak-id to SCIM-id
 * maps (so deletes and renames work even where the SCIM server cannot filter by externalId),
 * the event checkpoints, and parked work.
 *
 * SQLite through better-sqlite3: embedded (nothing to run beside the relay), transactional (a
 * checkpoint is either written or not), synchronous (no interleaving between a read and the
 * write that depends on it), and a single file an operator can inspect with `sqlite3`.
 */
export class StateStore {
  protected readonly db: Database.Database;
  private readonly statements;
  private readonly lock: StateDirLock | undefined;
  private readonly wal: WalSync | undefined;
  /** Callers of `groupCommits` still working; while any is, writes share one transaction. */
  private grouping = 0;
  private groupTimer: NodeJS.Timeout | undefined;
  /** A group's commit that failed on the timer: its writes are lost, the next `durable()` says so. */
  private groupFailure: Error | undefined;
  /** A `transaction` is running: one inside it joins it. */
  private inUnit = false;
  /**
   * Runs its argument in a transaction (a savepoint within a group of commits). Made once:
   * better-sqlite3 builds four wrapper functions for each `db.transaction` call, which cost a
   * cold resync more than the statements they wrapped.
   */
  private readonly inTransaction: <T>(work: () => T) => T;

  protected constructor(db: Database.Database, lock?: StateDirLock) {
    this.db = db;
    this.lock = lock;
    if (!db.readonly) {
      db.pragma('journal_mode = WAL');
      // NORMAL: a commit does not wait for the disk (an fsync per commit would block the event
      // loop for a millisecond each time, most of a cold resync's time); what must survive a
      // power cut before it is reported, a message's work before its ack, waits for `durable()`.
      db.pragma('synchronous = NORMAL');
      if (!db.memory) this.wal = new WalSync(`${db.name}-wal`);
    }
    db.pragma('busy_timeout = 5000');
    // 4 MB of page cache rather than better-sqlite3's 16 MB: once a full reconcile of a large
    // realm has filled it, it stays full for the life of `run`, whose event path reads a few
    // rows by key; the operating system's file cache serves what the smaller one misses.
    db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    migrateSqlite(db);
    const runInTransaction = db.transaction((work: () => unknown) => work());
    this.inTransaction = <T>(work: () => T): T => runInTransaction(work) as T;
    this.statements = {
      getUser: db.prepare<[string], UserRow>('SELECT * FROM users WHERE keycloak_id = ?'),
      userByScimId: db.prepare<[string], UserRow>('SELECT * FROM users WHERE scim_id = ?'),
      userScimIds: db.prepare<[string], { keycloak_id: string; scim_id: string }>(
        'SELECT keycloak_id, scim_id FROM users WHERE keycloak_id IN (SELECT value FROM json_each(?))',
      ),
      // One SCIM resource is one entity's: a new owner takes it from the old one. REPLACE
      // deletes every row in the way, the entity's own and any other holding the SCIM id, in
      // the same statement as the insert, which keeps when the entity was last verified. One
      // statement, not a savepoint and two: a cold resync writes one such row per user.
      putUser: db.prepare<[string, string, string, string, number]>(
        `INSERT OR REPLACE INTO users (keycloak_id, scim_id, user_name, verified_at)
         VALUES (?, ?, ?, coalesce((SELECT verified_at FROM users WHERE keycloak_id = ?), ?))`,
      ),
      deleteUser: db.prepare<[string]>('DELETE FROM users WHERE keycloak_id = ?'),
      allUsers: db.prepare<[], UserRow>('SELECT * FROM users'),
      countUsers: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM users'),
      countGroups: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM groups'),
      usersAfter: db.prepare<[string, number], { keycloak_id: string }>(
        'SELECT keycloak_id FROM users WHERE keycloak_id > ? ORDER BY keycloak_id LIMIT ?',
      ),
      groupsAfter: db.prepare<[string, number], { keycloak_id: string }>(
        'SELECT keycloak_id FROM groups WHERE keycloak_id > ? ORDER BY keycloak_id LIMIT ?',
      ),
      verifyUser: db.prepare<[number, string]>(
        'UPDATE users SET verified_at = max(verified_at, ?) WHERE keycloak_id = ?',
      ),
      verifyGroup: db.prepare<[number, string]>(
        'UPDATE groups SET verified_at = max(verified_at, ?) WHERE keycloak_id = ?',
      ),
      verifyAllUsers: db.prepare<[{ at: number }]>(
        'UPDATE users SET verified_at = @at WHERE verified_at < @at',
      ),
      verifyAllGroups: db.prepare<[{ at: number }]>(
        'UPDATE groups SET verified_at = @at WHERE verified_at < @at',
      ),
      oldestVerified: db.prepare<[], { at: number | null }>(
        'SELECT min(at) AS at FROM (SELECT min(verified_at) AS at FROM users UNION ALL SELECT min(verified_at) FROM groups)',
      ),
      getGroup: db.prepare<[string], GroupRow>('SELECT * FROM groups WHERE keycloak_id = ?'),
      groupByScimId: db.prepare<[string], GroupRow>('SELECT * FROM groups WHERE scim_id = ?'),
      releaseGroupScimId: db.prepare<[string, string]>(
        'DELETE FROM groups WHERE scim_id = ? AND keycloak_id <> ?',
      ),
      putGroup: db.prepare<[string, string, string, string | null, number]>(
        `INSERT INTO groups (keycloak_id, scim_id, display_name, parent_id, verified_at)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (keycloak_id) DO UPDATE SET scim_id = excluded.scim_id,
           display_name = excluded.display_name, parent_id = excluded.parent_id`,
      ),
      deleteGroup: db.prepare<[string]>('DELETE FROM groups WHERE keycloak_id = ?'),
      putNode: db.prepare<[string, string | null]>(
        `INSERT INTO group_tree (keycloak_id, parent_id) VALUES (?, ?)
         ON CONFLICT (keycloak_id) DO UPDATE SET parent_id = excluded.parent_id`,
      ),
      deleteNode: db.prepare<[string]>('DELETE FROM group_tree WHERE keycloak_id = ?'),
      getNode: db.prepare<[string], { parent_id: string | null }>(
        'SELECT parent_id FROM group_tree WHERE keycloak_id = ?',
      ),
      allNodes: db.prepare<[], { keycloak_id: string }>('SELECT keycloak_id FROM group_tree'),
      childNodes: db.prepare<[string], { keycloak_id: string }>(
        'SELECT keycloak_id FROM group_tree WHERE parent_id = ?',
      ),
      allGroups: db.prepare<[], GroupRow>('SELECT * FROM groups'),
      getCheckpoint: db.prepare<[string], { value: string }>(
        'SELECT value FROM checkpoints WHERE name = ?',
      ),
      putCheckpoint: db.prepare<[string, string, number]>(
        `INSERT INTO checkpoints (name, value, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      ),
      deleteCheckpoint: db.prepare<[string]>('DELETE FROM checkpoints WHERE name = ?'),
      allCheckpoints: db.prepare<[], { name: string; value: string; updated_at: number }>(
        'SELECT name, value, updated_at FROM checkpoints ORDER BY name',
      ),
      park: db.prepare<[{ key: string; hint: string; reason: string; at: number }]>(
        `INSERT INTO parked (key, hint, reason, attempts, first_failed_at, last_failed_at)
         VALUES (@key, @hint, @reason, 1, @at, @at)
         ON CONFLICT (key) DO UPDATE SET hint = excluded.hint, reason = excluded.reason,
           attempts = parked.attempts + 1, last_failed_at = excluded.last_failed_at`,
      ),
      unpark: db.prepare<[string]>('DELETE FROM parked WHERE key = ?'),
      allParked: db.prepare<[], ParkedRow>('SELECT * FROM parked ORDER BY first_failed_at'),
      // A range over the primary key rather than LIKE, whose wildcards an id could contain.
      parkedFrom: db.prepare<[string, string], ParkedRow>(
        'SELECT * FROM parked WHERE key >= ? AND key < ? ORDER BY first_failed_at',
      ),
      countParked: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM parked'),
      memberListKnown: db.prepare<[string], { one: number }>(
        'SELECT 1 AS one FROM member_lists WHERE group_scim_id = ?',
      ),
      markMemberList: db.prepare<[string]>(
        'INSERT OR IGNORE INTO member_lists (group_scim_id) VALUES (?)',
      ),
      unmarkMemberList: db.prepare<[string]>('DELETE FROM member_lists WHERE group_scim_id = ?'),
      membersOf: db.prepare<[string], { user_scim_id: string }>(
        'SELECT user_scim_id FROM members WHERE group_scim_id = ?',
      ),
      groupsOfMember: db.prepare<[string], { group_scim_id: string }>(
        'SELECT group_scim_id FROM members WHERE user_scim_id = ?',
      ),
      // A batch of members in one statement, as a JSON array: one call into SQLite per member
      // cost more than the insert itself, half a million times in a big realm's first run.
      addMembers: db.prepare<[string, string]>(
        'INSERT OR IGNORE INTO members (group_scim_id, user_scim_id) SELECT ?, value FROM json_each(?)',
      ),
      removeMembers: db.prepare<[string, string]>(
        'DELETE FROM members WHERE group_scim_id = ? AND user_scim_id IN (SELECT value FROM json_each(?))',
      ),
      clearMembers: db.prepare<[string]>('DELETE FROM members WHERE group_scim_id = ?'),
      forgetMember: db.prepare<[string]>('DELETE FROM members WHERE user_scim_id = ?'),
    };
  }

  /**
   * Opens (creating when needed) `relay.sqlite` in `stateDir`; `:memory:` for unit tests. One
   * process at a time may open a directory to write: a second relay (or a `resync`) on the same
   * STATE_DIR is refused, as two writers would race on the same entities. `readOnly` opens it
   * beside a running relay, for a dry run.
   */
  static open(stateDir: string, options: { readonly readOnly?: boolean } = {}): StateStore {
    if (stateDir === ':memory:') return new StateStore(new Database(':memory:'));
    const file = join(stateDir, 'relay.sqlite');
    if (options.readOnly === true) {
      if (!existsSync(file)) {
        // Nothing was ever written: an empty store in memory reads the same.
        return new StateStore(new Database(':memory:'));
      }
      return new StateStore(new Database(file, { readonly: true, fileMustExist: true }));
    }
    mkdirSync(stateDir, { recursive: true });
    const lock = StateDirLock.acquire(stateDir);
    try {
      return new StateStore(new Database(file), lock);
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  /**
   * Resolves once every write made so far is durable: on disk (one fsync of the write-ahead log
   * shared by every caller meanwhile), or, for a store that replicates elsewhere (PostgreSQL),
   * replicated. A process crash loses no commit either way; this is for power cuts. An open
   * group of commits (see `groupCommits`) is committed first.
   */
  async durable(): Promise<void> {
    // A group's commit that failed on its timer lost writes that may be the caller's.
    const failure = this.groupFailure;
    this.groupFailure = undefined;
    this.commitGroup();
    if (failure !== undefined) throw failure;
    await this.persist();
  }

  /** Makes every commit so far durable: an fsync of the write-ahead log. */
  protected persist(): Promise<void> {
    return this.wal?.sync() ?? Promise.resolve();
  }

  /**
   * Runs `work` with its writes, and everyone else's meanwhile, committed together every
   * {@link COMMIT_GROUP_MS} instead of one by one. A commit writes every page the
   * transaction touched to the log; a full reconcile of 100,000 users made some 130,000 of
   * them, each touching the same few pages again, and those commits were its largest CPU cost.
   *
   * Each `transaction` stays all or nothing (a savepoint within the group), and `durable()`
   * commits the open group first, so what is acked is still on disk. What a crash loses is the
   * group being filled, as a power cut loses the last commits: a suffix of them, never a middle.
   * The caller must be able to redo that much: a full reconcile can, since it leaves a mark
   * that the next start finds (see `resync`).
   */
  async groupCommits<T>(work: () => Promise<T>): Promise<T> {
    if (this.db.readonly) return work();
    this.grouping += 1;
    if (this.grouping === 1) {
      this.db.pragma(`cache_size = -${GROUPED_PAGE_CACHE_KIB}`);
      this.db.exec('BEGIN');
      this.groupTimer = setInterval(() => {
        try {
          this.commitGroup();
        } catch (error) {
          this.groupFailure = error instanceof Error ? error : new Error(String(error));
        }
      }, COMMIT_GROUP_MS);
      this.groupTimer.unref();
    }
    try {
      return await work();
    } finally {
      this.grouping -= 1;
      if (this.grouping === 0) {
        clearInterval(this.groupTimer);
        this.groupTimer = undefined;
        try {
          this.commitGroup();
        } finally {
          // A commit that failed and left the group open: its writes are lost, as in a crash,
          // and the writes that follow must not join a transaction nobody commits.
          if (this.db.inTransaction) this.db.exec('ROLLBACK');
          // Shrinking the cache frees what it held beyond the everyday size.
          this.db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
        }
      }
    }
  }

  /**
   * Commits the open group, if there is one, and opens the next while grouping goes on. Runs
   * between two of the relay's synchronous steps, never inside a `transaction`.
   */
  private commitGroup(): void {
    // Not in one after a commit that failed and rolled the group back.
    if (this.db.inTransaction) this.db.exec('COMMIT');
    if (this.grouping > 0) this.db.exec('BEGIN');
  }

  user(keycloakId: string): UserRecord | undefined {
    const row = this.statements.getUser.get(keycloakId);
    return row === undefined ? undefined : userFromRow(row);
  }

  /** The SCIM ids of those of the Keycloak users the id map has, in one query. */
  userScimIds(keycloakIds: readonly string[]): Map<string, string> {
    const rows = this.statements.userScimIds.all(JSON.stringify(keycloakIds));
    return new Map(rows.map((row) => [row.keycloak_id, row.scim_id]));
  }

  /** The user a SCIM user belongs to, by the id map. */
  userByScimId(scimId: string): UserRecord | undefined {
    const row = this.statements.userByScimId.get(scimId);
    return row === undefined ? undefined : userFromRow(row);
  }

  /** Maps a Keycloak user to a SCIM user; no other Keycloak user keeps that SCIM user. */
  putUser(record: UserRecord): void {
    const { keycloakId, scimId, userName } = record;
    this.statements.putUser.run(keycloakId, scimId, userName, keycloakId, Date.now());
  }

  forgetUser(keycloakId: string): void {
    this.statements.deleteUser.run(keycloakId);
  }

  /** How many users, and groups, the id map holds: what the relay wrote and still manages. */
  linkCounts(): { readonly users: number; readonly groups: number } {
    return {
      users: this.statements.countUsers.get()?.n ?? 0,
      groups: this.statements.countGroups.get()?.n ?? 0,
    };
  }

  users(): UserRecord[] {
    return this.statements.allUsers.all().map(userFromRow);
  }

  // What the relay verified, and when: a reconcile that compared an entity with its twin and
  // left them equal. The periodic sweep walks the id map in Keycloak-id order from a cursor.

  /** Up to `limit` Keycloak ids of mapped users after `keycloakId`, in id order. */
  usersAfter(keycloakId: string, limit: number): string[] {
    return this.statements.usersAfter.all(keycloakId, limit).map((row) => row.keycloak_id);
  }

  /** Up to `limit` Keycloak ids of mapped groups after `keycloakId`, in id order. */
  groupsAfter(keycloakId: string, limit: number): string[] {
    return this.statements.groupsAfter.all(keycloakId, limit).map((row) => row.keycloak_id);
  }

  /** A reconcile of this entity succeeded at `at`. */
  markVerified(kind: 'user' | 'group', keycloakId: string, at = Date.now()): void {
    (kind === 'user' ? this.statements.verifyUser : this.statements.verifyGroup).run(
      at,
      keycloakId,
    );
  }

  /** A full reconcile that began at `at` compared every entity, and completed. */
  markAllVerified(at: number): void {
    this.transaction(() => {
      this.statements.verifyAllUsers.run({ at });
      this.statements.verifyAllGroups.run({ at });
    });
  }

  /** When the entity verified longest ago was verified; undefined when the map is empty. */
  oldestVerified(): number | undefined {
    return this.statements.oldestVerified.get()?.at ?? undefined;
  }

  group(keycloakId: string): GroupRecord | undefined {
    const row = this.statements.getGroup.get(keycloakId);
    return row === undefined ? undefined : groupFromRow(row);
  }

  /** The group a SCIM group belongs to, by the id map. */
  groupByScimId(scimId: string): GroupRecord | undefined {
    const row = this.statements.groupByScimId.get(scimId);
    return row === undefined ? undefined : groupFromRow(row);
  }

  /** Maps a Keycloak group to a SCIM group; no other Keycloak group keeps that SCIM group. */
  putGroup(record: GroupRecord): void {
    this.transaction(() => {
      this.statements.releaseGroupScimId.run(record.scimId, record.keycloakId);
      this.statements.putGroup.run(
        record.keycloakId,
        record.scimId,
        record.displayName,
        record.parentId ?? null,
        Date.now(),
      );
      this.statements.putNode.run(record.keycloakId, record.parentId ?? null);
    });
  }

  forgetGroup(keycloakId: string): void {
    this.statements.deleteGroup.run(keycloakId);
  }

  // The group tree as the relay last saw it in Keycloak, twins or not: a group that could not
  // be provisioned (its name taken) still has children, and members it passes up.

  /** Records where a group sits in Keycloak's tree. */
  putGroupNode(keycloakId: string, parentId: string | undefined): void {
    this.statements.putNode.run(keycloakId, parentId ?? null);
  }

  /** The group is gone from Keycloak. */
  forgetGroupNode(keycloakId: string): void {
    this.statements.deleteNode.run(keycloakId);
  }

  /** Where the relay last saw a group; undefined when it never saw it. */
  groupNode(keycloakId: string): { readonly parentId: string | undefined } | undefined {
    const row = this.statements.getNode.get(keycloakId);
    return row === undefined ? undefined : { parentId: row.parent_id ?? undefined };
  }

  /** Every group id the relay last saw in the tree. */
  groupNodes(): string[] {
    return this.statements.allNodes.all().map((row) => row.keycloak_id);
  }

  /** The ids of a group's known descendants, deepest first, so they can be deleted bottom-up. */
  descendantsOf(keycloakId: string): string[] {
    const found: string[] = [];
    const seen = new Set([keycloakId]);
    const visit = (id: string): void => {
      for (const { keycloak_id: child } of this.statements.childNodes.all(id)) {
        if (seen.has(child)) continue;
        seen.add(child);
        visit(child);
        found.push(child);
      }
    };
    visit(keycloakId);
    return found;
  }

  groups(): GroupRecord[] {
    return this.statements.allGroups.all().map(groupFromRow);
  }

  checkpoint(name: string): string | undefined {
    return this.statements.getCheckpoint.get(name)?.value;
  }

  putCheckpoint(name: string, value: string): void {
    this.statements.putCheckpoint.run(name, value, Date.now());
  }

  /** Every checkpoint, by name, with when it was last written: what `status` shows. */
  checkpointRows(): CheckpointRow[] {
    return this.statements.allCheckpoints
      .all()
      .map((row) => ({ name: row.name, value: row.value, updatedAt: row.updated_at }));
  }

  clearCheckpoint(name: string): void {
    this.statements.deleteCheckpoint.run(name);
  }

  park(key: string, hint: Hint, reason: string, at = Date.now()): void {
    this.statements.park.run({ key, hint: JSON.stringify(hint), reason, at });
  }

  unpark(key: string): void {
    this.statements.unpark.run(key);
  }

  parked(): ParkedItem[] {
    return this.statements.allParked.all().map(parkedFromRow);
  }

  /** Parked work whose key starts with `prefix`, e.g. a user's parked memberships. */
  parkedStartingWith(prefix: string): ParkedItem[] {
    // Every key with the prefix sorts at or after it and before the prefix with its last
    // character raised by one.
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    return this.statements.parkedFrom.all(prefix, end).map(parkedFromRow);
  }

  parkedCount(): number {
    return this.statements.countParked.get()?.n ?? 0;
  }

  // What the relay knows a SCIM group's members are: its own writes, and full listings.

  /** The members of a SCIM group, when the relay knows them all; undefined when it does not. */
  knownMembers(groupScimId: string): Set<string> | undefined {
    if (this.statements.memberListKnown.get(groupScimId) === undefined) return undefined;
    return new Set(this.statements.membersOf.all(groupScimId).map((row) => row.user_scim_id));
  }

  /** Records a group's whole member list, as read from the SCIM side or created empty. */
  putMembers(groupScimId: string, userScimIds: Iterable<string>): void {
    this.transaction(() => {
      const wanted = new Set(userScimIds);
      const known = this.knownMembers(groupScimId);
      if (known === undefined) {
        this.statements.clearMembers.run(groupScimId);
        if (wanted.size > 0)
          this.statements.addMembers.run(groupScimId, JSON.stringify([...wanted]));
        this.statements.markMemberList.run(groupScimId);
        return;
      }
      // Only the difference: a full reconcile records every listed group's members again, and
      // rewriting all of them, half a million unchanged rows at 100,000 users, made that warm
      // resync take 63 s instead of 52 s.
      const added = [...wanted].filter((id) => !known.has(id));
      const removed = [...known].filter((id) => !wanted.has(id));
      if (added.length > 0) this.statements.addMembers.run(groupScimId, JSON.stringify(added));
      if (removed.length > 0) {
        this.statements.removeMembers.run(groupScimId, JSON.stringify(removed));
      }
    });
  }

  /** Records a member change the SCIM side confirmed. */
  changeMembers(groupScimId: string, add: Iterable<string>, remove: Iterable<string>): void {
    this.transaction(() => {
      const added = [...add];
      const removed = [...remove];
      if (added.length > 0) this.statements.addMembers.run(groupScimId, JSON.stringify(added));
      if (removed.length > 0) {
        this.statements.removeMembers.run(groupScimId, JSON.stringify(removed));
      }
    });
  }

  /** Forgets a group's members: it was deleted, or its list can no longer be trusted. */
  forgetMembers(groupScimId: string): void {
    this.transaction(() => {
      this.statements.clearMembers.run(groupScimId);
      this.statements.unmarkMemberList.run(groupScimId);
    });
  }

  /** The SCIM groups the relay knows a SCIM user is a member of. */
  groupsOfMember(userScimId: string): string[] {
    return this.statements.groupsOfMember.all(userScimId).map((row) => row.group_scim_id);
  }

  /** A deleted SCIM user leaves every group (the SCIM server drops its memberships). */
  forgetMember(userScimId: string): void {
    this.statements.forgetMember.run(userScimId);
  }

  /** Runs `work` in one transaction: all of its writes land, or none. */
  transaction<T>(work: () => T): T {
    // Nested calls join the outer transaction, so small writes can be batched by a caller.
    if (this.inUnit) return work();
    this.inUnit = true;
    try {
      // Within a group of commits, better-sqlite3 makes this a savepoint: still all or nothing.
      return this.inTransaction(work);
    } finally {
      this.inUnit = false;
    }
  }

  /** Makes every write durable, then closes the store. */
  async close(): Promise<void> {
    // A group still open is committed: closing would roll it back.
    clearInterval(this.groupTimer);
    if (this.db.inTransaction && !this.db.readonly) this.db.exec('COMMIT');
    // Closing checkpoints the log into the database file, with an fsync of its own.
    this.db.close();
    this.lock?.release();
    await this.wal?.close();
  }
}

interface UserRow {
  keycloak_id: string;
  scim_id: string;
  user_name: string;
}

interface GroupRow {
  keycloak_id: string;
  scim_id: string;
  display_name: string;
  parent_id: string | null;
}

/** A row of the `parked` table, as SQLite and PostgreSQL both hold it. */
export interface ParkedRow {
  key: string;
  hint: string;
  reason: string;
  attempts: number;
  first_failed_at: number;
  last_failed_at: number;
}

function userFromRow(row: UserRow): UserRecord {
  return { keycloakId: row.keycloak_id, scimId: row.scim_id, userName: row.user_name };
}

export function parkedFromRow(row: ParkedRow): ParkedItem {
  return {
    key: row.key,
    hint: JSON.parse(row.hint) as Hint,
    reason: row.reason,
    attempts: row.attempts,
    firstFailedAt: row.first_failed_at,
    lastFailedAt: row.last_failed_at,
  };
}

function groupFromRow(row: GroupRow): GroupRecord {
  return {
    keycloakId: row.keycloak_id,
    scimId: row.scim_id,
    displayName: row.display_name,
    parentId: row.parent_id ?? undefined,
  };
}
