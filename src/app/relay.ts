import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import type { Hint } from '../domain/hint.js';
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
import { SyncEngine } from '../sync/engine.js';
import type { ResyncReport } from '../sync/resync.js';
import type { Outcome } from '../sync/work-queue.js';
import { keycloakReaderFrom, provisionScopeOf, scimClientFrom } from './clients.js';
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
  const scim = scimClientFrom(config, { logger, ...scimClientMetricsHooks(metrics) });
  const keycloak = await keycloakReaderFrom(config);
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
          metrics.syncSucceeded(new Date());
        },
      },
    },
    {
      mapping: config.mapping,
      userDeleteMode: config.mapping.userDeleteMode,
      membershipMode: config.mapping.membershipMode,
      scope: provisionScopeOf(config),
      concurrency: config.sync.concurrency,
      minDelayMs: Math.max(config.retry.minDelayMs, 100),
      maxDelayMs: Math.max(config.retry.maxDelayMs, 1_000),
      maxTransientAttempts: 10,
      resyncIntervalMs: config.sync.resyncIntervalMs,
      parkedRetryMs: PARKED_RETRY_MS,
      logger,
    },
  );
  const submit = (hint: Hint): Promise<Outcome> => engine.submit(hint);

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
        ca: config.amqp.caFile === undefined ? undefined : readFileSync(config.amqp.caFile, 'utf8'),
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
    return new PollSource(
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
  };
  let source: AmqpSource | PollSource | undefined;
  let http: RunningHttpServer | undefined;
  let started = false;
  let stopping: Promise<void> | undefined;

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
   * reconciles everything first. Only once that reconcile is complete is the checkpoint set, to
   * the moment it began: the changes made while it ran are polled afterwards, and a reconcile
   * that was killed or refused runs again at the next start.
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
      await engine.baseline((began) => {
        poll.resetToNow(began);
      });
      await poll.start();
    }
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
          await engine.baseline((began) => {
            store.putCheckpoint(AMQP_BASELINE, new Date(began).toISOString());
          });
        }
      } else {
        const poll = await pollSource();
        source = poll;
        await startPolling(poll);
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

  async function shutdown(timeoutMs: number): Promise<void> {
    const graceful = (async () => {
      await source?.stop();
      await engine.stop();
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
      await engine.queue.close();
      // Closing the queue releases whatever the source waited for; let it finish closing.
      await graceful.catch(() => undefined);
    }
    await Promise.allSettled([scim.close(), keycloak.close(), http?.close()]);
    store.close();
    logger.info('relay stopped');
  }
}
