import { describe, expect, it } from 'vitest';
import { Freshness } from '../../src/sync/freshness.js';

describe('Freshness', () => {
  it('tells a full reconcile which entities the event path worked on since its snapshot', () => {
    const freshness = new Freshness();
    freshness.mark('user:before');
    const snapshot = freshness.snapshot();
    freshness.mark('user:after');
    expect(freshness.changedSince(snapshot, 'user:after')).toBe(true);
    expect(freshness.changedSince(snapshot, 'user:before')).toBe(false);
    expect(freshness.changedSince(snapshot, 'user:untouched')).toBe(false);
    snapshot.close();
  });

  it('keeps nothing while no snapshot is open', () => {
    const freshness = new Freshness();
    const first = freshness.snapshot();
    freshness.mark('group:g');
    first.close();
    first.close();
    const second = freshness.snapshot();
    expect(freshness.changedSince(second, 'group:g')).toBe(false);
    freshness.mark('group:g');
    expect(freshness.changedSince(second, 'group:g')).toBe(true);
    second.close();
  });

  it('answers each of two overlapping snapshots from its own start', () => {
    const freshness = new Freshness();
    const older = freshness.snapshot();
    freshness.mark('user:u');
    const newer = freshness.snapshot();
    expect(freshness.changedSince(older, 'user:u')).toBe(true);
    expect(freshness.changedSince(newer, 'user:u')).toBe(false);
    older.close();
    newer.close();
  });
});
