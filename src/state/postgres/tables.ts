/**
 * The state's tables as PostgreSQL holds them, described once: loading, replicating and
 * change tracking are all driven from this list, so a column added here reaches all three.
 * The layout is the SQLite store's (see `sqlite-schema.ts`), column for column.
 */
export interface ColumnSpec {
  readonly name: string;
  readonly type: 'text' | 'bigint' | 'integer';
}

export interface TableSpec {
  readonly name: string;
  /** The primary key's columns, in order. */
  readonly key: readonly string[];
  /** Every column, key columns included, in the order rows travel. */
  readonly columns: readonly ColumnSpec[];
}

const text = (name: string): ColumnSpec => ({ name, type: 'text' });
const bigint = (name: string): ColumnSpec => ({ name, type: 'bigint' });
const integer = (name: string): ColumnSpec => ({ name, type: 'integer' });

/** The PostgreSQL schema (namespace) that holds the relay's tables. */
export const PG_SCHEMA = 'keycloak_scim_relay';

/** In dependency-free order; one transaction writes them all, so order is only for reading. */
export const TABLES: readonly TableSpec[] = [
  {
    name: 'users',
    key: ['keycloak_id'],
    columns: [text('keycloak_id'), text('scim_id'), text('user_name'), bigint('verified_at')],
  },
  {
    name: 'groups',
    key: ['keycloak_id'],
    columns: [
      text('keycloak_id'),
      text('scim_id'),
      text('display_name'),
      text('parent_id'),
      bigint('verified_at'),
    ],
  },
  { name: 'group_tree', key: ['keycloak_id'], columns: [text('keycloak_id'), text('parent_id')] },
  {
    name: 'checkpoints',
    key: ['name'],
    columns: [text('name'), text('value'), bigint('updated_at')],
  },
  {
    name: 'parked',
    key: ['key'],
    columns: [
      text('key'),
      text('hint'),
      text('reason'),
      integer('attempts'),
      bigint('first_failed_at'),
      bigint('last_failed_at'),
    ],
  },
  { name: 'member_lists', key: ['group_scim_id'], columns: [text('group_scim_id')] },
  {
    name: 'members',
    key: ['group_scim_id', 'user_scim_id'],
    columns: [text('group_scim_id'), text('user_scim_id')],
  },
];

/** `keycloak_scim_relay.users`, quoted. */
export function qualified(table: TableSpec): string {
  return `"${PG_SCHEMA}"."${table.name}"`;
}
