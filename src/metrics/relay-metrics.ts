import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Hint } from '../domain/hint.js';
import type { CredentialService } from '../errors.js';
import type { FullReconcileReason } from '../sync/engine.js';

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

const FULL_RECONCILE_REASONS: readonly FullReconcileReason[] = [
  'first_start',
  'events_expired',
  'interrupted',
  'scim_lost',
  'requested',
];
const RECONCILE_KINDS: readonly ReconcileKind[] = ['user', 'group', 'membership'];
const RETRY_SCOPES: readonly RetryScope[] = ['request', 'reconcile'];
const CREDENTIAL_SERVICES: readonly CredentialService[] = ['keycloak', 'scim'];

/**
 * Upper bounds, in seconds, of the reconcile latency buckets. A reconcile is a few HTTP round
 * trips (milliseconds), but one that waited out a 429 or a slow target takes tens of seconds,
 * so the buckets reach a minute.
 */
export const RECONCILE_SECONDS_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/**
 * The relay's metrics, all named `scim_relay_*`, behind one method per thing that happens, on a
 * prom-client registry of their own (never the global one: every relay, and every test, counts
 * apart), with prom-client's default process and Node.js metrics (`process_*`, `nodejs_*`:
 * memory, CPU, event-loop lag, GC) beside them. The relay calls the methods from its hooks
 * (sources, work queue, SCIM client); `/metrics` serves `registry`.
 */
export class RelayMetrics {
  /** What `/metrics` serves: `registry.metrics()`, as `registry.contentType`. */
  readonly registry = new Registry();

  readonly #received = new Counter({
    name: 'scim_relay_events_received_total',
    help: 'Keycloak events received, by kind (admin, user, or unknown when unreadable).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly #applied = new Counter({
    name: 'scim_relay_reconciles_applied_total',
    help: 'Reconciles that made SCIM match Keycloak, by kind of entity.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly #failed = new Counter({
    name: 'scim_relay_reconciles_failed_total',
    help: 'Reconciles that failed and were parked for a later retry, by kind of entity.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly #duration = new Histogram({
    name: 'scim_relay_reconcile_duration_seconds',
    help: 'Time from the start of a reconcile to SCIM holding the new state, retries included.',
    labelNames: ['kind'] as const,
    buckets: [...RECONCILE_SECONDS_BUCKETS],
    registers: [this.registry],
  });
  readonly #retries = new Counter({
    name: 'scim_relay_retries_total',
    help: 'Attempts repeated after a transient failure, of one SCIM request or of a whole reconcile.',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });
  readonly #parked = new Gauge({
    name: 'scim_relay_parked_items',
    help: 'Changes parked after repeated failures, waiting for their next retry.',
    registers: [this.registry],
  });
  /** When the oldest verification happened (epoch ms); read at each scrape. */
  #oldestVerified: () => number | undefined = () => undefined;
  readonly #oldestUnverified = new Gauge({
    name: 'scim_relay_oldest_unverified_age_seconds',
    help: 'Age of the oldest last verification among the users and groups the relay manages: how stale the worst twin may be. The periodic verification keeps it under RESYNC_INTERVAL_MS plus a slice.',
    registers: [this.registry],
    collect: () => {
      const oldest = this.#oldestVerified();
      if (oldest === undefined) this.#oldestUnverified.remove();
      else this.#oldestUnverified.set(Math.max(0, (Date.now() - oldest) / 1000));
    },
  });
  readonly #leader = new Gauge({
    name: 'scim_relay_is_leader',
    help: 'Whether this replica is the leader (1), the only one that consumes events and writes; 0 on a standby. A relay on SQLite state is always its own leader.',
    registers: [this.registry],
  });
  readonly #deadLettered = new Counter({
    name: 'scim_relay_dead_lettered_total',
    help: 'Messages moved to the dead-letter queue: unreadable, the wrong shape, or another realm’s.',
    registers: [this.registry],
  });
  readonly #lastSync = new Gauge({
    name: 'scim_relay_last_sync_success_timestamp_seconds',
    help: 'Unix time the relay last knew SCIM up to date: a completed poll, an applied message, or a full reconcile without failures; absent until the first.',
    registers: [this.registry],
  });
  readonly #scimResponses = new Counter({
    name: 'scim_relay_scim_responses_total',
    help: 'Answers of the SCIM target by request method and HTTP status; status 0: no answer.',
    labelNames: ['method', 'status'] as const,
    registers: [this.registry],
  });
  readonly #listenerLost = new Counter({
    name: 'scim_relay_listener_lost_events_total',
    help: 'Events the RabbitMQ listener never delivered that the backstop found in the realm’s stored events and applied, by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly #fullReconciles = new Counter({
    name: 'scim_relay_full_reconciles_total',
    help: 'Full reconciles run, by why: first_start, events_expired, scim_lost, requested (the periodic verification runs in slices, not as full reconciles).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly #scimLost = new Counter({
    name: 'scim_relay_scim_lost_total',
    help: 'Times the SCIM side was found to have lost what the relay wrote (known resources answering 404, or fewer resources than the relay wrote), each followed by a full reconcile.',
    registers: [this.registry],
  });
  readonly #setAside = new Counter({
    name: 'scim_relay_set_aside_total',
    help: 'Messages set aside (their work parked) after the relay died with them in flight AMQP_MAX_DELIVERIES times.',
    registers: [this.registry],
  });
  readonly #lastFullReconcile = new Gauge({
    name: 'scim_relay_last_full_reconcile_timestamp_seconds',
    help: 'Unix time the last full reconcile of this process ended without failures; absent until the first (full reconciles run at first start, after lost events or a lost SCIM state, and on request, not periodically).',
    registers: [this.registry],
  });
  readonly #resyncInterval = new Gauge({
    name: 'scim_relay_resync_interval_seconds',
    help: 'RESYNC_INTERVAL_MS in seconds: the period in which the periodic verification checks every managed user and group; 0 when it is switched off. Absent on a standby.',
    registers: [this.registry],
  });
  readonly #credentialFailures = new Counter({
    name: 'scim_relay_credential_failures_total',
    help: 'Requests refused because of the relay’s own credentials, by service: keycloak (the client id or secret, at login or on a fresh token), scim (HTTP 401: the SCIM token). The work is held, not parked.',
    labelNames: ['service'] as const,
    registers: [this.registry],
  });
  readonly #credentialsRefused = new Gauge({
    name: 'scim_relay_credentials_refused',
    help: 'Whether the service refuses the relay’s credentials now (1) or accepts them (0), by service (keycloak, scim); while 1, changes are held and /readyz answers 503.',
    labelNames: ['service'] as const,
    registers: [this.registry],
  });

  constructor() {
    // Every known kind exists from the start, so rate() and alerts see a 0, not a gap.
    for (const kind of EVENT_KINDS) this.#received.inc({ kind }, 0);
    for (const kind of RECONCILE_KINDS) {
      this.#applied.inc({ kind }, 0);
      this.#failed.inc({ kind }, 0);
      this.#duration.zero({ kind });
    }
    for (const scope of RETRY_SCOPES) this.#retries.inc({ scope }, 0);
    for (const kind of ['admin', 'user'] as const) this.#listenerLost.inc({ kind }, 0);
    for (const reason of FULL_RECONCILE_REASONS) this.#fullReconciles.inc({ reason }, 0);
    for (const service of CREDENTIAL_SERVICES) {
      this.#credentialFailures.inc({ service }, 0);
      this.#credentialsRefused.set({ service }, 0);
    }
    this.#leader.set(1);
    // prom-client starts an unlabelled gauge at 0; these have no value until one is known.
    this.#lastSync.remove();
    this.#oldestUnverified.remove();
    this.#lastFullReconcile.remove();
    this.#resyncInterval.remove();
    collectDefaultMetrics({ register: this.registry });
  }

  /** This replica became the leader, or stands by. */
  setLeader(leader: boolean): void {
    this.#leader.set(leader ? 1 : 0);
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

  /** The backstop applied an event the listener never delivered. */
  listenerLost(kind: 'admin' | 'user'): void {
    this.#listenerLost.inc({ kind });
  }

  /** A full reconcile starts, and why. */
  fullReconcile(reason: FullReconcileReason): void {
    this.#fullReconciles.inc({ reason });
  }

  /** A full reconcile ended at `at` without failures. */
  fullReconcileSucceeded(at: Date): void {
    this.#lastFullReconcile.set(at.getTime() / 1000);
  }

  /** The configured period of the periodic verification (RESYNC_INTERVAL_MS); 0: off. */
  setResyncInterval(ms: number): void {
    this.#resyncInterval.set(ms / 1000);
  }

  /** The SCIM side lost what the relay wrote. */
  scimLost(): void {
    this.#scimLost.inc();
  }

  /** `service` refused a request because of the relay's credentials. */
  credentialFailure(service: CredentialService): void {
    this.#credentialFailures.inc({ service });
  }

  /** `service` now refuses the relay's credentials, or accepts them again. */
  setCredentialsRefused(service: CredentialService, refused: boolean): void {
    this.#credentialsRefused.set({ service }, refused ? 1 : 0);
  }

  /** A message was set aside by the crash guard. */
  setAside(): void {
    this.#setAside.inc();
  }

  /** How many changes are parked right now. */
  setParked(count: number): void {
    this.#parked.set(count);
  }

  /** A message went to the dead-letter queue. */
  deadLettered(): void {
    this.#deadLettered.inc();
  }

  /** SCIM was known up to date at `at`: a poll cycle, an applied message, or a clean full reconcile. */
  syncSucceeded(at: Date): void {
    this.#lastSync.set(at.getTime() / 1000);
  }

  /** The SCIM target answered a request with `status` (0 when no answer came). */
  scimResponse(method: string, status: number): void {
    this.#scimResponses.inc({ method, status: String(status) });
  }

  /** Where the oldest verification's time comes from (the state store). */
  trackOldestVerified(oldest: () => number | undefined): void {
    this.#oldestVerified = oldest;
  }

  /** The whole exposition, as `/metrics` serves it (Prometheus text format 0.0.4). */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
