import { describe, expect, it } from 'vitest';
import { StateStore } from '../../src/state/state-store.js';
import {
  FULL_RECONCILE_CHECKPOINT,
  parseFullReconcileRecord,
  recordFullReconcile,
} from '../../src/sync/full-reconcile-record.js';

describe('the last full reconcile record', () => {
  it('keeps how the last one went, and when the last complete one ended', () => {
    const store = StateStore.open(':memory:');
    expect(parseFullReconcileRecord(store.checkpoint(FULL_RECONCILE_CHECKPOINT))).toBeUndefined();
    recordFullReconcile(store, {
      reason: 'first_start',
      startedAt: 1_000,
      endedAt: 2_000,
      failures: 0,
    });
    const failed = recordFullReconcile(store, {
      reason: 'scim_lost',
      startedAt: 5_000,
      endedAt: 6_000,
      failures: 2,
    });
    expect(failed).toEqual({
      reason: 'scim_lost',
      startedAt: 5_000,
      endedAt: 6_000,
      failures: 2,
      complete: false,
      lastCompleteAt: 2_000,
    });
    expect(parseFullReconcileRecord(store.checkpoint(FULL_RECONCILE_CHECKPOINT))).toEqual(failed);
    const aborted = recordFullReconcile(store, {
      reason: 'requested',
      startedAt: 7_000,
      endedAt: 7_500,
      failures: 0,
      aborted: 'SCIM refused the token',
    });
    expect(aborted).toMatchObject({ complete: false, lastCompleteAt: 2_000 });
    expect(
      recordFullReconcile(store, {
        reason: 'resync',
        startedAt: 8_000,
        endedAt: 9_000,
        failures: 0,
      }),
    ).toMatchObject({ complete: true, lastCompleteAt: 9_000 });
  });

  it('reads nothing from a value it cannot make sense of', () => {
    expect(parseFullReconcileRecord('not json')).toBeUndefined();
    expect(parseFullReconcileRecord('{"reason":1}')).toBeUndefined();
    expect(parseFullReconcileRecord('null')).toBeUndefined();
  });
});
