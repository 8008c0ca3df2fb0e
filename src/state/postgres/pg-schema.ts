import type { ClientBase } from 'pg';
import { PG_SCHEMA } from './tables.js';

/**
 * The PostgreSQL schema, one step per version, recorded in `schema_version`. Every replica
 * runs the missing steps at start, one replica at a time (a transaction-scoped advisory lock),
 * each step in the same transaction as its version bump: an upgrade is done or not.
 *
 * `scim_id` is unique, as in SQLite, but checked at commit: one replicated batch may move a
 * SCIM id from one Keycloak entity to another in either row order.
 */
const PG_MIGRATIONS: readonly string[] = [
  `
CREATE TABLE "${PG_SCHEMA}".users (
  keycloak_id text PRIMARY KEY,
  scim_id     text NOT NULL,
  user_name   text NOT NULL,
  verified_at bigint NOT NULL DEFAULT 0,
  CONSTRAINT users_scim_id_unique UNIQUE (scim_id) DEFERRABLE INITIALLY DEFERRED
);
CREATE TABLE "${PG_SCHEMA}".groups (
  keycloak_id  text PRIMARY KEY,
  scim_id      text NOT NULL,
  display_name text NOT NULL,
  parent_id    text,
  verified_at  bigint NOT NULL DEFAULT 0,
  CONSTRAINT groups_scim_id_unique UNIQUE (scim_id) DEFERRABLE INITIALLY DEFERRED
);
CREATE TABLE "${PG_SCHEMA}".group_tree (
  keycloak_id text PRIMARY KEY,
  parent_id   text
);
CREATE TABLE "${PG_SCHEMA}".checkpoints (
  name       text PRIMARY KEY,
  value      text NOT NULL,
  updated_at bigint NOT NULL
);
CREATE TABLE "${PG_SCHEMA}".parked (
  key             text PRIMARY KEY,
  hint            text NOT NULL,
  reason          text NOT NULL,
  attempts        integer NOT NULL,
  first_failed_at bigint NOT NULL,
  last_failed_at  bigint NOT NULL
);
CREATE TABLE "${PG_SCHEMA}".member_lists (
  group_scim_id text PRIMARY KEY
);
CREATE TABLE "${PG_SCHEMA}".members (
  group_scim_id text NOT NULL,
  user_scim_id  text NOT NULL,
  PRIMARY KEY (group_scim_id, user_scim_id)
);
`,
];

/** Serialises migrations between replicas starting at once. */
const MIGRATION_LOCK = 0x6b73_7201;

/** Brings the database to the newest schema; refuses one written by a newer relay. */
export async function migratePostgres(client: ClientBase): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${PG_SCHEMA}"`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS "${PG_SCHEMA}".schema_version (version integer NOT NULL)`,
    );
    const found = await client.query<{ version: number }>(
      `SELECT version FROM "${PG_SCHEMA}".schema_version`,
    );
    const current = found.rows[0]?.version ?? 0;
    if (current > PG_MIGRATIONS.length) {
      throw new Error(
        `the PostgreSQL state (STATE_URL) is from a newer relay (schema version ${current}, this relay knows ${PG_MIGRATIONS.length}); run that version`,
      );
    }
    for (let version = current + 1; version <= PG_MIGRATIONS.length; version++) {
      await client.query(PG_MIGRATIONS[version - 1] ?? '');
    }
    if (found.rows.length === 0) {
      await client.query(`INSERT INTO "${PG_SCHEMA}".schema_version (version) VALUES ($1)`, [
        PG_MIGRATIONS.length,
      ]);
    } else if (current < PG_MIGRATIONS.length) {
      await client.query(`UPDATE "${PG_SCHEMA}".schema_version SET version = $1`, [
        PG_MIGRATIONS.length,
      ]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
