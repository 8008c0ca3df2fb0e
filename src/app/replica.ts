import { once } from 'node:events';
import { hostname } from 'node:os';
import pg from 'pg';
import type { Config } from '../config.js';
import { describeError } from '../errors.js';
import { acquireLeadership, type Leadership } from '../ha/leader-lock.js';
import { startHttpServer, type RunningHttpServer } from '../http/health-server.js';
import { readinessFromProbes, type ReadinessCheck } from '../http/readiness.js';
import type { Logger } from '../logger.js';
import { RelayMetrics } from '../metrics/relay-metrics.js';
import { PostgresStateStore } from '../state/postgres/postgres-state-store.js';
import { createRelay, type Relay } from './relay.js';

/** Leader election timings; see `acquireLeadership` for how they bound fencing. */
export const ELECTION = {
  retryMs: 1_000,
  heartbeatMs: 1_000,
  heartbeatTimeoutMs: 2_000,
  graceMs: 5_000,
} as const;

/**
 * One replica of a relay whose state is in PostgreSQL. It serves health and metrics at once,
 * stands by until it holds the leader lock, then loads the state and runs the relay. Only the
 * leader consumes events and writes.
 *
 * A leader that loses its lock stops every write at once and exits with 1: its supervisor
 * restarts it, and it stands by again (the convention of Kubernetes controllers, where a
 * restart is the simplest way to drop all in-memory state of the lost term).
 *
 * `/readyz` on a standby answers 200 when the state database answers: the standby is ready to
 * take over, and a Deployment's rolling update must not wait for it to become the leader.
 * `scim_relay_is_leader` tells the leader from the standbys.
 */
export async function runReplica(
  config: Config,
  stateUrl: string,
  logger: Logger,
  stop: AbortSignal,
): Promise<number> {
  const metrics = new RelayMetrics();
  metrics.setLeader(false);
  const probes = new pg.Pool({ connectionString: stateUrl, max: 1, idleTimeoutMillis: 10_000 });
  probes.on('error', () => undefined);
  let relay: Relay | undefined;
  // From the lead on, readiness is the relay's: not ready until its start is done.
  let leading = false;
  const standby: ReadinessCheck = readinessFromProbes({
    role: () => ({ ok: true, detail: 'standby' }),
    state: async () => {
      await probes.query('SELECT 1');
      return { ok: true, detail: 'PostgreSQL answers' };
    },
  });
  let http: RunningHttpServer | undefined;
  if (config.http.port !== 0) {
    http = await startHttpServer({
      host: config.http.host,
      port: config.http.port,
      metrics: metrics.registry,
      readiness: () =>
        !leading
          ? standby()
          : (relay?.readiness() ??
            Promise.resolve({ source: { ok: false, detail: 'leader, starting' } })),
    });
  }
  const connect = async (): Promise<pg.Client> => {
    // Named, so that `status` (and pg_stat_activity) tells which replica holds the lead.
    const client = new pg.Client({
      connectionString: stateUrl,
      application_name: `keycloak-scim-relay run (${hostname()} pid ${process.pid})`,
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };

  let leadership: Leadership | undefined;
  try {
    leadership = await acquireLeadership({ ...ELECTION, connect, logger, signal: stop });
  } catch (error) {
    await Promise.allSettled([probes.end(), http?.close()]);
    if (stop.aborted) return 0;
    throw error;
  }
  const held = leadership;
  logger.info('this replica is the leader');
  leading = true;
  metrics.setLeader(true);
  try {
    const store = await PostgresStateStore.connect(held.client, { logger });
    relay = await createRelay(config, logger, { store, metrics, serveHttp: false });
    const current = relay;
    const lost = held.lost.then((reason) => {
      // Fenced: no write after this line, from this replica.
      current.fence();
      store.halt(reason);
      metrics.setLeader(false);
      logger.error(
        { reason: describeError(reason) },
        'lost the leader lock: stopped writing at once; exiting, so that a restart stands by',
      );
      return 'lost' as const;
    });
    const signalled = stop.aborted ? Promise.resolve() : once(stop, 'abort').then(() => undefined);
    // A signal stops the relay whenever it comes, during the start too.
    const stopping = signalled.then(() => current.stop());
    try {
      await Promise.race([
        current.start(),
        lost.then(() => Promise.reject(new Error('lost the leader lock while starting'))),
      ]);
    } catch (error) {
      if (stop.aborted) {
        await stopping;
        return 0;
      }
      const fenced = await Promise.race([lost, Promise.resolve('held' as const)]);
      if (fenced === 'held') {
        logger.fatal({ error: describeError(error) }, `cannot start: ${describeError(error)}`);
      }
      await current.stop();
      return 1;
    }
    const outcome = await Promise.race([signalled.then(() => 'stop' as const), lost]);
    if (outcome === 'stop') {
      await stopping;
      return 0;
    }
    await current.stop();
    return 1;
  } finally {
    await held.release();
    await Promise.allSettled([probes.end(), http?.close()]);
  }
}
