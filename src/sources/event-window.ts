import { createHash } from 'node:crypto';

/**
 * Where the poll source stands in one event stream. Keycloak before 26.2 gives events no id
 * and filters by whole days only, so "after the last event" cannot be asked for directly.
 * Instead the source re-reads a short window before its watermark every time and remembers
 * which events in that window it already applied: nothing is missed (an event committed late,
 * or in the same millisecond as the watermark, still falls in the window) and nothing is applied
 * twice (it is in `seen`).
 */
export interface PollCheckpoint {
  /** Time (epoch ms) of the newest event applied. */
  readonly watermark: number;
  /** The applied events with time >= watermark - overlap: `[time, fingerprint]`. */
  readonly seen: readonly (readonly [number, string])[];
}

/** The fields every stored event has; the rest is hashed as it comes. */
export interface StoredEvent {
  readonly time: number;
  readonly id?: string | undefined;
  /** The event as Keycloak sent it; hashed when there is no id. */
  readonly raw: unknown;
}

/**
 * An event's identity: its id where Keycloak gives one (26.2+), otherwise a hash of its whole
 * content. Two events with identical content in the same millisecond share a fingerprint and are
 * applied once, which is harmless: an event only says "go and look".
 */
export function fingerprint(event: StoredEvent): string {
  if (event.id !== undefined && event.id !== '') return `id:${event.id}`;
  return `sha1:${createHash('sha1').update(stableJson(event.raw)).digest('base64url')}`;
}

export function windowStart(checkpoint: PollCheckpoint, overlapMs: number): number {
  return Math.max(0, checkpoint.watermark - overlapMs);
}

/**
 * The `dateFrom` for Keycloak 25 to 26.1, which read it as a whole day in the SERVER's time
 * zone. One day before the window's UTC date covers every offset (-12h to +14h), and midnight.
 */
export function legacyDateFrom(windowStartMs: number): string {
  return new Date(windowStartMs - 24 * 60 * 60 * 1000).toISOString().slice(0, 10);
}

/** The events in `fetched` not yet applied, oldest first, each once. */
export function newEvents<E extends StoredEvent>(
  fetched: readonly E[],
  checkpoint: PollCheckpoint,
  overlapMs: number,
): E[] {
  const from = windowStart(checkpoint, overlapMs);
  const seen = new Set(checkpoint.seen.map(([, key]) => key));
  const fresh = new Map<string, E>();
  for (const event of fetched) {
    if (event.time < from) continue;
    const key = fingerprint(event);
    if (!seen.has(key) && !fresh.has(key)) fresh.set(key, event);
  }
  // Stable sort: events of the same millisecond keep the order Keycloak returned them in.
  return [...fresh.values()].sort((a, b) => a.time - b.time);
}

/** The checkpoint after every event in `applied` has been applied. */
export function advance(
  checkpoint: PollCheckpoint,
  applied: readonly StoredEvent[],
  overlapMs: number,
): PollCheckpoint {
  const watermark = applied.reduce((max, event) => Math.max(max, event.time), checkpoint.watermark);
  const from = watermark - overlapMs;
  const seen = new Map<string, number>();
  // What is still inside the new window stays: those events will be fetched again.
  for (const [time, key] of checkpoint.seen) if (time >= from) seen.set(key, time);
  for (const event of applied) if (event.time >= from) seen.set(fingerprint(event), event.time);
  return { watermark, seen: [...seen].map(([key, time]) => [time, key] as const) };
}

/** JSON with sorted keys, so the same event hashes the same whichever way it was serialised. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
