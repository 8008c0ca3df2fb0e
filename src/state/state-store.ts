import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Hint } from '../domain/hint.js';

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
  private readonly db: Database.Database;
  private readonly statements;

  private constructor(db: Database.Database) {
    this.db = db;
    db.pragma('journal_mode = WAL');
    // FULL: a checkpoint that was reported written survives a power cut.
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
    this.statements = {
      getUser: db.prepare<[string], UserRow>('SELECT * FROM users WHERE keycloak_id = ?'),
      putUser: db.prepare<[string, string, string]>(
        `INSERT INTO users (keycloak_id, scim_id, user_name) VALUES (?, ?, ?)
         ON CONFLICT (keycloak_id) DO UPDATE SET scim_id = excluded.scim_id, user_name = excluded.user_name`,
      ),
      deleteUser: db.prepare<[string]>('DELETE FROM users WHERE keycloak_id = ?'),
      allUsers: db.prepare<[], UserRow>('SELECT * FROM users'),
      getGroup: db.prepare<[string], GroupRow>('SELECT * FROM groups WHERE keycloak_id = ?'),
      putGroup: db.prepare<[string, string, string, string | null]>(
        `INSERT INTO groups (keycloak_id, scim_id, display_name, parent_id) VALUES (?, ?, ?, ?)
         ON CONFLICT (keycloak_id) DO UPDATE SET scim_id = excluded.scim_id,
           display_name = excluded.display_name, parent_id = excluded.parent_id`,
      ),
      deleteGroup: db.prepare<[string]>('DELETE FROM groups WHERE keycloak_id = ?'),
      childGroups: db.prepare<[string], GroupRow>('SELECT * FROM groups WHERE parent_id = ?'),
      allGroups: db.prepare<[], GroupRow>('SELECT * FROM groups'),
      getCheckpoint: db.prepare<[string], { value: string }>(
        'SELECT value FROM checkpoints WHERE name = ?',
      ),
      putCheckpoint: db.prepare<[string, string, number]>(
        `INSERT INTO checkpoints (name, value, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      ),
      deleteCheckpoint: db.prepare<[string]>('DELETE FROM checkpoints WHERE name = ?'),
      park: db.prepare<[{ key: string; hint: string; reason: string; at: number }]>(
        `INSERT INTO parked (key, hint, reason, attempts, first_failed_at, last_failed_at)
         VALUES (@key, @hint, @reason, 1, @at, @at)
         ON CONFLICT (key) DO UPDATE SET hint = excluded.hint, reason = excluded.reason,
           attempts = parked.attempts + 1, last_failed_at = excluded.last_failed_at`,
      ),
      unpark: db.prepare<[string]>('DELETE FROM parked WHERE key = ?'),
      allParked: db.prepare<[], ParkedRow>('SELECT * FROM parked ORDER BY first_failed_at'),
      countParked: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM parked'),
    };
  }

  /** Opens (creating when needed) `relay.sqlite` in `stateDir`; `:memory:` for unit tests. */
  static open(stateDir: string): StateStore {
    if (stateDir === ':memory:') return new StateStore(new Database(':memory:'));
    mkdirSync(stateDir, { recursive: true });
    return new StateStore(new Database(join(stateDir, 'relay.sqlite')));
  }

  user(keycloakId: string): UserRecord | undefined {
    const row = this.statements.getUser.get(keycloakId);
    return row === undefined ? undefined : userFromRow(row);
  }

  putUser(record: UserRecord): void {
    this.statements.putUser.run(record.keycloakId, record.scimId, record.userName);
  }

  forgetUser(keycloakId: string): void {
    this.statements.deleteUser.run(keycloakId);
  }

  users(): UserRecord[] {
    return this.statements.allUsers.all().map(userFromRow);
  }

  group(keycloakId: string): GroupRecord | undefined {
    const row = this.statements.getGroup.get(keycloakId);
    return row === undefined ? undefined : groupFromRow(row);
  }

  putGroup(record: GroupRecord): void {
    this.statements.putGroup.run(
      record.keycloakId,
      record.scimId,
      record.displayName,
      record.parentId ?? null,
    );
  }

  forgetGroup(keycloakId: string): void {
    this.statements.deleteGroup.run(keycloakId);
  }

  /** The known descendants of a group, deepest first, so they can be deleted bottom-up. */
  descendantsOf(keycloakId: string): GroupRecord[] {
    const found: GroupRecord[] = [];
    const seen = new Set([keycloakId]);
    const visit = (id: string): void => {
      for (const row of this.statements.childGroups.all(id)) {
        if (seen.has(row.keycloak_id)) continue;
        seen.add(row.keycloak_id);
        visit(row.keycloak_id);
        found.push(groupFromRow(row));
      }
    };
    visit(keycloakId);
    return found;
  }

  /** The known direct children of a group. */
  childrenOf(keycloakId: string): GroupRecord[] {
    return this.statements.childGroups.all(keycloakId).map(groupFromRow);
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
    return this.statements.allParked.all().map((row) => ({
      key: row.key,
      hint: JSON.parse(row.hint) as Hint,
      reason: row.reason,
      attempts: row.attempts,
      firstFailedAt: row.first_failed_at,
      lastFailedAt: row.last_failed_at,
    }));
  }

  parkedCount(): number {
    return this.statements.countParked.get()?.n ?? 0;
  }

  /** Runs `work` in one transaction: all of its writes land, or none. */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  close(): void {
    this.db.close();
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  keycloak_id TEXT PRIMARY KEY,
  scim_id     TEXT NOT NULL,
  user_name   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
  keycloak_id  TEXT PRIMARY KEY,
  scim_id      TEXT NOT NULL,
  display_name TEXT NOT NULL,
  parent_id    TEXT
);
CREATE INDEX IF NOT EXISTS groups_by_parent ON groups (parent_id);
CREATE TABLE IF NOT EXISTS checkpoints (
  name       TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS parked (
  key             TEXT PRIMARY KEY,
  hint            TEXT NOT NULL,
  reason          TEXT NOT NULL,
  attempts        INTEGER NOT NULL,
  first_failed_at INTEGER NOT NULL,
  last_failed_at  INTEGER NOT NULL
);
`;

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

interface ParkedRow {
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

function groupFromRow(row: GroupRow): GroupRecord {
  return {
    keycloakId: row.keycloak_id,
    scimId: row.scim_id,
    displayName: row.display_name,
    parentId: row.parent_id ?? undefined,
  };
}
