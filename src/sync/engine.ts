import type { Logger } from 'pino';
import { describeHint, type Hint } from '../domain/hint.js';
import { DEFAULT_DELETION_GUARD } from '../domain/resync-plan.js';
import { describeError } from '../errors.js';
import type { ScimClient } from '../scim/scim-client.js';
import type { StateStore } from '../state/state-store.js';
import { recordFullReconcile } from './full-reconcile-record.js';
import type { KeycloakRealmReader } from './keycloak-reader.js';
import { Reconciler, type ReconcilerOptions } from './reconciler.js';
import { resync, type ResyncReport } from './resync.js';
import { Sweep } from './sweep.js';
import { WorkQueue, type Outcome, type WorkQueueHooks } from './work-queue.js';

export interface SyncEngineOptions extends Omit<ReconcilerOptions, 'schedule' | 'logger'> {
  /** Entities reconciled at once. */
  readonly concurrency: number;
  /** Backoff of a hint that fails transiently. */
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** A hint still failing transiently after this many tries is parked. */
  readonly maxTransientAttempts: number;
  /** How often everything is reconciled in the background; 0: never. */
  readonly resyncIntervalMs: number;
  /** How often parked work is tried again. */
  readonly parkedRetryMs: number;
  /** How often the SCIM side's counts are compared with what the relay wrote; 0: never. */
  readonly verifyIntervalMs: number;
  readonly logger: Logger;
}

export interface SyncEngineDeps {
  readonly keycloak: KeycloakRealmReader;
  readonly scim: ScimClient;
  readonly store: StateStore;
  /** Counters of the work queue (applied, parked, retried); parked-count changes. */
  readonly hooks?: Partial<Pick<WorkQueueHooks, 'onApplied' | 'onParked' | 'onRetry'>> & {
    readonly onParkedCount?: (count: number) => void;
    /** A full reconcile ended without failures: a successful sync. */
    readonly onReconciled?: () => void;
    /** A full reconcile starts, and why. */
    readonly onFullReconcile?: (reason: FullReconcileReason) => void;
    /** The SCIM side was found to have lost what the relay wrote. */
    readonly onScimLost?: () => void;
  };
  /** Runs a full reconcile's reading and planning (see `ResyncDeps.whileReading`). */
  readonly whileReading?: <T>(work: () => Promise<T>) => Promise<T>;
}

/** Why a full reconcile runs. */
export type FullReconcileReason =
  'first_start' | 'events_expired' | 'interrupted' | 'scim_lost' | 'requested';

/** The periodic verification runs a slice this often (more often for shorter intervals). */
const SWEEP_SLICE_MS = 60_000;

/**
 * Known SCIM resources answering 404 within `LOST_WINDOW_MS` that make the relay conclude the
 * SCIM side lost its state (restored from a backup, integration re-created), rather than that
 * a person deleted one or two.
 */
const LOST_AFTER_MISSING = 3;
const LOST_WINDOW_MS = 10 * 60_000;

/**
 * The relay's engine: every hint from a source, every parked item tried again, and every full
 * reconcile go through one reconciler, so all of them serialise on the same per-entity locks.
 * The sources only turn events into hints; `relay.ts` only wires.
 */
export class SyncEngine {
  readonly reconciler: Reconciler;
  readonly queue: WorkQueue;
  private sweep: Sweep | undefined;
  private parkedTimer: NodeJS.Timeout | undefined;
  private running: Promise<ResyncReport> | undefined;
  private verifyTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** When known twins last answered 404, newest last, within `LOST_WINDOW_MS`. */
  private missing: number[] = [];

  constructor(
    private readonly deps: SyncEngineDeps,
    private readonly options: SyncEngineOptions,
  ) {
    const { store, hooks } = deps;
    const logger = options.logger;
    this.reconciler = new Reconciler(deps.keycloak, deps.scim, store, {
      ...options,
      logger,
      // Work found in passing runs as a hint of its own, outside the locks held now.
      schedule: (hint) => {
        this.submit(hint).catch(() => undefined);
      },
      onTwinMissing: (kind, scimId) => {
        this.twinMissing(kind, scimId);
      },
    });
    const parkedChanged = (): void => hooks?.onParkedCount?.(store.parkedCount());
    this.queue = new WorkQueue(
      (hint) => this.reconciler.apply(hint),
      {
        park: (key, hint, reason) => {
          store.park(key, hint, reason);
          parkedChanged();
        },
        // Called when a hint's work succeeded: its entity was compared with its twin.
        unpark: (key) => {
          store.unpark(key);
          parkedChanged();
          this.verified(key);
          this.retryDependents(key);
        },
        ...(hooks?.onApplied === undefined ? {} : { onApplied: hooks.onApplied }),
        ...(hooks?.onParked === undefined ? {} : { onParked: hooks.onParked }),
        ...(hooks?.onRetry === undefined ? {} : { onRetry: hooks.onRetry }),
      },
      {
        concurrency: options.concurrency,
        minDelayMs: options.minDelayMs,
        maxDelayMs: options.maxDelayMs,
        maxTransientAttempts: options.maxTransientAttempts,
        logger,
      },
    );
    parkedChanged();
  }

  /** Resolves once the hint is applied or parked; rejects when the engine stops first. */
  submit(hint: Hint): Promise<Outcome> {
    return this.queue.submit(hint);
  }

  /**
   * Reconciles everything now, through the same locks as the events; a second call while one
   * runs joins it. Missed deletions are repaired too, within the deletion guard.
   */
  reconcileAll(reason: FullReconcileReason = 'requested'): Promise<ResyncReport> {
    if (this.running === undefined) {
      this.deps.hooks?.onFullReconcile?.(reason);
      this.running = this.fullReconcile(reason).finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  /**
   * A full reconcile that stands for everything before it began: `record` marks that moment
   * (a poll checkpoint, the AMQP queue's baseline) only once the reconcile is complete. One
   * stopped early (a refused token, a disabled integration) throws and records nothing, so the
   * next start reconciles again; nothing is ever marked ahead of the work it stands for.
   */
  async baseline(
    reason: 'first_start' | 'events_expired',
    record: (began: number) => void,
  ): Promise<void> {
    const began = Date.now();
    const report = await this.reconcileAll(reason);
    if (report.aborted !== undefined) {
      throw new Error(`the first full reconcile did not complete: ${report.aborted}`);
    }
    record(began);
  }

  /** Starts the periodic verification, the retries of parked work, and the SCIM checks. */
  startBackground(): void {
    if (this.options.resyncIntervalMs > 0 && !this.stopped) {
      this.sweep = new Sweep(
        {
          store: this.deps.store,
          keycloak: this.deps.keycloak,
          submit: (hint) => this.submit(hint),
        },
        {
          intervalMs: this.options.resyncIntervalMs,
          sliceMs: Math.min(SWEEP_SLICE_MS, this.options.resyncIntervalMs),
          logger: this.options.logger,
        },
      );
      this.sweep.start();
    }
    if (this.options.verifyIntervalMs > 0) {
      this.verifyTimer = setInterval(() => {
        this.verifyCounts().catch((error: unknown) => {
          this.options.logger.debug({ error: describeError(error) }, 'SCIM count check failed');
        });
      }, this.options.verifyIntervalMs);
      this.verifyTimer.unref();
    }
    this.parkedTimer = setInterval(() => {
      this.retryParked();
    }, this.options.parkedRetryMs);
    this.parkedTimer.unref();
  }

  /** Stops the timers, lets a running full reconcile end, and closes the queue. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.parkedTimer);
    clearInterval(this.verifyTimer);
    // The sweep's slice waits for its hints, which the queue's closing settles.
    const sweeping = this.sweep?.stop();
    await this.running?.catch(() => undefined);
    await this.queue.close();
    await sweeping;
  }

  private async fullReconcile(reason: FullReconcileReason): Promise<ResyncReport> {
    const { logger } = this.options;
    const began = Date.now();
    const report = await resync(
      { ...this.deps, reconciler: this.reconciler, logger },
      {
        mapping: this.options.mapping,
        userDeleteMode: this.options.userDeleteMode,
        membershipMode: this.options.membershipMode,
        scope: 'all',
        prune: true,
        guard: DEFAULT_DELETION_GUARD,
        confirmed: false,
        dryRun: false,
        concurrency: this.options.concurrency,
        provisionScope: this.options.scope,
      },
    );
    const { users, groups, memberships, failures, guard } = report;
    logger.info(
      { users, groups, memberships, failures: failures.length, ms: report.durationMs },
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
      // Every twin was compared with Keycloak as of `began`.
      this.deps.store.markAllVerified(began);
      this.deps.hooks?.onReconciled?.();
    }
    // Beside the checkpoints it stands for, so that `status` can tell when it last ran.
    recordFullReconcile(this.deps.store, {
      reason,
      startedAt: began,
      endedAt: Date.now(),
      failures: failures.length,
      aborted: report.aborted,
    });
    return report;
  }

  /** A hint's work succeeded: for a user or a group, its twin now matches Keycloak. */
  private verified(key: string): void {
    if (key.startsWith('user:')) this.deps.store.markVerified('user', key.slice('user:'.length));
    else if (key.startsWith('group:')) {
      this.deps.store.markVerified('group', key.slice('group:'.length));
    }
  }

  /**
   * A user's reconcile succeeded: memberships of that user parked because it could not be
   * provisioned then are tried again now, not at the parked work's next round.
   */
  private retryDependents(key: string): void {
    if (!key.startsWith('user:')) return;
    const userId = key.slice('user:'.length);
    for (const item of this.deps.store.parkedStartingWith(`membership:${userId}:`)) {
      this.submit(item.hint).catch(() => undefined);
    }
  }

  /**
   * A twin the id map names answered 404. One or two: a person deleted them in the target,
   * and their own reconciles create them again. More in a short time: the SCIM side lost what
   * the relay wrote, and everything is reconciled at once, instead of entity by entity as
   * events happen to come.
   */
  private twinMissing(kind: 'user' | 'group', scimId: string): void {
    // A full reconcile running now puts back whatever is missing: nothing more to conclude.
    if (this.running !== undefined) return;
    const now = Date.now();
    this.missing = [...this.missing.filter((at) => now - at < LOST_WINDOW_MS), now];
    this.options.logger.warn(
      { kind, scimId },
      `SCIM ${kind} ${scimId}, known to the relay, is gone from the SCIM side`,
    );
    if (this.missing.length < LOST_AFTER_MISSING) return;
    this.missing = [];
    this.scimLost(
      `${LOST_AFTER_MISSING} resources the relay wrote answered 404 within ${LOST_WINDOW_MS / 60_000} minutes`,
    );
  }

  /**
   * Compares how many users and groups the SCIM side holds with how many the relay wrote and
   * still manages: far fewer means the SCIM side lost them (a restore, a re-created integration).
   */
  private async verifyCounts(): Promise<void> {
    if (this.running !== undefined) return;
    const linked = this.deps.store.linkCounts();
    for (const [kind, mine] of [
      ['Users', linked.users],
      ['Groups', linked.groups],
    ] as const) {
      if (mine === 0) continue;
      const theirs = await this.deps.scim.total(kind);
      // A few can go by hand between checks; a share of them cannot.
      if (theirs < mine - Math.max(2, Math.floor(mine / 20))) {
        this.scimLost(
          `the SCIM side holds ${theirs} ${kind.toLowerCase()}, the relay wrote and manages ${mine}`,
        );
        return;
      }
    }
  }

  private scimLost(why: string): void {
    if (this.stopped) return;
    this.deps.hooks?.onScimLost?.();
    this.options.logger.error(
      { why },
      `the SCIM side lost what the relay wrote (${why}): reconciling everything now`,
    );
    this.reconcileAll('scim_lost').catch((error: unknown) => {
      this.options.logger.error(
        { error: describeError(error) },
        'full reconcile failed; retried next time',
      );
    });
  }

  /** Parked work is tried again: a fix on either side heals it without anyone acting. */
  private retryParked(): void {
    for (const item of this.deps.store.parked()) {
      this.submit(item.hint).catch((error: unknown) => {
        this.options.logger.debug(
          { error: describeError(error) },
          `parked ${describeHint(item.hint)} left`,
        );
      });
    }
  }
}
