import type { Config } from '../config.js';
import { describeHint, type Hint } from '../domain/hint.js';
import { describeError } from '../errors.js';
import { startHttpServer, type RunningHttpServer } from '../http/health-server.js';
import { readinessFromProbes } from '../http/readiness.js';
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
import { PollSource, RetentionExceededError } from '../sources/poll-source.js';
import { StateStore } from '../state/state-store.js';
import { Reconciler } from '../sync/reconciler.js';
import { resync, type ResyncReport } from '../sync/resync.js';
import { DEFAULT_DELETION_GUARD, provisionScopeOf } from './resync-command.js';
import { WorkQueue } from '../sync/work-queue.js';
import { keycloakReaderFrom, scimClientFrom } from './clients.js';
import { eventView, reconcilerView } from './keycloak-adapter.js';

/** The relay's parts, wired from the configuration. Nothing runs until `start`. */
export interface Relay {
  readonly config: Config;
  readonly store: StateStore;
  readonly scim: ScimClient;
  readonly keycloak: KeycloakReader;
  readonly reconciler: Reconciler;
  readonly queue: WorkQueue;
  readonly metrics: RelayMetrics;
  /** The health and metrics endpoint's port once started; undefined when switched off. */
  readonly httpPort: number | undefined;
  /** Starts the event source and the background sweeps. */
  start(): Promise<void>;
  /** Runs a full reconcile now (the background one runs every RESYNC_INTERVAL_MS). */
  reconcileAll(): Promise<ResyncReport>;
  /** Hands a hint to the queue, as a source would. */
  submit(hint: Hint): ReturnType<WorkQueue['submit']>;
  /**
   * Stops taking events, finishes the work in flight (acking it), persists the checkpoint and
   * closes every connection, within `timeoutMs`.
   */
  stop(timeoutMs?: number): Promise<void>;
}

/** How often parked work is tried again; a fix on either side then heals it by itself. */
const PARKED_RETRY_MS = 5 * 60_000;
/** How far each poll re-reads before its watermark; see `event-window.ts`. */
const POLL_OVERLAP_MS = 60_000;
/** Marks that the AMQP queue has existed since a full reconcile; before that, one runs. */
const AMQP_BASELINE = 'amqp.baseline';

export async function createRelay(config: Config, logger: Logger): Promise<Relay> {
  const metrics = new RelayMetrics();
  const store = StateStore.open(config.state.dir);
  metrics.setParked(store.parkedCount());
  const scim = scimClientFrom(config, { logger, ...scimClientMetricsHooks(metrics) });
  const keycloak = await keycloakReaderFrom(config);
  const reconciler = new Reconciler(reconcilerView(keycloak), scim, store, {
    mapping: config.mapping,
    userDeleteMode: config.mapping.userDeleteMode,
    membershipMode: config.mapping.membershipMode,
    scope: provisionScopeOf(config),
    logger,
  });
  const queue = new WorkQueue(
    (hint) => reconciler.apply(hint).then(() => undefined),
    {
      park: (key, hint, reason) => {
        store.park(key, hint, reason);
        metrics.setParked(store.parkedCount());
      },
      unpark: (key) => {
        store.unpark(key);
        metrics.setParked(store.parkedCount());
      },
      ...workQueueMetricsHooks(metrics),
    },
    {
      concurrency: config.sync.concurrency,
      minDelayMs: Math.max(config.retry.minDelayMs, 100),
      maxDelayMs: Math.max(config.retry.maxDelayMs, 1_000),
      maxTransientAttempts: 10,
      logger,
    },
  );
  /**
   * While a full reconcile runs, its plan may be older than an event applied meanwhile and
   * undo it. Every hint seen during the run is therefore applied once more after it.
   */
  let duringResync: Map<string, Hint> | undefined;
  const submit = (hint: Hint) => {
    duringResync?.set(JSON.stringify(hint), hint);
    return queue.submit(hint);
  };

  const amqpSource = (): AmqpSource => {
    if (config.source !== 'amqp') throw new Error('not in AMQP mode');
    return new AmqpSource(
      {
        url: config.amqp.url,
        exchange: config.amqp.exchange,
        queue: config.amqp.queue,
        realm: config.keycloak.realm,
        prefetch: config.amqp.prefetch,
        maxDeliveries: config.amqp.maxDeliveries,
        logger,
      },
      (hint) =>
        submit(hint).then((outcome) => {
          if (outcome === 'applied') metrics.syncSucceeded(new Date());
          return outcome;
        }),
      amqpSourceMetricsHooks(metrics),
    );
  };
  /** The poll source needs the realm's event retention, to notice a gap it cannot close. */
  const pollSource = async (): Promise<PollSource> => {
    const events = await keycloak.eventsConfig();
    const kept = [events.eventsExpirationMs, events.adminEventsExpirationMs].filter(
      (ms): ms is number => ms !== undefined,
    );
    const poll = new PollSource(
      eventView(keycloak),
      store,
      submit,
      {
        intervalMs: config.poll.intervalMs,
        overlapMs: POLL_OVERLAP_MS,
        retentionMs: kept.length === 0 ? undefined : Math.min(...kept),
        logger,
      },
      {
        onReceived: (kind) => {
          metrics.eventReceived(kind);
        },
        onPolled: () => {
          metrics.syncSucceeded(new Date());
        },
      },
    );
    return poll;
  };
  let source: AmqpSource | PollSource | undefined;
  let http: RunningHttpServer | undefined;
  let started = false;
  let resyncTimer: NodeJS.Timeout | undefined;
  let resyncRunning: Promise<ResyncReport> | undefined;

  const runResync = async (): Promise<ResyncReport> => {
    const seen = new Map<string, Hint>();
    duringResync = seen;
    try {
      const report = await resync(
        { keycloak, scim, store, logger },
        {
          mapping: config.mapping,
          userDeleteMode: config.mapping.userDeleteMode,
          membershipMode: config.mapping.membershipMode,
          scope: 'all',
          // Missed deletions are repaired too, but never more than the guard allows unattended.
          prune: true,
          guard: DEFAULT_DELETION_GUARD,
          confirmed: false,
          dryRun: false,
          concurrency: config.sync.concurrency,
          provisionScope: provisionScopeOf(config),
        },
      );
      const { users, groups, memberships, failures, guard } = report;
      logger.info(
        {
          users,
          groups,
          memberships,
          failures: failures.length,
          ms: Math.round(report.durationMs),
        },
        'full reconcile done',
      );
      if (guard.blocked) {
        logger.warn(
          { reason: guard.reason },
          'full reconcile held deletions back; run `keycloak-scim-relay resync --prune --yes` once checked',
        );
      }
      for (const failure of failures) {
        logger.error({ failure }, `full reconcile could not apply ${failure.kind} ${failure.name}`);
      }
      if (failures.length === 0 && report.aborted === undefined) {
        metrics.syncSucceeded(new Date());
      }
      return report;
    } finally {
      duringResync = undefined;
      for (const hint of seen.values()) {
        queue.submit(hint).catch(() => undefined);
      }
    }
  };
  /** One full reconcile at a time; a second request joins the one running. */
  const reconcileAll = (): Promise<ResyncReport> => {
    resyncRunning ??= runResync().finally(() => {
      resyncRunning = undefined;
    });
    return resyncRunning;
  };
  const scheduleResync = (): void => {
    if (config.sync.resyncIntervalMs === 0) return;
    resyncTimer = setTimeout(() => {
      reconcileAll()
        .catch((error: unknown) => {
          logger.error({ error: describeError(error) }, 'full reconcile failed; retried next time');
        })
        .finally(scheduleResync);
    }, config.sync.resyncIntervalMs);
    resyncTimer.unref();
  };

  /** `/readyz`: Keycloak and SCIM answer, and the event source is connected and keeping up. */
  const readiness = readinessFromProbes({
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
      await scim.serviceProviderConfig();
      return { ok: true };
    },
  });

  /**
   * Polls from the checkpoint; without one, or with one older than the realm keeps events,
   * reconciles everything first. The checkpoint is set to "now" before that reconcile, so the
   * changes made while it runs are polled afterwards.
   */
  const startPolling = async (poll: PollSource): Promise<void> => {
    const missing = store.checkpoint('poll.admin') === undefined;
    try {
      if (missing) throw new RetentionExceededError('no checkpoint yet');
      await poll.start();
    } catch (error) {
      if (!(error instanceof RetentionExceededError)) throw error;
      logger.warn(
        { reason: describeError(error) },
        missing
          ? 'first start: reconciling everything once'
          : 'events may have expired unseen: reconciling everything',
      );
      poll.resetToNow();
      await reconcileAll();
      await poll.start();
    }
  };

  let parkedTimer: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;
  const retryParked = (): void => {
    for (const item of store.parked()) {
      queue.submit(item.hint).catch((error: unknown) => {
        logger.debug({ error: describeError(error) }, `parked ${describeHint(item.hint)} left`);
      });
    }
  };

  return {
    config,
    store,
    scim,
    keycloak,
    reconciler,
    queue,
    metrics,
    reconcileAll,
    get httpPort() {
      return http?.port;
    },
    submit,
    async start() {
      // Liveness first: an orchestrator sees the process alive while it connects.
      if (config.http.port !== 0) {
        http = await startHttpServer({
          host: config.http.host,
          port: config.http.port,
          metrics,
          readiness,
        });
      }
      if (config.source === 'amqp') {
        const amqp = amqpSource();
        source = amqp;
        // The queue is declared first, so that changes made during the baseline are kept.
        await amqp.start();
        if (store.checkpoint(AMQP_BASELINE) === undefined) {
          logger.info('first start on this queue: reconciling everything once');
          await reconcileAll();
          store.putCheckpoint(AMQP_BASELINE, new Date().toISOString());
        }
      } else {
        const poll = await pollSource();
        source = poll;
        await startPolling(poll);
      }
      scheduleResync();
      started = true;
      parkedTimer = setInterval(retryParked, PARKED_RETRY_MS);
      parkedTimer.unref();
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

  async function shutdown(timeoutMs: number): Promise<void> {
    clearInterval(parkedTimer);
    clearTimeout(resyncTimer);
    const graceful = (async () => {
      await source?.stop();
      await resyncRunning?.catch(() => undefined);
      await queue.close();
    })();
    const timedOut = await Promise.race([
      graceful.then(() => false),
      new Promise<boolean>((resolve) => {
        setTimeout(() => {
          resolve(true);
        }, timeoutMs).unref();
      }),
    ]);
    if (timedOut) {
      logger.warn({ timeoutMs }, 'shutdown bound reached; unfinished work will be redelivered');
      await queue.close();
      // Closing the queue releases whatever the source waited for; let it finish closing.
      await graceful.catch(() => undefined);
    }
    await Promise.allSettled([scim.close(), keycloak.close(), http?.close()]);
    store.close();
    logger.info('relay stopped');
  }
}
