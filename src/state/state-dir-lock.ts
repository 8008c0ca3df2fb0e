import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** Another process holds the state directory. */
export class StateDirInUseError extends Error {}

/**
 * One writer per STATE_DIR. The lock is an exclusive SQLite transaction held open on
 * `relay.lock` for as long as the relay runs: SQLite takes it as an operating-system file lock,
 * so it is released by the kernel when the process dies, even by SIGKILL, and a stale lock
 * can never keep a restarted relay out. A second opener, in this process or another, is
 * refused at once rather than queued.
 */
export class StateDirLock {
  private constructor(
    private readonly db: Database.Database,
    private readonly pidFile: string,
  ) {}

  static acquire(stateDir: string): StateDirLock {
    const db = new Database(join(stateDir, 'relay.lock'));
    const pidFile = join(stateDir, 'relay.lock.pid');
    try {
      db.pragma('busy_timeout = 0');
      db.exec('BEGIN EXCLUSIVE');
    } catch (error) {
      db.close();
      if (error instanceof Error && 'code' in error && error.code === 'SQLITE_BUSY') {
        throw new StateDirInUseError(
          `STATE_DIR ${stateDir} is in use by another relay process${holderOf(pidFile)}: two relays (or a relay and a resync) on one state directory would race on the same entities. Stop the other one, give this one its own STATE_DIR, or run two replicas on a shared STATE_URL (PostgreSQL), which elects one leader; \`resync --dry-run\` may run beside it`,
          { cause: error },
        );
      }
      throw error;
    }
    // Only to name the holder in the message above; the lock itself is the transaction.
    writeFileSync(pidFile, `${process.pid}\n`);
    return new StateDirLock(db, pidFile);
  }

  /**
   * Whether a process holds the lock on `stateDir`, and its pid as it wrote it, without taking
   * the lock: a read of `relay.lock` needs a shared lock, which the holder's exclusive
   * transaction refuses. The read lasts microseconds; a relay that starts in exactly that
   * moment is refused as if another one ran, and its supervisor starts it again.
   */
  static probe(stateDir: string): { readonly held: boolean; readonly pid?: number | undefined } {
    const file = join(stateDir, 'relay.lock');
    if (!existsSync(file)) return { held: false };
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 0');
      db.prepare('SELECT count(*) FROM sqlite_master').get();
      return { held: false };
    } catch (error) {
      if (error instanceof Error && 'code' in error && error.code === 'SQLITE_BUSY') {
        const pid = Number(holderPid(join(stateDir, 'relay.lock.pid')));
        return { held: true, ...(Number.isInteger(pid) && pid > 0 ? { pid } : {}) };
      }
      throw error;
    } finally {
      db.close();
    }
  }

  release(): void {
    if (!this.db.open) return;
    rmSync(this.pidFile, { force: true });
    this.db.close();
  }
}

function holderOf(pidFile: string): string {
  const pid = holderPid(pidFile);
  return pid === undefined ? '' : ` (pid ${pid})`;
}

/** The pid the holder wrote, when it did. */
function holderPid(pidFile: string): string | undefined {
  try {
    const pid = readFileSync(pidFile, 'utf8').trim();
    return /^\d+$/.test(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}
