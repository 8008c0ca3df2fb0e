import type Database from 'better-sqlite3';

/**
 * The schema, one step per version. A database records its version (`PRAGMA user_version`);
 * opening it runs the steps it has not seen, each in a transaction, so an upgrade is either done
 * or not. Version 1 is the layout of the first release, created with IF NOT EXISTS so that
 * databases from before versioning start at it too.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `
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
`,
  // Version 2: one SCIM resource is one entity's (earlier versions could map two Keycloak ids
  // to it; the newest mapping wins), and the members the relay knows each group has.
  `
DELETE FROM users WHERE rowid NOT IN (SELECT max(rowid) FROM users GROUP BY scim_id);
CREATE UNIQUE INDEX users_by_scim_id ON users (scim_id);
DELETE FROM groups WHERE rowid NOT IN (SELECT max(rowid) FROM groups GROUP BY scim_id);
CREATE UNIQUE INDEX groups_by_scim_id ON groups (scim_id);
CREATE TABLE member_lists (
  group_scim_id TEXT PRIMARY KEY
);
CREATE TABLE members (
  group_scim_id TEXT NOT NULL,
  user_scim_id  TEXT NOT NULL,
  PRIMARY KEY (group_scim_id, user_scim_id)
);
CREATE INDEX members_by_user ON members (user_scim_id);
`,
  // Version 3: parked memberships get keys of their own (they shared their user's), and the
  // group tree the relay saw, twins or not, so a deleted subtree is found whole.
  `
UPDATE parked SET key = 'membership:' || json_extract(hint, '$.userId') || ':' || json_extract(hint, '$.groupId')
  WHERE json_extract(hint, '$.kind') = 'membership';
CREATE TABLE group_tree (
  keycloak_id TEXT PRIMARY KEY,
  parent_id   TEXT
);
CREATE INDEX group_tree_by_parent ON group_tree (parent_id);
INSERT INTO group_tree (keycloak_id, parent_id) SELECT keycloak_id, parent_id FROM groups;
`,
  // Version 4: when each mapped entity was last verified against its twin. Rows from before
  // count from the upgrade: the sweep verifies them all within one interval.
  `
ALTER TABLE users ADD COLUMN verified_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE groups ADD COLUMN verified_at INTEGER NOT NULL DEFAULT 0;
UPDATE users SET verified_at = CAST(unixepoch('subsec') * 1000 AS INTEGER);
UPDATE groups SET verified_at = CAST(unixepoch('subsec') * 1000 AS INTEGER);
`,
];

/** Brings a database to the newest schema, step by step; refuses one from a newer relay. */
export function migrateSqlite(db: Database.Database): void {
  const current = Number(db.pragma('user_version', { simple: true }));
  if (current > SQLITE_MIGRATIONS.length) {
    throw new Error(
      `the state database is from a newer relay (schema version ${current}, this relay knows ${SQLITE_MIGRATIONS.length}); run that version or start with a new STATE_DIR`,
    );
  }
  if (db.readonly && current < SQLITE_MIGRATIONS.length) {
    throw new Error(
      `the state database has schema version ${current} and this relay needs ${SQLITE_MIGRATIONS.length}: start \`run\` (or a \`resync\` without --dry-run) once to upgrade it`,
    );
  }
  SQLITE_MIGRATIONS.forEach((step, index) => {
    const version = index + 1;
    if (version <= current) return;
    db.transaction(() => {
      db.exec(step);
      db.pragma(`user_version = ${version}`);
    })();
  });
}
