import { describe, expect, it } from 'vitest';
import { RecentEvents } from '../../src/sources/recent-events.js';

describe('RecentEvents', () => {
  it('remembers a fingerprint for its time, then forgets it', () => {
    let clock = 0;
    const recent = new RecentEvents(1_000, 100, () => clock);
    recent.add('a');
    clock = 999;
    expect(recent.has('a')).toBe(true);
    clock = 1_000;
    expect(recent.has('a')).toBe(false);
  });

  it('keeps a fingerprint seen again for a full time from then', () => {
    let clock = 0;
    const recent = new RecentEvents(1_000, 100, () => clock);
    recent.add('a');
    clock = 800;
    recent.add('a');
    clock = 1_500;
    expect(recent.has('a')).toBe(true);
  });

  it('stays within its size, dropping the oldest first', () => {
    let clock = 0;
    const recent = new RecentEvents(60_000, 3, () => clock);
    for (const fingerprint of ['a', 'b', 'c', 'd']) {
      clock += 1;
      recent.add(fingerprint);
    }
    expect(recent.size).toBe(3);
    expect(recent.has('a')).toBe(false);
    expect(['b', 'c', 'd'].every((fingerprint) => recent.has(fingerprint))).toBe(true);
  });

  it('drops expired fingerprints as new ones come', () => {
    let clock = 0;
    const recent = new RecentEvents(1_000, 100, () => clock);
    for (let index = 0; index < 50; index += 1) recent.add(`old-${index}`);
    clock = 5_000;
    recent.add('new');
    expect(recent.size).toBe(1);
  });
});
