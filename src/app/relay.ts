import type { Config } from '../config.js';
import { parkKey, type Hint } from '../domain/hint.js';
import { describeError } from '../errors.js';
import { startHttpServer, type RunningHttpServer } from '../http/health-server.js';
import { readinessFromProbes, type ReadinessCheck } from '../http/readiness.js';
import type { KeycloakReader } from '../keycloak/keycloak-reader.js';
import type { Logger } from '../logger.js';
import { RelayMetrics } from '../metrics/relay-metrics.js';
import {
  amqpSourceMetricsHooks,
  scimClientMetricsHooks,
  workQueueMetricsHooks,
} from '../metrics/relay-metrics-hooks.js';
import type { ScimClient } from '../scim/scim-client.js';
import { AmqpSource } from '../sources/amqp-source.js';
import { CrashGuard } from '../sources/crash-guard.js';
import {
  PollSource,
  RetentionExceededError,
  type PollSourceOptions,
} from '../sources/poll-source.js';
import { RealmIdentity } from '../sources/realm-identity.js';
import { RecentEvents } from '../sources/recent-events.js';
import { StateStore } from '../state/state-store.js';
import { SyncEngine } from '../sync/engine.js';
import type { ResyncReport } from '../sync/resync.js';
import { FULL_RECONCILE_APPLYING_CHECKPOINT } from '../sync/full-reconcile-record.js';
import { memorySaver } from './heap-mode.js';
import type { Outcome } from '../sync/work-queue.js';
import { CredentialHealth } from '../security/credential-health.js';
import {
  amqpCaOf,
  credentialAdviceFrom,
  engineRulesFrom,
  keycloakReaderFrom,
  scimClientFrom,
} from './clients.js';
import { eventView, reconcilerView } from './keycloak-adapter.js';

/** The relay's parts, wired from the configuration. Nothing runs until `start`. */
export interface Relay {
  readonly config: Config;
  readonly store: StateStore;
  readonly scim: ScimClient;
  readonly keycloak: KeycloakReader;
  readonly engine: SyncEngine;
  readonly metrics: RelayMetrics;
  /** The health and metrics endpoint's port once started; undefined when switched off. */
  readonly httpPort: number | undefined;
  /** What `/readyz` reports for this relay. */
  readonly readiness: ReadinessCheck;
  /** Starts the event source and the background sweeps. */
  start(): Promise<void>;
  /** Runs a full reconcile now (the background one runs every RESYNC_INTERVAL_MS). */
  reconcileAll(): Promise<ResyncReport>;
  /** Hands a hint to the engine, as a source would. */
  submit(hint: Hint): Promise<Outcome>;
  /**
   * Stops taking events, finishes the work in flight (acking it), persists the checkpoint and
   * closes every connection, within `timeoutMs`.
   */
  stop(timeoutMs?: number): Promise<void>;
  /**
   * Stops every SCIM write at once, in flight or to come, and the queue's work: this replica
   * lost the leader lock. `stop` then closes the rest; unfinished work is redone by the leader.
   */
  fence(): void;
}

/** What a caller may provide instead of the relay making its own. */
export interface RelayParts {
  /** The state store; by default the embedded SQLite store in STATE_DIR. */
  readonly store?: StateStore;
  readonly metrics?: RelayMetrics;
  /** Whether `start` serves health and metrics (a replica serves them itself, standby too). */
  readonly serveHttp?: boolean;
}

/** How often parked work is tried again; a fix on either side then heals it by itself. */
const PARKED_RETRY_MS = 5 * 60_000;
/** How far each poll re-reads before its watermark; see `event-window.ts`. */
const POLL_OVERLAP_MS = 60_000;
/** Marks that the AMQP queue has existed since a full reconcile; before that, one runs. */
const AMQP_BASELINE = 'amqp.baseline';
/** How long the backstop gives the queue to bring an event before it counts it as lost. */
const BACKSTOP_SETTLE_MS = 5_000;
/** What a stop keeps for closing connections after the work in flight was cut short. */
const STOP_MARGIN_MS = 3_000;

export async function createRelay(
  config: Config,
  logger: Logger,
  parts: RelayParts = {},
): Promise<Relay> {
  const metrics = parts.metrics ?? new RelayMetrics();
  const store = parts.store ?? StateStore.open(config.state.dir);
  const credentials = new CredentialHealth({
    logger,
    advice: credentialAdviceFrom(config),
    onRefused: (service) => {
      metrics.credentialFailure(service);
    },
    onState: (service, refused) => {
      metrics.setCredentialsRefused(service, refused);
    },
  });
  const scim = scimClientFrom(config, {
    logger,
    ...scimClientMetricsHooks(metrics),
    credentials: credentials.observer('scim'),
  });
  const keycloak = await keycloakReaderFrom(
    config,
    { credentials: credentials.observer('keycloak') },
    logger,
  );
  const engine = new SyncEngine(
    {
      keycloak: reconcilerView(keycloak),
      scim,
      store,
      hooks: {
        ...workQueueMetricsHooks(metrics),
        onParkedCount: (count) => {
          metrics.setParked(count);
        },
        onReconciled: () => {
          const now = new Date();
          metrics.syncSucceeded(now);
          metrics.fullReconcileSucceeded(now);
        },
        onFullReconcile: (reason) => {
          metrics.fullReconcile(reason);
        },
        onScimLost: () => {
          metrics.scimLost();
        },
      },
      whileReading: memorySaver(),
    },
    {
      ...engineRulesFrom(config),
      maxTransientAttempts: 10,
      resyncIntervalMs: config.sync.resyncIntervalMs,
      parkedRetryMs: PARKED_RETRY_MS,
      verifyIntervalMs: config.sync.scimCheckIntervalMs,
      logger,
    },
  );
  const submit = (hint: Hint): Promise<Outcome> => engine.submit(hint);
  metrics.trackOldestVerified(() => store.oldestVerified());
  metrics.setResyncInterval(config.sync.resyncIntervalMs);

  /** The realm's event retention: a source that fell further behind lost events unseen. */
  const retentionMs = async (): Promise<number | undefined> => {
    const events = await keycloak.eventsConfig();
    const kept = [events.eventsExpirationMs, events.adminEventsExpirationMs].filter(
      (ms): ms is number => ms !== undefined,
    );
    return kept.length === 0 ? undefined : Math.min(...kept);
  };
  /** Reads the realm's stored events from a checkpoint: the poll source, or the backstop. */
  const storedEvents = (
    name: 'poll' | 'backstop',
    intervalMs: number,
    retention: number | undefined,
    options: Pick<PollSourceOptions, 'settleMs' | 'alreadyApplied' | 'firstPollAfterInterval'>,
  ): PollSource =>
    new PollSource(
      eventView(keycloak),
      store,
      submit,
      {
        intervalMs,
        overlapMs: POLL_OVERLAP_MS,
        retentionMs: retention,
        checkpointName: name,
        logger,
        ...options,
      },
      {
        ...(name === 'poll'
          ? {
              onReceived: (kind: 'admin' | 'user') => {
                metrics.eventReceived(kind);
              },
              onPolled: () => {
                metrics.syncSucceeded(new Date());
              },
            }
          : {
              onRecovered: (kind: 'admin' | 'user') => {
                metrics.listenerLost(kind);
              },
              // A completed backstop poll proves the relay in step with Keycloak's stored events,
              // so a quiet realm in AMQP mode does not look stuck.
              onPolled: () => {
                metrics.syncSucceeded(new Date());
              },
            }),
      },
    );

  let source: AmqpSource | PollSource | undefined;
  let backstop: PollSource | undefined;
  let crashGuard: CrashGuard | undefined;
  let http: RunningHttpServer | undefined;
  let started = false;
  let stopping: Promise<void> | undefined;

  /**
   * `/readyz`: Keycloak and SCIM answer and accept the relay's credentials, and the event source
   * is connected and keeping up.
   */
  const readiness = readinessFromProbes({
    // Refused credentials hold every change: not ready, with the setting to fix as the detail.
    credentials: () => credentials.probe(),
    keycloak: async () => {
      await keycloak.eventsConfig();
      return { ok: true };
    },
    // Not ready until start() is done: the first full reconcile may still be running.
    source: () =>
      !started
        ? { ok: false, detail: 'starting (the first full reconcile may be running)' }
        : source?.connected === true
          ? { ok: true, detail: config.source }
          : { ok: false, detail: `${config.source} source not connected or not keeping up` },
    scim: async () => {
      // While the token is refused, ask what needs it: discovery may answer without one.
      if (credentials.isRefused('scim')) await scim.total('Users');
      else await scim.serviceProviderConfig();
      return { ok: true };
    },
  });

  /**
   * A stop asked for while starting: whatever the start would set up next would outlive the
   * shutdown, so the start ends here instead (the next start does its work again).
   */
  const assertNotStopping = (): void => {
    if (stopping !== undefined) throw new StoppedWhileStartingError();
  };

  /**
   * Reads stored events from the checkpoint; without one, or with one older than the realm
   * keeps events, reconciles everything first. Only once that reconcile is complete is the
   * checkpoint set, to the moment it began: the changes made while it ran are read afterwards,
   * and a reconcile that was killed or refused runs again at the next start.
   */
  const startFromCheckpoint = async (events: PollSource): Promise<void> => {
    const missing = !events.hasCheckpoint;
    try {
      if (missing) throw new RetentionExceededError('no checkpoint yet');
      await events.start();
    } catch (error) {
      if (!(error instanceof RetentionExceededError)) throw error;
      logger.warn(
        { reason: describeError(error) },
        missing
          ? 'first start: reconciling everything once'
          : 'events may have expired unseen: reconciling everything',
      );
      await engine.baseline(missing ? 'first_start' : 'events_expired', (began) => {
        events.resetToNow(began);
      });
      await events.start();
    }
  };

  /**
   * AMQP mode: the queue is declared first, so that changes made during a first full reconcile
   * are kept in it. The backstop reads the realm's own stored events behind the lossy
   * listener; its checkpoint starts at the queue's baseline.
   */
  const startAmqp = async (): Promise<void> => {
    if (config.source !== 'amqp') throw new Error('not in AMQP mode');
    const guard = new CrashGuard(store, config.amqp.maxDeliveries, logger);
    guard.begin();
    crashGuard = guard;
    const recent = new RecentEvents(Math.max(10 * 60_000, 4 * config.amqp.backstopIntervalMs));
    const realm = new RealmIdentity(config.keycloak.realm, () => learnRealmId(keycloak), logger);
    const amqp = new AmqpSource(
      {
        url: config.amqp.url,
        exchange: config.amqp.exchange,
        queue: config.amqp.queue,
        realm: config.keycloak.realm,
        prefetch: config.amqp.prefetch,
        settleMs: config.eventSettleMs,
        ca: amqpCaOf(config),
        logger,
      },
      {
        submit: (hint) =>
          submit(hint).then((outcome) => {
            if (outcome === 'applied') metrics.syncSucceeded(new Date());
            return outcome;
          }),
        setAside: (hints, reason) => {
          store.transaction(() => {
            for (const hint of hints) store.park(parkKey(hint), hint, reason);
          });
          metrics.setParked(store.parkedCount());
          metrics.setAside();
        },
        realm,
        crashGuard: guard,
        durable: () => store.durable(),
      },
      {
        ...amqpSourceMetricsHooks(metrics),
        onEvent: (fingerprint) => {
          recent.add(fingerprint);
        },
      },
    );
    source = amqp;
    await amqp.start();
    if (stopping !== undefined) {
      // The shutdown found it not yet connected; it closes its own connection.
      await amqp.stop();
      throw new StoppedWhileStartingError();
    }
    if (config.amqp.backstopIntervalMs > 0) {
      const retention = await retentionMs();
      assertNotStopping();
      backstop = storedEvents('backstop', config.amqp.backstopIntervalMs, retention, {
        settleMs: BACKSTOP_SETTLE_MS,
        alreadyApplied: (fingerprint) => recent.has(fingerprint),
        firstPollAfterInterval: true,
      });
    }
    if (store.checkpoint(AMQP_BASELINE) === undefined) {
      logger.info('first start on this queue: reconciling everything once');
      await engine.baseline('first_start', (began) => {
        store.putCheckpoint(AMQP_BASELINE, new Date(began).toISOString());
        backstop?.resetToNow(began);
      });
    } else if (backstop !== undefined && !backstop.hasCheckpoint) {
      // A relay from before the backstop: it covers from now on; the past had its reconciles.
      backstop.resetToNow();
    }
    if (backstop !== undefined) await startFromCheckpoint(backstop);
  };

  return {
    config,
    store,
    scim,
    keycloak,
    engine,
    metrics,
    reconcileAll: () => engine.reconcileAll(),
    get httpPort() {
      return http?.port;
    },
    readiness,
    fence() {
      scim.abort();
      void engine.queue.close();
    },
    submit,
    async start() {
      // Liveness first: an orchestrator sees the process alive while it connects.
      if (config.http.port !== 0 && parts.serveHttp !== false) {
        http = await startHttpServer({
          host: config.http.host,
          port: config.http.port,
          metrics: metrics.registry,
          readiness,
        });
      }
      assertNotStopping();
      if (config.source === 'amqp') {
        await startAmqp();
      } else {
        const retention = await retentionMs();
        assertNotStopping();
        const poll = storedEvents('poll', config.poll.intervalMs, retention, {
          settleMs: config.eventSettleMs,
        });
        source = poll;
        await startFromCheckpoint(poll);
      }
      assertNotStopping();
      if (store.checkpoint(FULL_RECONCILE_APPLYING_CHECKPOINT) !== undefined) {
        // Its last group of id-map links may be lost: the listing finds those resources again.
        logger.warn('a full reconcile was cut short: reconciling everything again');
        await engine.reconcileAll('interrupted');
        assertNotStopping();
      }
      engine.startBackground();
      started = true;
      logger.info(
        { source: config.source, realm: config.keycloak.realm, scim: scim.endpoint },
        'relay started',
      );
    },
    stop(timeoutMs = 30_000) {
      // A second signal, or a failed start followed by a signal, must not close things twice.
      stopping ??= shutdown(timeoutMs);
      return stopping;
    },
  };

  /**
   * Stops taking events and lets the work in flight finish, within `timeoutMs`. Work still in
   * flight when that time is nearly up is cut short: the SCIM requests are aborted and the
   * queue closed, so their messages stay unacked (redelivered) and their events unpolled
   * (read again) after the restart; nothing is lost and nothing half-done is acked.
   */
  async function shutdown(timeoutMs: number): Promise<void> {
    const graceful = (async () => {
      if (credentials.isRefused('keycloak') || credentials.isRefused('scim')) {
        // Work held for refused credentials cannot finish: waiting for it would only use up the
        // stop's time. The sources stop taking events and the queue closes at once, leaving the
        // held work unacked (AMQP) or unread (poll) for after the restart, as a stop that runs
        // out of time does.
        logger.info(
          'stopping while credentials are refused: the held changes are done after the restart',
        );
        const sourcesStopping = Promise.all([backstop?.stop(), source?.stop()]);
        await engine.queue.close();
        await sourcesStopping;
      } else {
        await backstop?.stop();
        await source?.stop();
      }
      await engine.stop();
    })();
    const cutAt = Math.max(timeoutMs - STOP_MARGIN_MS, Math.floor(timeoutMs / 2));
    const timedOut = await Promise.race([
      graceful.then(() => false),
      new Promise<boolean>((resolve) => {
        setTimeout(() => {
          resolve(true);
        }, cutAt).unref();
      }),
    ]);
    if (timedOut) {
      logger.warn(
        { timeoutMs },
        'stopping: cutting the work still in flight short; it is delivered or read again after the restart',
      );
      // The queue closes first, so that aborted requests end their work instead of parking it.
      const closing = engine.queue.close();
      scim.abort();
      await closing;
      await graceful.catch(() => undefined);
    }
    crashGuard?.end();
    await Promise.allSettled([scim.close(), keycloak.close(), http?.close()]);
    await store.close();
    logger.info('relay stopped');
  }
}

/** The relay was asked to stop before its start was done. */
export class StoppedWhileStartingError extends Error {
  constructor() {
    super('stopped while starting');
  }
}

/** The realm id of the realm's newest stored event, admin or user; undefined when none. */
export async function learnRealmId(keycloak: KeycloakReader): Promise<string | undefined> {
  for (const events of [keycloak.adminEvents({}), keycloak.userEvents({})]) {
    for await (const raw of events) {
      const realmId: unknown =
        typeof raw === 'object' && raw !== null ? Reflect.get(raw, 'realmId') : undefined;
      await events.return(undefined);
      if (typeof realmId === 'string' && realmId !== '') return realmId;
    }
  }
  return undefined;
}
