import type { StateStore } from '../state/state-store.js';

/** The checkpoint that keeps how the last full reconcile went, for `status`. */
export const FULL_RECONCILE_CHECKPOINT = 'full-reconcile.last';

/**
 * Set while a full reconcile (of `run`, or a `resync`) applies its plan, and cleared once its
 * writes are all committed. Those writes are committed in groups, so a crash loses the last
 * group's id-map links: found at the next start of `run`, it makes `run` reconcile everything
 * again first, which finds those SCIM resources by their externalId in its listing.
 */
export const FULL_RECONCILE_APPLYING_CHECKPOINT = 'full-reconcile.applying';

/** How the last full reconcile (of `run`, or a `resync` of everything) went. */
export interface FullReconcileRecord {
  /** Why it ran: `first_start`, `events_expired`, `interrupted`, `scim_lost`, `requested`, `resync`. */
  readonly reason: string;
  /** Epoch ms. */
  readonly startedAt: number;
  readonly endedAt: number;
  /** Every entity compared and nothing failed: it stands for everything before `startedAt`. */
  readonly complete: boolean;
  readonly failures: number;
  /** Why it stopped early, when it did. */
  readonly aborted?: string | undefined;
  /** When the newest complete one ended: this one, or one before it; absent before the first. */
  readonly lastCompleteAt?: number | undefined;
}

/**
 * Records a full reconcile that ended, complete or not, beside the checkpoints it stands for.
 * The time of the last complete one is carried over from the previous record, so an operator
 * sees both how the last one went and how old the last good one is.
 */
export function recordFullReconcile(
  store: StateStore,
  run: Omit<FullReconcileRecord, 'complete' | 'lastCompleteAt'>,
): FullReconcileRecord {
  const complete = run.failures === 0 && run.aborted === undefined;
  const previous = parseFullReconcileRecord(store.checkpoint(FULL_RECONCILE_CHECKPOINT));
  const record: FullReconcileRecord = {
    ...run,
    complete,
    lastCompleteAt: complete ? run.endedAt : previous?.lastCompleteAt,
  };
  store.putCheckpoint(FULL_RECONCILE_CHECKPOINT, JSON.stringify(record));
  return record;
}

/** The stored record, or undefined when there is none or it cannot be read. */
export function parseFullReconcileRecord(raw: string | undefined): FullReconcileRecord | undefined {
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const field = (name: string): unknown => Reflect.get(value, name);
  const reason = field('reason');
  const startedAt = field('startedAt');
  const endedAt = field('endedAt');
  const failures = field('failures');
  if (
    typeof reason !== 'string' ||
    typeof startedAt !== 'number' ||
    typeof endedAt !== 'number' ||
    typeof failures !== 'number'
  ) {
    return undefined;
  }
  const aborted = field('aborted');
  const lastCompleteAt = field('lastCompleteAt');
  return {
    reason,
    startedAt,
    endedAt,
    failures,
    complete: field('complete') === true,
    ...(typeof aborted === 'string' ? { aborted } : {}),
    ...(typeof lastCompleteAt === 'number' ? { lastCompleteAt } : {}),
  };
}
