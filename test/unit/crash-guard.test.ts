import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CrashGuard } from '../../src/sources/crash-guard.js';
import { StateStore } from '../../src/state/state-store.js';

/**
 * The crash guard against the real state file, opened afresh for each "run" the way a restarted
 * relay opens it; a run that dies simply never calls `end()`.
 */
describe('CrashGuard', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const stateDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'crash-guard-'));
    dirs.push(dir);
    return dir;
  };
  /** One run of the relay: opens the store, begins, and hands back the guard and the store. */
  const run = (dir: string, limit = 3) => {
    const store = StateStore.open(dir);
    const guard = new CrashGuard(store, limit);
    guard.begin();
    return { guard, store };
  };

  it('trusts a relay whose last run stopped cleanly', () => {
    const dir = stateDir();
    const first = run(dir);
    expect(first.guard.careful).toBe(false);
    expect(first.guard.beforeMessage('m1')).toBeUndefined();
    first.guard.end();
    void first.store.close();
    expect(run(dir).guard.careful).toBe(false);
  });

  it('sets aside only the message in flight at every death, never the ones beside it', () => {
    const dir = stateDir();
    let current = run(dir);
    void current.store.close(); // dies during start: no message in flight
    // Each death: careful, one message at a time; the poison one is always the first taken.
    for (let death = 1; death <= 3; death += 1) {
      current = run(dir);
      expect(current.guard.careful).toBe(true);
      expect(current.guard.beforeMessage('poison')).toBeUndefined();
      void current.store.close(); // killed while handling it
    }
    current = run(dir);
    expect(current.guard.beforeMessage('poison')).toMatch(
      /in flight each of the 3 times the relay died \(AMQP_MAX_DELIVERIES=3\)/,
    );
    current.guard.afterMessage();
    // The valid messages that were in the prefetch window at each death go through.
    for (const valid of ['v1', 'v2', 'v3']) {
      expect(current.guard.beforeMessage(valid)).toBeUndefined();
      current.guard.afterMessage();
    }
  });

  it('forgets a suspect that finished, so deaths must be in a row with it in flight', () => {
    const dir = stateDir();
    let current = run(dir);
    void current.store.close();
    for (let death = 1; death <= 5; death += 1) {
      current = run(dir);
      // A different message in flight at each death: none of them is the cause.
      expect(current.guard.beforeMessage(`m${death}`)).toBeUndefined();
      void current.store.close();
    }
    current = run(dir);
    expect(current.guard.beforeMessage('m5')).toBeUndefined();
    current.guard.afterMessage();
    void current.store.close();
    current = run(dir);
    expect(current.guard.beforeMessage('m5')).toBeUndefined();
  });

  it('trusts itself again after enough messages, or a clean stop', () => {
    const dir = stateDir();
    let current = run(dir);
    void current.store.close();
    current = run(dir);
    expect(current.guard.careful).toBe(true);
    let trusted = false;
    for (let index = 0; index < 20; index += 1) {
      expect(current.guard.beforeMessage(`m${index}`)).toBeUndefined();
      trusted = current.guard.afterMessage();
    }
    expect(trusted).toBe(true);
    expect(current.guard.careful).toBe(false);
    void current.store.close();
    // Died later, trusted by then: the next run is careful again, counting from one.
    current = run(dir);
    expect(current.guard.careful).toBe(true);
    current.guard.end();
    void current.store.close();
    expect(run(dir).guard.careful).toBe(false);
  });
});
