import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SharedFlush, WalSync } from '../../src/state/wal-sync.js';

/** A flush that ends when the test says so, counting how often it began. */
function manualFlush() {
  const ends: (() => void)[] = [];
  let began = 0;
  const flush = new SharedFlush(
    () =>
      new Promise<void>((resolve) => {
        began += 1;
        ends.push(resolve);
      }),
  );
  const endNext = async (): Promise<void> => {
    ends.shift()?.();
    // Let the callbacks of the ended run (and the start of a queued one) happen.
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { flush, endNext, began: () => began };
}

describe('one flush shared among those who ask', () => {
  it('starts a flush for the first caller and shares it with no one who came later', async () => {
    const { flush, endNext, began } = manualFlush();
    let first = false;
    void flush.request().then(() => (first = true));
    expect(began()).toBe(1);
    let second = false;
    void flush.request().then(() => (second = true));
    // The second caller may have written after the running flush began: it waits for another.
    expect(began()).toBe(1);
    await endNext();
    expect(first).toBe(true);
    expect(second).toBe(false);
    expect(began()).toBe(2);
    await endNext();
    expect(second).toBe(true);
  });

  it('needs at most two flushes however many ask at once', async () => {
    const { flush, endNext, began } = manualFlush();
    const done: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) done.push(flush.request());
    await endNext();
    await endNext();
    await Promise.all(done);
    expect(began()).toBe(2);
  });

  it('passes a failed flush on to its callers, and the next one runs afresh', async () => {
    let fail = true;
    const flush = new SharedFlush(() =>
      fail ? Promise.reject(new Error('disk gone')) : Promise.resolve(),
    );
    await expect(flush.request()).rejects.toThrow('disk gone');
    fail = false;
    await expect(flush.request()).resolves.toBeUndefined();
  });
});

describe('syncing a SQLite write-ahead log', () => {
  it('syncs the log of a database in WAL mode, and is fine before anything was written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wal-sync-'));
    try {
      const file = join(dir, 'x.sqlite');
      const wal = new WalSync(`${file}-wal`);
      await wal.sync();
      const db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec('CREATE TABLE t (v TEXT)');
      db.prepare('INSERT INTO t VALUES (?)').run('kept');
      await Promise.all([wal.sync(), wal.sync(), wal.sync()]);
      await wal.close();
      db.close();
      const again = new Database(file, { readonly: true });
      expect(again.prepare('SELECT v FROM t').pluck().get()).toBe('kept');
      again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
