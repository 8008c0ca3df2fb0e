import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Hint } from '../domain/hint.js';
import {
  USER_EVENT_TYPES,
  adminEventSchema,
  describeParseError,
  hintsFromAdminEvent,
  eventFingerprint,
  hintsFromUserEvent,
  userEventSchema,
  type EventMeaning,
} from '../domain/keycloak-event.js';
import { PermanentError, credentialsRefusedBy, describeError } from '../errors.js';
import type { StateStore } from '../state/state-store.js';
import type { Outcome } from '../sync/work-queue.js';
import {
  advance,
  fingerprint,
  legacyDateFrom,
  newEvents,
  windowStart,
  type PollCheckpoint,
  type StoredEvent,
} from './event-window.js';

/** Which stored events to read: everything from `dateFrom` on. */
export interface EventWindowQuery {
  /** `yyyy-MM-dd`, or epoch milliseconds as a string on Keycloak 26.2+. */
  readonly dateFrom: string;
  /** Only sent to Keycloak 26.2+; older servers always answer newest first. */
  readonly direction?: 'asc';
}

/**
 * Keycloak's stored events, read page by page behind an async iterator; the poll source stops
 * iterating once it has what it needs. The Keycloak access layer implements this.
 */
export interface EventApi {
  adminEvents(query: EventWindowQuery): AsyncIterable<unknown>;
  userEvents(
    query: EventWindowQuery & { readonly types: readonly string[] },
  ): AsyncIterable<unknown>;
}

export interface PollSourceOptions {
  readonly intervalMs: number;
  /** How far before the watermark each poll looks again, for late or same-millisecond events. */
  readonly overlapMs: number;
  /** Admin and user event retention of the realm; a longer gap means events were lost. */
  readonly retentionMs?: number | undefined;
  /** Names the checkpoints (`<name>.admin`, `<name>.user`); default `poll`. */
  readonly checkpointName?: string | undefined;
  /**
   * Events younger than this are left for the next round: the backstop gives the queue that
   * long to bring an event before it counts the event as lost by the listener. Default 0.
   */
  readonly settleMs?: number | undefined;
  /** An event already brought by another way (the queue): read past, not applied again. */
  readonly alreadyApplied?: ((fingerprint: string) => boolean) | undefined;
  /**
   * The first poll waits one interval instead of running at start. The backstop's does: after a
   * restart the queue still holds what the listener published meanwhile, and it must have the
   * time to bring it before the backstop takes those events for lost ones.
   */
  readonly firstPollAfterInterval?: boolean | undefined;
  readonly logger?: Logger;
}

/** Counters a caller may want; called once per stored event read, and per malformed one. */
export interface PollSourceHooks {
  readonly onReceived?: (kind: 'admin' | 'user') => void;
  readonly onMalformed?: (reason: string) => void;
  /** Every event up to the poll's start is applied: the moment of the last successful sync. */
  readonly onPolled?: () => void;
  /** An event applied that `alreadyApplied` did not know: one the listener lost. */
  readonly onRecovered?: (kind: 'admin' | 'user') => void;
}

/** A gap longer than Keycloak keeps events: only a full resync can close it. */
export class RetentionExceededError extends PermanentError {}

interface Stream {
  readonly name: 'admin' | 'user';
  readonly fetch: (query: EventWindowQuery) => AsyncIterable<unknown>;
  readonly toHints: (
    raw: unknown,
  ) => (EventMeaning & { readonly fingerprint: string }) | { readonly error: string };
}

interface SavedCheckpoint extends PollCheckpoint {
  /** When (relay clock) the last complete poll started: the stream is known up to then. */
  readonly checkedAt: number;
  /** Set once the server showed event ids: Keycloak 26.2+, which pages by epoch ms, ascending. */
  readonly modern: boolean;
}

/**
 * Polls Keycloak's stored admin and user events and turns them into hints. The checkpoint of a
 * stream advances only after every hint of the poll is applied (or parked), and is written
 * durably before the next poll: a crash repeats work, it never skips it.
 */
export class PollSource {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly streams: Stream[];
  /** When the last poll of a stream completed (epoch ms); 0 before the first. */
  private lastPolled = 0;
  /** Events without a numeric `time` already reported (see `reportUntimed`). */
  private readonly reportedUntimed = new Set<string>();

  constructor(
    private readonly api: EventApi,
    private readonly store: StateStore,
    private readonly submit: (hint: Hint) => Promise<Outcome>,
    private readonly options: PollSourceOptions,
    private readonly hooks: PollSourceHooks = {},
  ) {
    this.streams = [
      {
        name: 'admin',
        fetch: (query) => this.api.adminEvents(query),
        toHints: (raw) =>
          parseWith(adminEventSchema, 'admin event', raw, (event) => ({
            ...hintsFromAdminEvent(event),
            fingerprint: eventFingerprint({ kind: 'admin', event }),
          })),
      },
      {
        name: 'user',
        fetch: (query) => this.api.userEvents({ ...query, types: USER_EVENT_TYPES }),
        toHints: (raw) =>
          parseWith(userEventSchema, 'user event', raw, (event) => ({
            ...hintsFromUserEvent(event),
            fingerprint: eventFingerprint({ kind: 'user', event }),
          })),
      },
    ];
  }

  /**
   * Starts polling: at once (or after `intervalMs` with `firstPollAfterInterval`), then
   * `intervalMs` after each poll ends. Rejects when the checkpoint is older than the events'
   * retention: changes may have been lost, and only a resync can repair that.
   *
   * The first poll runs in the background: it re-reads the overlap window, seconds of work
   * under a heavy stream, and a replica taking over must not stay unready meanwhile. It counts
   * as healthy from now on, until polls stop completing.
   */
  start(): Promise<void> {
    const now = Date.now();
    for (const stream of this.streams) {
      this.assertWithinRetention(stream, this.load(stream, now), now);
    }
    this.lastPolled = now;
    this.schedule(this.options.firstPollAfterInterval === true ? this.options.intervalMs : 0);
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    // A failed poll was reported to whoever awaited it; stopping only waits for it to end.
    await this.running?.catch(() => undefined);
  }

  /** Healthy while polls keep completing: none missed for three intervals (or 30 s). */
  get connected(): boolean {
    return Date.now() - this.lastPolled < Math.max(3 * this.options.intervalMs, 30_000);
  }

  /** One poll of both streams; resolves with the number of new events applied. */
  async pollOnce(): Promise<number> {
    let applied = 0;
    const run = (async () => {
      for (const stream of this.streams) applied += await this.pollStream(stream);
      this.hooks.onPolled?.();
    })();
    this.running = run;
    await run;
    return applied;
  }

  /** Marks both streams as checked up to now, without reading old events: after a resync. */
  resetToNow(now = Date.now()): void {
    for (const stream of this.streams) {
      this.save(stream, { watermark: now, seen: [], checkedAt: now, modern: false });
    }
  }

  private schedule(delayMs = this.options.intervalMs): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.pollOnce()
        .catch((error: unknown) => {
          // Stopping cuts a poll short on purpose: its events are read again next start.
          if (this.stopped) return;
          // Refused credentials are logged once, by whoever watches them, not at every poll.
          const level = credentialsRefusedBy(error) === undefined ? 'error' : 'debug';
          this.options.logger?.[level]({ error: describeError(error) }, 'polling Keycloak failed');
        })
        .finally(() => {
          this.schedule();
        });
    }, delayMs);
  }

  private async pollStream(stream: Stream): Promise<number> {
    const startedAt = Date.now();
    const checkpoint = this.load(stream, startedAt);
    this.assertWithinRetention(stream, checkpoint, startedAt);

    const { events: fetched, untimed } = await this.fetchWindow(stream, checkpoint);
    const modern = checkpoint.modern || fetched.some((event) => event.id !== undefined);
    const settled = startedAt - (this.options.settleMs ?? 0);
    const fresh = newEvents(fetched, checkpoint, this.options.overlapMs).filter(
      (event) => event.time <= settled,
    );
    for (const raw of untimed) this.reportUntimed(stream, raw);

    const work: Promise<Outcome>[] = [];
    for (const event of fresh) {
      this.hooks.onReceived?.(stream.name);
      const meaning = stream.toHints(event.raw);
      if ('error' in meaning) {
        // Skipped, yet part of `fresh`: the checkpoint moves past it like past any other event.
        this.reportMalformed(stream, event.time, meaning.error);
        continue;
      }
      if (this.options.alreadyApplied?.(meaning.fingerprint) === true) continue;
      if (this.options.alreadyApplied !== undefined) this.hooks.onRecovered?.(stream.name);
      if ('ignored' in meaning) {
        this.options.logger?.debug({ stream: stream.name, time: event.time }, meaning.ignored);
      }
      for (const hint of meaning.hints) work.push(this.submit(hint));
    }
    await Promise.all(work);

    const next = advance(checkpoint, fresh, this.options.overlapMs);
    this.save(stream, { ...next, checkedAt: startedAt, modern });
    this.lastPolled = Date.now();
    if (fresh.length > 0) {
      this.options.logger?.debug({ stream: stream.name, events: fresh.length }, 'applied events');
    }
    return fresh.length;
  }

  /**
   * Reads every event from the window's start on, whatever order the server uses. Events without
   * a numeric `time` cannot be placed in the window: they come back apart, to be reported.
   */
  private async fetchWindow(
    stream: Stream,
    checkpoint: SavedCheckpoint,
  ): Promise<{ events: StoredEvent[]; untimed: unknown[] }> {
    const from = windowStart(checkpoint, this.options.overlapMs);
    const events: StoredEvent[] = [];
    const untimed: unknown[] = [];
    const query: EventWindowQuery = checkpoint.modern
      ? { dateFrom: String(from), direction: 'asc' }
      : { dateFrom: legacyDateFrom(from) };
    for await (const raw of stream.fetch(query)) {
      const event = storedEventOf(raw);
      if (event === undefined) {
        untimed.push(raw);
        continue;
      }
      // Newest first (before 26.2): the first event behind the window means the rest are too.
      if (event.time < from && !checkpoint.modern) break;
      events.push(event);
    }
    return { events, untimed };
  }

  /**
   * Reports an event without a numeric `time` once per process: the checkpoint cannot hold it
   * (it has no place in the window), so every poll reads it again, and it must not count again.
   */
  private reportUntimed(stream: Stream, raw: unknown): void {
    const key = `${stream.name}:${fingerprint({ time: 0, raw })}`;
    if (this.reportedUntimed.has(key)) return;
    this.reportedUntimed.add(key);
    this.hooks.onReceived?.(stream.name);
    const meaning = stream.toHints(raw);
    const reason =
      'error' in meaning ? meaning.error : `malformed ${stream.name} event: time: not a number`;
    this.reportMalformed(stream, undefined, reason);
  }

  /** Keycloak stays the truth: a malformed event is reported and skipped, the resync repairs. */
  private reportMalformed(stream: Stream, time: number | undefined, reason: string): void {
    this.options.logger?.error({ stream: stream.name, time }, reason);
    this.hooks.onMalformed?.(reason);
  }

  private assertWithinRetention(stream: Stream, checkpoint: SavedCheckpoint, now: number): void {
    const retention = this.options.retentionMs;
    if (retention === undefined || now - checkpoint.checkedAt <= retention) return;
    throw new RetentionExceededError(
      `the ${stream.name}-event checkpoint is from ${new Date(checkpoint.checkedAt).toISOString()}, older than the realm's event retention (${Math.round(retention / 1000)} s): changes may have expired unseen. Run \`keycloak-scim-relay resync\` to bring Kestra up to date, then start the relay again`,
    );
  }

  private load(stream: Stream, now: number): SavedCheckpoint {
    const raw = this.store.checkpoint(this.checkpointKey(stream));
    if (raw === undefined) {
      this.options.logger?.info(
        { stream: stream.name },
        `no ${stream.name}-event checkpoint yet: starting from now (run \`resync\` once to provision what already exists)`,
      );
      return { watermark: now, seen: [], checkedAt: now, modern: false };
    }
    return JSON.parse(raw) as SavedCheckpoint;
  }

  private checkpointKey(stream: Stream): string {
    return `${this.options.checkpointName ?? 'poll'}.${stream.name}`;
  }

  /** Whether both streams have a checkpoint: the source knows where to go on from. */
  get hasCheckpoint(): boolean {
    return this.streams.every(
      (stream) => this.store.checkpoint(this.checkpointKey(stream)) !== undefined,
    );
  }

  private save(stream: Stream, checkpoint: SavedCheckpoint): void {
    this.store.putCheckpoint(this.checkpointKey(stream), JSON.stringify(checkpoint));
  }
}

function storedEventOf(raw: unknown): StoredEvent | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { time, id } = raw as { time?: unknown; id?: unknown };
  if (typeof time !== 'number') return undefined;
  return { time, raw, ...(typeof id === 'string' ? { id } : {}) };
}

function parseWith<S extends z.ZodType, M>(
  schema: S,
  what: string,
  raw: unknown,
  toHints: (event: z.infer<S>) => M,
): M | { readonly error: string } {
  const parsed = schema.safeParse(raw);
  return parsed.success ? toHints(parsed.data) : { error: describeParseError(what, parsed.error) };
}
