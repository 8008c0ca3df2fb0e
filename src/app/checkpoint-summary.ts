import type { CheckpointRow } from '../state/state-store.js';
import {
  FULL_RECONCILE_APPLYING_CHECKPOINT,
  FULL_RECONCILE_CHECKPOINT,
  parseFullReconcileRecord,
} from '../sync/full-reconcile-record.js';
import { timeText } from './age-text.js';

/** Where a poll source (`poll.*`) or the backstop (`backstop.*`) stands in one event stream. */
export interface StreamCheckpoint {
  /** Time of the newest event applied (epoch ms). */
  readonly watermark: number;
  /** When the last complete poll began: every event stored before it is applied. */
  readonly checkedAt: number;
  /** Keycloak 26.2+: pages events by epoch ms, ascending. */
  readonly modern: boolean;
}

/** Reads a stream checkpoint's value; undefined when it is not one. Pure. */
export function parseStreamCheckpoint(value: string): StreamCheckpoint | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const watermark: unknown = Reflect.get(parsed, 'watermark');
  const checkedAt: unknown = Reflect.get(parsed, 'checkedAt');
  if (typeof watermark !== 'number' || typeof checkedAt !== 'number') return undefined;
  return { watermark, checkedAt, modern: Reflect.get(parsed, 'modern') === true };
}

const STREAM_CHECKPOINT = /^(poll|backstop)\.(admin|user)$/;

/** Whether `name` is the checkpoint of an event stream, and whose. Pure. */
export function streamOf(
  name: string,
): { readonly reader: 'poll' | 'backstop'; readonly stream: 'admin' | 'user' } | undefined {
  const match = STREAM_CHECKPOINT.exec(name);
  if (match === null) return undefined;
  return {
    reader: match[1] === 'poll' ? 'poll' : 'backstop',
    stream: match[2] === 'admin' ? 'admin' : 'user',
  };
}

/** What a checkpoint says, in a line, for the checkpoints the relay writes. Pure. */
export function checkpointSummary(row: CheckpointRow): string {
  const stream = streamOf(row.name);
  if (stream !== undefined) {
    const checkpoint = parseStreamCheckpoint(row.value);
    if (checkpoint === undefined) return `unreadable ${stream.stream}-event checkpoint`;
    return `${stream.stream} events read up to ${timeText(checkpoint.checkedAt)}; newest applied from ${timeText(checkpoint.watermark)}`;
  }
  switch (row.name) {
    case 'amqp.baseline':
      return `the queue holds every change since the full reconcile that began ${row.value}`;
    case 'sweep.cursor':
      return 'where the periodic verification goes on from';
    case 'relay.run': {
      const record = jsonObject(row.value);
      const running = record?.running === true;
      const crashes = typeof record?.crashes === 'number' ? record.crashes : 0;
      return running
        ? `a run began and has not stopped cleanly (it runs, or died)${crashes > 0 ? `; ${crashes} run(s) in a row died` : ''}`
        : 'the last run stopped cleanly';
    }
    case FULL_RECONCILE_CHECKPOINT: {
      const record = parseFullReconcileRecord(row.value);
      if (record === undefined) return 'unreadable full reconcile record';
      return `the last full reconcile (${record.reason}) ${record.complete ? 'completed' : 'did not complete'}`;
    }
    case FULL_RECONCILE_APPLYING_CHECKPOINT:
      return `a full reconcile began writing ${timeText(row.updatedAt)} and has not finished (it runs, or was cut short: run reconciles everything again at its next start)`;
    default:
      return row.value.length > 80 ? `${row.value.slice(0, 77)}...` : row.value;
  }
}

function jsonObject(value: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
