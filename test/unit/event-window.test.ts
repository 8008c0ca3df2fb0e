import { describe, expect, it } from 'vitest';
import {
  advance,
  fingerprint,
  legacyDateFrom,
  newEvents,
  type PollCheckpoint,
  type StoredEvent,
} from '../../src/sources/event-window.js';

const overlap = 10_000;
const event = (time: number, path: string, id?: string): StoredEvent => ({
  time,
  ...(id === undefined ? {} : { id }),
  raw: { time, resourcePath: path, operationType: 'UPDATE', ...(id === undefined ? {} : { id }) },
});

describe('the poll window', () => {
  it('applies each event once across overlapping polls', () => {
    let checkpoint: PollCheckpoint = { watermark: 1_000, seen: [] };
    const first = [event(1_500, 'users/a'), event(2_000, 'users/b')];
    const fresh1 = newEvents(first, checkpoint, overlap);
    expect(fresh1.map((e) => e.time)).toEqual([1_500, 2_000]);
    checkpoint = advance(checkpoint, fresh1, overlap);

    // The next poll re-reads the window and finds one more event.
    const second = [...first, event(2_500, 'users/c')];
    const fresh2 = newEvents(second, checkpoint, overlap);
    expect(fresh2.map((e) => e.time)).toEqual([2_500]);
    checkpoint = advance(checkpoint, fresh2, overlap);
    expect(checkpoint.watermark).toBe(2_500);
    expect(newEvents(second, checkpoint, overlap)).toEqual([]);
  });

  it('keeps apart different events of the same millisecond, even one that arrives later', () => {
    let checkpoint: PollCheckpoint = { watermark: 0, seen: [] };
    const a = event(5_000, 'users/a');
    const b = event(5_000, 'users/b');
    checkpoint = advance(checkpoint, newEvents([a], checkpoint, overlap), overlap);
    // b was committed after the first poll read the table, with the same timestamp as a.
    expect(newEvents([b, a], checkpoint, overlap)).toEqual([b]);
  });

  it('picks up an event committed late with a time before the watermark', () => {
    let checkpoint: PollCheckpoint = { watermark: 0, seen: [] };
    checkpoint = advance(
      checkpoint,
      newEvents([event(9_000, 'users/a')], checkpoint, overlap),
      overlap,
    );
    const late = event(8_000, 'users/late');
    expect(newEvents([event(9_000, 'users/a'), late], checkpoint, overlap)).toEqual([late]);
  });

  it('dedupes an event that paging over a growing table returned twice', () => {
    const a = event(1_000, 'users/a');
    expect(newEvents([a, a], { watermark: 0, seen: [] }, overlap)).toEqual([a]);
  });

  it('returns events oldest first, whatever order the server used', () => {
    const events = [event(3, 'x'), event(1, 'y'), event(2, 'z')];
    expect(newEvents(events, { watermark: 0, seen: [] }, overlap).map((e) => e.time)).toEqual([
      1, 2, 3,
    ]);
  });

  it('uses the event id when there is one (Keycloak 26.2+)', () => {
    expect(fingerprint(event(1, 'users/a', 'e-1'))).toBe('id:e-1');
    expect(fingerprint(event(1, 'users/a'))).toMatch(/^sha1:/);
    expect(fingerprint(event(1, 'users/a'))).not.toBe(fingerprint(event(1, 'users/b')));
  });

  it('hashes content independently of key order', () => {
    const a: StoredEvent = { time: 1, raw: { time: 1, a: 1, b: { c: 2, d: 3 } } };
    const b: StoredEvent = { time: 1, raw: { b: { d: 3, c: 2 }, a: 1, time: 1 } };
    expect(fingerprint(a)).toBe(fingerprint(b));
  });

  it('forgets what fell out of the window, so the checkpoint stays small', () => {
    let checkpoint: PollCheckpoint = { watermark: 0, seen: [] };
    for (let t = 1_000; t <= 100_000; t += 1_000) {
      checkpoint = advance(checkpoint, [event(t, `users/${t}`)], overlap);
    }
    expect(checkpoint.watermark).toBe(100_000);
    expect(checkpoint.seen.length).toBe(11);
    expect(checkpoint.seen.every(([time]) => time >= 90_000)).toBe(true);
  });

  it('asks old servers for a day early enough for any time zone and across midnight', () => {
    // 00:30 UTC: in UTC-12 it is still the previous day (12:30).
    const justAfterMidnight = Date.parse('2026-03-10T00:30:00Z');
    expect(legacyDateFrom(justAfterMidnight)).toBe('2026-03-09');
    // 23:30 UTC: in UTC+14 it is already the next day; the day before still covers it.
    const lateEvening = Date.parse('2026-03-10T23:30:00Z');
    expect(legacyDateFrom(lateEvening)).toBe('2026-03-09');
    for (const offsetHours of [-12, -5, 0, 5.5, 14]) {
      const serverMidnight =
        Date.parse(`${legacyDateFrom(justAfterMidnight)}T00:00:00Z`) - offsetHours * 3_600_000;
      expect(serverMidnight).toBeLessThanOrEqual(justAfterMidnight);
    }
  });
});
