import type { Hint } from '../domain/hint.js';
import { Counter } from './counter.js';
import { Gauge } from './gauge.js';
import { Histogram } from './histogram.js';
import { MetricsRegistry, type MetricsSource } from './registry.js';

/** Where an event came from: an admin event, a user event, or a message the relay cannot read. */
export type EventKind = 'admin' | 'user' | 'unknown';

/** What a reconcile was about: the kinds of hint. */
export type ReconcileKind = Hint['kind'];

/**
 * What was tried again: one SCIM `request` (the client's own retries), or a whole `reconcile`
 * (the work queue's, after the client gave up). Kept apart because one failing reconcile can
 * cost many request retries.
 */
export type RetryScope = 'request' | 'reconcile';

const EVENT_KINDS: readonly EventKind[] = ['admin', 'user', 'unknown'];
const RECONCILE_KINDS: readonly ReconcileKind[] = ['user', 'group', 'membership'];
const RETRY_SCOPES: readonly RetryScope[] = ['request', 'reconcile'];

/**
 * Upper bounds, in seconds, of the reconcile latency buckets. A reconcile is a few HTTP round
 * trips (milliseconds), but one that waited out a 429 or a slow target takes tens of seconds,
 * so the buckets reach a minute.
 */
export const RECONCILE_SECONDS_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/**
 * The relay's metrics, all named `scim_relay_*`, behind one method per thing that happens. The
 * relay calls these from its hooks (sources, work queue, SCIM client); `render()` is what
 * `/metrics` serves.
 */
export class RelayMetrics implements MetricsSource {
  readonly #registry = new MetricsRegistry();

  readonly #received = this.#registry.register(
    new Counter({
      name: 'scim_relay_events_received_total',
      help: 'Keycloak events received, by kind (admin, user, or unknown when unreadable).',
      labelNames: ['kind'],
    }),
  );
  readonly #applied = this.#registry.register(
    new Counter({
      name: 'scim_relay_reconciles_applied_total',
      help: 'Reconciles that made SCIM match Keycloak, by kind of entity.',
      labelNames: ['kind'],
    }),
  );
  readonly #failed = this.#registry.register(
    new Counter({
      name: 'scim_relay_reconciles_failed_total',
      help: 'Reconciles that failed and were parked for a later retry, by kind of entity.',
      labelNames: ['kind'],
    }),
  );
  readonly #duration = this.#registry.register(
    new Histogram({
      name: 'scim_relay_reconcile_duration_seconds',
      help: 'Time from the start of a reconcile to SCIM holding the new state, retries included.',
      labelNames: ['kind'],
      buckets: RECONCILE_SECONDS_BUCKETS,
    }),
  );
  readonly #retries = this.#registry.register(
    new Counter({
      name: 'scim_relay_retries_total',
      help: 'Attempts repeated after a transient failure, of one SCIM request or of a whole reconcile.',
      labelNames: ['scope'],
    }),
  );
  readonly #parked = this.#registry.register(
    new Gauge({
      name: 'scim_relay_parked_items',
      help: 'Changes parked after repeated failures, waiting for their next retry.',
      labelNames: [],
    }),
  );
  readonly #deadLettered = this.#registry.register(
    new Counter({
      name: 'scim_relay_dead_lettered_total',
      help: 'Messages moved to the dead-letter queue (unreadable, or delivered too often).',
      labelNames: [],
    }),
  );
  readonly #lastSync = this.#registry.register(
    new Gauge({
      name: 'scim_relay_last_sync_success_timestamp_seconds',
      help: 'Unix time the relay last knew SCIM up to date: a completed poll, an applied message, or a full reconcile without failures; absent until the first.',
      labelNames: [],
    }),
  );
  readonly #scimResponses = this.#registry.register(
    new Counter({
      name: 'scim_relay_scim_responses_total',
      help: 'Answers of the SCIM target by request method and HTTP status; status 0: no answer.',
      labelNames: ['method', 'status'],
    }),
  );

  constructor() {
    // Every known kind exists from the start, so rate() and alerts see a 0, not a gap.
    for (const kind of EVENT_KINDS) this.#received.init({ kind });
    for (const kind of RECONCILE_KINDS) {
      this.#applied.init({ kind });
      this.#failed.init({ kind });
      this.#duration.init({ kind });
    }
    for (const scope of RETRY_SCOPES) this.#retries.init({ scope });
    this.#parked.set({}, 0);
  }

  /** One message or polled event arrived. */
  eventReceived(kind: EventKind): void {
    this.#received.inc({ kind });
  }

  /** A reconcile succeeded after `seconds` (retries included). */
  applied(kind: ReconcileKind, seconds: number): void {
    this.#applied.inc({ kind });
    this.#duration.observe({ kind }, seconds);
  }

  /** A reconcile gave up for now and its work was parked. */
  failed(kind: ReconcileKind): void {
    this.#failed.inc({ kind });
  }

  /** A SCIM request or a whole reconcile is about to be tried again. */
  retry(scope: RetryScope): void {
    this.#retries.inc({ scope });
  }

  /** How many changes are parked right now. */
  setParked(count: number): void {
    this.#parked.set({}, count);
  }

  /** A message went to the dead-letter queue. */
  deadLettered(): void {
    this.#deadLettered.inc({});
  }

  /** SCIM was known up to date at `at`: a poll cycle, an applied message, or a clean full reconcile. */
  syncSucceeded(at: Date): void {
    this.#lastSync.set({}, at.getTime() / 1000);
  }

  /** The SCIM target answered a request with `status` (0 when no answer came). */
  scimResponse(method: string, status: number): void {
    this.#scimResponses.inc({ method, status: String(status) });
  }

  render(): string {
    return this.#registry.render();
  }
}
