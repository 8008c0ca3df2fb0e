import type Database from 'better-sqlite3';
import { TABLES, type TableSpec } from './tables.js';

/** A changed row's key: its table, and one or two key values. */
interface ChangedKey {
  readonly tbl: string;
  readonly k1: string;
  readonly k2: string;
}

/** What changed in one table since the last collection: rows as they are now, or gone. */
export interface TableChanges {
  readonly table: TableSpec;
  /** Whole rows, values in `table.columns` order. */
  readonly upserts: readonly (readonly unknown[])[];
  /** Keys, values in `table.key` order. */
  readonly deletes: readonly (readonly string[])[];
}

/** Everything that changed since the last collection, as one consistent moment of the store. */
export interface ChangeSet {
  readonly tables: readonly TableChanges[];
  readonly keys: readonly ChangedKey[];
}

/**
 * Records, by trigger, which rows of the local SQLite store changed, so that they can be sent
 * to PostgreSQL. Only keys are recorded; a collection reads the rows as they are at that
 * moment. SQLite is synchronous and single-threaded here, so a collection sees no half-done
 * transaction: each one is a consistent snapshot of the changed rows, and replicating the
 * snapshots in order keeps PostgreSQL consistent too (a checkpoint never lands ahead of the
 * work it stands for).
 */
export class ChangeTracker {
  private readonly readChanged;
  private readonly clearChanged;
  private readonly markChanged;
  private readonly anyChanged;
  private readonly rowByKey: ReadonlyMap<string, Database.Statement<string[], unknown[]>>;

  constructor(private readonly db: Database.Database) {
    // An INSERT OR REPLACE deletes the rows in its way (the id map's `putUser` gives a SCIM id
    // to its new owner that way), and SQLite fires delete triggers for those only with
    // recursive triggers on: without them, the old owner's row stayed in PostgreSQL.
    db.pragma('recursive_triggers = ON');
    db.exec(`CREATE TABLE IF NOT EXISTS changed (
      tbl TEXT NOT NULL, k1 TEXT NOT NULL, k2 TEXT NOT NULL, PRIMARY KEY (tbl, k1, k2)
    ) WITHOUT ROWID`);
    for (const table of TABLES) {
      const keyOf = (row: 'NEW' | 'OLD'): string =>
        `'${table.name}', ${row}.${table.key[0] ?? ''}, ${table.key[1] === undefined ? "''" : `${row}.${table.key[1]}`}`;
      const track = (event: string, rows: readonly ('NEW' | 'OLD')[]): void => {
        // Not INSERT OR IGNORE: a trigger's conflict clause yields to the firing statement's,
        // and an upsert's would turn a repeated key into an error.
        const inserts = rows
          .map(
            (row) =>
              `INSERT INTO changed (tbl, k1, k2) SELECT ${keyOf(row)} WHERE NOT EXISTS (SELECT 1 FROM changed WHERE (tbl, k1, k2) = (${keyOf(row)}));`,
          )
          .join(' ');
        db.exec(
          `CREATE TRIGGER IF NOT EXISTS track_${table.name}_${event.toLowerCase()} AFTER ${event} ON ${table.name} BEGIN ${inserts} END`,
        );
      };
      track('INSERT', ['NEW']);
      track('UPDATE', ['OLD', 'NEW']);
      track('DELETE', ['OLD']);
    }
    this.readChanged = db.prepare<[], ChangedKey>('SELECT tbl, k1, k2 FROM changed');
    this.clearChanged = db.prepare('DELETE FROM changed');
    this.markChanged = db.prepare<[string, string, string]>(
      'INSERT OR IGNORE INTO changed (tbl, k1, k2) VALUES (?, ?, ?)',
    );
    this.anyChanged = db.prepare<[], { one: number }>('SELECT 1 AS one FROM changed LIMIT 1');
    this.rowByKey = new Map(
      TABLES.map((table) => [
        table.name,
        db
          .prepare<string[], unknown[]>(
            `SELECT ${table.columns.map((c) => c.name).join(', ')} FROM ${table.name} WHERE ${table.key.map((k) => `${k} = ?`).join(' AND ')}`,
          )
          .raw(),
      ]),
    );
  }

  /** Whether anything changed since the last collection. */
  pending(): boolean {
    return this.anyChanged.get() !== undefined;
  }

  /** Takes what changed since the last collection, and starts recording afresh. */
  collect(): ChangeSet {
    return this.db.transaction((): ChangeSet => {
      const keys = this.readChanged.all();
      this.clearChanged.run();
      const byTable = new Map<string, { upserts: unknown[][]; deletes: string[][] }>();
      for (const key of keys) {
        const table = TABLES.find((t) => t.name === key.tbl);
        const lookup = this.rowByKey.get(key.tbl);
        if (table === undefined || lookup === undefined) continue;
        const keyValues = table.key.length === 1 ? [key.k1] : [key.k1, key.k2];
        const entry = byTable.get(key.tbl) ?? { upserts: [], deletes: [] };
        byTable.set(key.tbl, entry);
        const row = lookup.get(...keyValues);
        if (row === undefined) entry.deletes.push(keyValues);
        else entry.upserts.push(row);
      }
      return {
        keys,
        tables: TABLES.flatMap((table) => {
          const entry = byTable.get(table.name);
          return entry === undefined ? [] : [{ table, ...entry }];
        }),
      };
    })();
  }

  /** Puts a collection back, after it could not be replicated: it goes with the next one. */
  restore(changes: ChangeSet): void {
    this.db.transaction(() => {
      for (const key of changes.keys) this.markChanged.run(key.tbl, key.k1, key.k2);
    })();
  }
}
