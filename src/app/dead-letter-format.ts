import { describeHint } from '../domain/hint.js';
import type { DeadLetterInfo, ReplayPlan } from '../sources/dead-letters.js';
import { OPERATOR_EXIT } from './operator-exit-codes.js';

/** A dead-lettered message, and what replaying it would do. */
export interface DeadLetterEntry {
  readonly info: DeadLetterInfo;
  readonly plan: ReplayPlan;
}

/** How replaying one selected message ended. */
export type ReplayResult =
  /** Its entities were reconciled from Keycloak, and the message removed from the queue. */
  | { readonly entry: DeadLetterEntry; readonly outcome: 'replayed' }
  /** It names no entity of this realm: left in the queue. */
  | { readonly entry: DeadLetterEntry; readonly outcome: 'unreplayable'; readonly reason: string }
  /** Its work failed (parked) or was cut short: left in the queue. */
  | { readonly entry: DeadLetterEntry; readonly outcome: 'failed'; readonly reason: string };

/** What `dead-letter list` read: the oldest messages, up to its limit, of `depth` in all. */
export interface DeadLetterListing {
  readonly queue: string;
  readonly depth: number;
  readonly entries: readonly DeadLetterEntry[];
}

export interface ReplayReport {
  readonly queue: string;
  readonly results: readonly ReplayResult[];
  /** Messages in the queue afterwards. */
  readonly remaining: number;
}

const entities = (plan: ReplayPlan): string[] | null =>
  'hints' in plan ? plan.hints.map((hint) => describeHint(hint)) : null;

function entryJson(entry: DeadLetterEntry): Record<string, unknown> {
  return {
    id: entry.info.id,
    routingKey: entry.info.routingKey,
    reason: entry.info.reason ?? null,
    deadLetteredAt: entry.info.deadLetteredAt ?? null,
    bytes: entry.info.bytes,
    replayable: 'hints' in entry.plan,
    entities: entities(entry.plan),
    unreplayable: 'unreplayable' in entry.plan ? entry.plan.unreplayable : null,
  };
}

function entryLine(entry: DeadLetterEntry): string {
  const { info, plan } = entry;
  const what =
    'hints' in plan
      ? `replay reconciles ${plan.hints.map((hint) => describeHint(hint)).join(', ')}`
      : `cannot be replayed: ${plan.unreplayable}`;
  return `${info.id}  ${info.routingKey}  dead-lettered ${info.deadLetteredAt ?? 'at an unknown time'}: ${
    info.reason ?? 'no reason recorded'
  }; ${what}`;
}

/** `dead-letter list` for people. Pure. */
export function deadLetterListLines({ queue, depth, entries }: DeadLetterListing): string[] {
  if (depth === 0) return [`${queue} is empty`];
  const lines = [
    `${depth} message(s) in ${queue}, oldest first:`,
    ...entries.map((e) => `  ${entryLine(e)}`),
  ];
  const unshown = depth - entries.length;
  if (unshown > 0) {
    lines.push(
      `  … and ${unshown} more, not shown (--limit ${entries.length}; raise it to see them)`,
    );
  }
  return lines;
}

/** `dead-letter list --json`: `messages` holds the shown ones, `depth` counts all. Pure. */
export function deadLetterListJson(listing: DeadLetterListing): Record<string, unknown> {
  return {
    queue: listing.queue,
    depth: listing.depth,
    shown: listing.entries.length,
    messages: listing.entries.map(entryJson),
    exitCode: deadLetterListExitCode(listing),
  };
}

/** 0 when the queue is empty, 1 otherwise. Pure. */
export function deadLetterListExitCode(listing: DeadLetterListing): number {
  return listing.depth === 0 ? OPERATOR_EXIT.ok : OPERATOR_EXIT.attention;
}

/** 0 when every selected message was replayed, 1 otherwise. Pure. */
export function replayExitCode(report: ReplayReport): number {
  return report.results.every((r) => r.outcome === 'replayed')
    ? OPERATOR_EXIT.ok
    : OPERATOR_EXIT.attention;
}

/** `dead-letter replay` for people. Pure. */
export function replayLines(report: ReplayReport): string[] {
  if (report.results.length === 0) return [`${report.queue} is empty: nothing to replay`];
  const lines = report.results.map((r) => {
    const id = r.entry.info.id;
    switch (r.outcome) {
      case 'replayed':
        return `✓ ${id}: reconciled ${(entities(r.entry.plan) ?? []).join(', ')} from Keycloak; removed from the queue`;
      case 'unreplayable':
        return `✗ ${id}: cannot be replayed, left in the queue: ${r.reason}`;
      case 'failed':
        return `✗ ${id}: its work did not succeed, left in the queue: ${r.reason}`;
    }
  });
  const count = (outcome: ReplayResult['outcome']): number =>
    report.results.filter((r) => r.outcome === outcome).length;
  lines.push(
    `replayed ${count('replayed')} of ${report.results.length} (${count('unreplayable')} cannot be replayed, ${count('failed')} failed); ${report.remaining} message(s) left in ${report.queue}`,
  );
  return lines;
}

/** `dead-letter replay --json`. Pure. */
export function replayJson(report: ReplayReport): Record<string, unknown> {
  return {
    queue: report.queue,
    results: report.results.map((r) => ({
      ...entryJson(r.entry),
      outcome: r.outcome,
      ...(r.outcome === 'replayed' ? {} : { why: r.reason }),
    })),
    remaining: report.remaining,
    exitCode: replayExitCode(report),
  };
}
