import { describeHint } from '../domain/hint.js';
import type { CheckpointRow, ParkedItem } from '../state/state-store.js';
import {
  FULL_RECONCILE_CHECKPOINT,
  parseFullReconcileRecord,
  type FullReconcileRecord,
} from '../sync/full-reconcile-record.js';
import { ageText, timeText } from './age-text.js';
import { checkpointSummary } from './checkpoint-summary.js';
import type { StreamLag } from './event-lag.js';
import { OPERATOR_EXIT } from './operator-exit-codes.js';
import type { Probe } from './probe.js';
import type { RelayHolder, StateLocation, StateSummary } from './state-summary.js';

/** How far the relay is behind Keycloak. */
export type Lag =
  /** Poll mode: per stream, the stored events newer than the checkpoint covers. */
  | {
      readonly source: 'poll';
      /** Empty before the first full reconcile set the checkpoints. */
      readonly streams: readonly StreamLag[];
    }
  /** AMQP mode: the messages waiting in the relay's queue, not yet handed to a consumer. */
  | {
      readonly source: 'amqp';
      readonly queue: string;
      /** Undefined when the queue is not declared yet (no relay has started on it). */
      readonly ready: number | undefined;
      readonly consumers: number | undefined;
    };

/** The dead-letter queue's depth (AMQP mode). */
export interface DeadLetterDepth {
  readonly queue: string;
  /** Undefined when the queue is not declared yet: nothing was ever dead-lettered. */
  readonly depth: number | undefined;
}

/** Everything `status` found out, each part on its own: one that failed says why. */
export interface StatusReport {
  /** When the status was taken, epoch ms. */
  readonly at: number;
  readonly realm: string;
  readonly source: 'poll' | 'amqp';
  readonly state: StateLocation;
  readonly relay: Probe<RelayHolder>;
  readonly stateSummary: Probe<StateSummary>;
  readonly lag: Probe<Lag>;
  /** Undefined in poll mode, which has no dead-letter queue. */
  readonly deadLetters: Probe<DeadLetterDepth> | undefined;
}

/** What needs an operator's attention, one line each; empty when nothing does. Pure. */
export function statusAttention(report: StatusReport): string[] {
  const lines: string[] = [];
  if (report.relay.ok) {
    const holder = report.relay.value;
    if (holder.state === 'sqlite' && !holder.running) {
      lines.push('no relay runs on this STATE_DIR');
    }
    if (holder.state === 'postgres' && holder.leader === undefined) {
      lines.push('no replica holds the leader lock on this STATE_URL');
    }
  }
  if (report.stateSummary.ok && report.stateSummary.value.parkedCount > 0) {
    lines.push(`${report.stateSummary.value.parkedCount} parked item(s): see \`parked list\``);
  }
  const dead = report.deadLetters;
  if (dead?.ok === true && (dead.value.depth ?? 0) > 0) {
    lines.push(
      `${dead.value.depth ?? 0} dead-lettered message(s) in ${dead.value.queue}: see \`dead-letter list\``,
    );
  }
  return lines;
}

/** The parts that could not be read, one line each. Pure. */
export function statusErrors(report: StatusReport): string[] {
  const errors: string[] = [];
  if (!report.relay.ok) errors.push(`relay: ${report.relay.error}`);
  if (!report.stateSummary.ok) errors.push(`state: ${report.stateSummary.error}`);
  if (!report.lag.ok) errors.push(`lag: ${report.lag.error}`);
  if (report.deadLetters?.ok === false) errors.push(`dead letters: ${report.deadLetters.error}`);
  return errors;
}

/** 3 when a part could not be read, else 1 when something needs attention, else 0. Pure. */
export function statusExitCode(report: StatusReport): number {
  if (statusErrors(report).length > 0) return OPERATOR_EXIT.unavailable;
  return statusAttention(report).length > 0 ? OPERATOR_EXIT.attention : OPERATOR_EXIT.ok;
}

/** The last full reconcile as the state records it. Pure. */
export function lastFullReconcile(
  checkpoints: readonly CheckpointRow[],
): FullReconcileRecord | undefined {
  const row = checkpoints.find((c) => c.name === FULL_RECONCILE_CHECKPOINT);
  return parseFullReconcileRecord(row?.value);
}

/** The lag in one figure: how long the change that waited longest has waited (poll mode). */
export function lagMs(lag: Lag, at: number): number | undefined {
  if (lag.source !== 'poll') return undefined;
  let worst = 0;
  for (const stream of lag.streams) {
    if (stream.oldestPendingAt !== undefined) {
      worst = Math.max(worst, at - stream.oldestPendingAt);
    }
  }
  return worst;
}

const iso = (at: number | undefined): string | null =>
  at === undefined ? null : new Date(at).toISOString();
const seconds = (ms: number): number => Math.round(ms / 100) / 10;

/** The machine report: one JSON document, times in ISO 8601 and ages in seconds. Pure. */
export function statusJson(report: StatusReport): Record<string, unknown> {
  const { at } = report;
  const part = <T>(probe: Probe<T>, shape: (value: T) => unknown): unknown =>
    probe.ok ? shape(probe.value) : { error: probe.error };
  return {
    at: iso(at),
    realm: report.realm,
    source: report.source,
    state: report.state,
    relay: part(report.relay, (holder) =>
      holder.state === 'sqlite'
        ? { running: holder.running, pid: holder.pid ?? null }
        : {
            leader:
              holder.leader === undefined
                ? null
                : {
                    pid: holder.leader.pid,
                    applicationName: holder.leader.applicationName ?? null,
                    clientAddress: holder.leader.clientAddress ?? null,
                    since: iso(holder.leader.since),
                  },
          },
    ),
    checkpoints: part(report.stateSummary, (summary) =>
      summary.checkpoints.map((row) => ({
        name: row.name,
        updatedAt: iso(row.updatedAt),
        ageSeconds: seconds(at - row.updatedAt),
        summary: checkpointSummary(row),
        value: row.value,
      })),
    ),
    lastFullReconcile: part(report.stateSummary, (summary) => {
      const record = lastFullReconcile(summary.checkpoints);
      return record === undefined
        ? null
        : {
            reason: record.reason,
            startedAt: iso(record.startedAt),
            endedAt: iso(record.endedAt),
            ageSeconds: seconds(at - record.endedAt),
            durationSeconds: seconds(record.endedAt - record.startedAt),
            complete: record.complete,
            failures: record.failures,
            aborted: record.aborted ?? null,
            lastCompleteAt: iso(record.lastCompleteAt),
          };
    }),
    lag: part(report.lag, (lag) =>
      lag.source === 'poll'
        ? {
            source: 'poll',
            lagSeconds: seconds(lagMs(lag, at) ?? 0),
            streams: lag.streams.map((s) => ({
              stream: s.stream,
              coveredUntil: iso(s.coveredUntil),
              pendingEvents: s.pending,
              capped: s.capped,
              oldestPendingAt: iso(s.oldestPendingAt),
            })),
          }
        : {
            source: 'amqp',
            queue: lag.queue,
            declared: lag.ready !== undefined,
            readyMessages: lag.ready ?? 0,
            consumers: lag.consumers ?? 0,
          },
    ),
    parked: part(report.stateSummary, (summary) => ({
      count: summary.parkedCount,
      items: summary.parked.map((item) => parkedJson(item)),
    })),
    deadLetters:
      report.deadLetters === undefined
        ? null
        : part(report.deadLetters, (dead) => ({
            queue: dead.queue,
            declared: dead.depth !== undefined,
            depth: dead.depth ?? 0,
          })),
    attention: statusAttention(report),
    errors: statusErrors(report),
    exitCode: statusExitCode(report),
  };
}

/** A parked item as the JSON of `status` and `parked list` show it. Pure. */
export function parkedJson(item: ParkedItem): Record<string, unknown> {
  return {
    key: item.key,
    kind: item.hint.kind,
    what: describeHint(item.hint),
    reason: item.reason,
    attempts: item.attempts,
    firstFailedAt: iso(item.firstFailedAt),
    lastFailedAt: iso(item.lastFailedAt),
    hint: item.hint,
  };
}

/** The report for people: one section per part, then what needs attention. Pure. */
export function statusLines(report: StatusReport): string[] {
  const { at } = report;
  const ago = (time: number): string => `${ageText(at - time)} ago`;
  const lines: string[] = [
    `keycloak-scim-relay status at ${timeText(at)}: realm ${report.realm}, source ${report.source}, state ${
      report.state.kind === 'sqlite' ? `SQLite in ${report.state.dir}` : 'PostgreSQL (STATE_URL)'
    }`,
  ];

  if (!report.relay.ok) {
    lines.push(`relay:          unknown (${report.relay.error})`);
  } else if (report.relay.value.state === 'sqlite') {
    const holder = report.relay.value;
    lines.push(
      holder.running
        ? `relay:          running (holds the STATE_DIR lock${holder.pid === undefined ? '' : `, pid ${holder.pid}`})`
        : 'relay:          not running (nothing holds the STATE_DIR lock)',
    );
  } else {
    const leader = report.relay.value.leader;
    lines.push(
      leader === undefined
        ? 'leader:         none (no replica holds the leader lock)'
        : `leader:         ${leader.applicationName ?? 'a session'} (PostgreSQL backend ${leader.pid}${
            leader.clientAddress === undefined ? '' : ` from ${leader.clientAddress}`
          }${leader.since === undefined ? '' : `, connected ${ago(leader.since)}`})`,
    );
  }

  if (!report.lag.ok) {
    lines.push(`lag:            unknown (${report.lag.error})`);
  } else if (report.lag.value.source === 'poll') {
    const lag = report.lag.value;
    if (lag.streams.length === 0) {
      lines.push(
        'lag:            no event checkpoint yet (the first full reconcile has not completed)',
      );
    } else {
      const pending = lag.streams.some((s) => s.pending > 0);
      lines.push(
        pending
          ? `lag:            ${ageText(lagMs(lag, at) ?? 0)} (the age of the oldest stored event not yet read)`
          : 'lag:            none (Keycloak stores no event the relay has not read)',
      );
      for (const s of lag.streams) {
        lines.push(
          `  ${`${s.stream} events`.padEnd(14)}read up to ${ago(s.coveredUntil)}; ${s.capped ? 'at least ' : ''}${s.pending} newer stored${
            s.oldestPendingAt === undefined ? '' : `, the oldest from ${ago(s.oldestPendingAt)}`
          }`,
        );
      }
    }
  } else {
    const lag = report.lag.value;
    lines.push(
      lag.ready === undefined
        ? `lag:            queue ${lag.queue} not declared yet (no relay started on it)`
        : `lag:            ${lag.ready} message(s) waiting in ${lag.queue}, ${lag.consumers ?? 0} consumer(s)`,
    );
  }

  if (!report.stateSummary.ok) {
    lines.push(`state:          unreadable (${report.stateSummary.error})`);
  } else {
    const summary = report.stateSummary.value;
    const record = lastFullReconcile(summary.checkpoints);
    lines.push(
      record === undefined
        ? 'full reconcile: none recorded'
        : `full reconcile: ${ago(record.endedAt)} (${record.reason}), ${
            record.complete
              ? 'complete'
              : `incomplete: ${record.aborted ?? `${record.failures} failure(s)`}`
          }, took ${ageText(record.endedAt - record.startedAt)}${
            record.complete || record.lastCompleteAt === undefined
              ? ''
              : `; the last complete one ended ${ago(record.lastCompleteAt)}`
          }`,
    );
    lines.push(`checkpoints:    ${summary.checkpoints.length === 0 ? 'none' : ''}`.trimEnd());
    const width = Math.max(0, ...summary.checkpoints.map((row) => row.name.length));
    for (const row of summary.checkpoints) {
      lines.push(
        `  ${row.name.padEnd(width)}  ${`written ${ago(row.updatedAt)}`.padEnd(25)}${checkpointSummary(row)}`,
      );
    }
    lines.push(`parked:         ${summary.parkedCount}`);
    for (const item of summary.parked) lines.push(`  ${parkedLine(item, at)}`);
    if (summary.parked.length < summary.parkedCount) {
      lines.push(`  ... and ${summary.parkedCount - summary.parked.length} more (\`parked list\`)`);
    }
  }

  if (report.deadLetters !== undefined) {
    const dead = report.deadLetters;
    lines.push(
      !dead.ok
        ? `dead letters:   unknown (${dead.error})`
        : dead.value.depth === undefined
          ? `dead letters:   none (${dead.value.queue} not declared yet)`
          : `dead letters:   ${dead.value.depth} in ${dead.value.queue}`,
    );
  }

  const attention = statusAttention(report);
  const errors = statusErrors(report);
  if (errors.length > 0) lines.push(`could not read: ${errors.join('; ')}`);
  if (attention.length > 0) lines.push(`needs attention: ${attention.join('; ')}`);
  else if (errors.length === 0) lines.push('nothing needs attention');
  return lines;
}

/** One parked item in a line: key, what, attempts, since when, why. Pure. */
export function parkedLine(item: ParkedItem, at: number): string {
  return `${item.key}: ${describeHint(item.hint)}, ${item.attempts} attempt(s), failing since ${ageText(
    at - item.firstFailedAt,
  )} ago (last ${ageText(at - item.lastFailedAt)} ago): ${item.reason}`;
}
