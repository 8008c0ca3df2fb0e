import { describeHint } from '../domain/hint.js';
import type { ParkedItem } from '../state/state-store.js';
import { OPERATOR_EXIT } from './operator-exit-codes.js';
import { parkedJson, parkedLine } from './status-format.js';

/** `parked list` for people. Pure. */
export function parkedListLines(items: readonly ParkedItem[], at: number): string[] {
  if (items.length === 0) return ['nothing is parked'];
  return [
    `${items.length} parked item(s), oldest first:`,
    ...items.map((i) => `  ${parkedLine(i, at)}`),
  ];
}

/** `parked list --json`. Pure. */
export function parkedListJson(items: readonly ParkedItem[]): Record<string, unknown> {
  return {
    count: items.length,
    items: items.map((item) => parkedJson(item)),
    exitCode: parkedListExitCode(items),
  };
}

/** 0 when nothing is parked, 1 otherwise. Pure. */
export function parkedListExitCode(items: readonly ParkedItem[]): number {
  return items.length === 0 ? OPERATOR_EXIT.ok : OPERATOR_EXIT.attention;
}

/** How one parked item's retry ended. */
export type RetryResult =
  | { readonly item: ParkedItem; readonly outcome: 'applied' }
  /** It failed again and stays parked, with the new reason and attempts. */
  | {
      readonly item: ParkedItem;
      readonly outcome: 'parked';
      readonly reason: string;
      readonly attempts: number;
    }
  /** The command stopped before its work ended; the item stays parked as it was. */
  | { readonly item: ParkedItem; readonly outcome: 'cut'; readonly reason: string };

/** What `parked retry` did. */
export interface RetryReport {
  readonly results: readonly RetryResult[];
  /** Parked work not asked for that the retries healed on the way (a user's memberships). */
  readonly alsoApplied: readonly string[];
}

/** 0 when every retried item was applied, 1 otherwise. Pure. */
export function retryExitCode(report: RetryReport): number {
  return report.results.every((r) => r.outcome === 'applied')
    ? OPERATOR_EXIT.ok
    : OPERATOR_EXIT.attention;
}

/** `parked retry` for people: one line per item, then the counts. Pure. */
export function retryLines(report: RetryReport): string[] {
  if (report.results.length === 0) return ['nothing is parked: nothing to retry'];
  const lines = report.results.map((r) => {
    const what = `${r.item.key} (${describeHint(r.item.hint)})`;
    switch (r.outcome) {
      case 'applied':
        return `✓ ${what}: applied, no longer parked`;
      case 'parked':
        return `✗ ${what}: still fails, parked (${r.attempts} attempts): ${r.reason}`;
      case 'cut':
        return `… ${what}: not finished, still parked as before: ${r.reason}`;
    }
  });
  for (const key of report.alsoApplied)
    lines.push(`✓ ${key}: applied on the way, no longer parked`);
  const count = (outcome: RetryResult['outcome']): number =>
    report.results.filter((r) => r.outcome === outcome).length;
  lines.push(
    `retried ${report.results.length}: ${count('applied')} applied, ${count('parked')} still failing, ${count('cut')} not finished`,
  );
  return lines;
}

/** `parked retry --json`. Pure. */
export function retryJson(report: RetryReport): Record<string, unknown> {
  return {
    retried: report.results.length,
    results: report.results.map((r) => ({
      key: r.item.key,
      what: describeHint(r.item.hint),
      outcome: r.outcome,
      ...(r.outcome === 'parked' ? { reason: r.reason, attempts: r.attempts } : {}),
      ...(r.outcome === 'cut' ? { reason: r.reason } : {}),
      previousReason: r.item.reason,
    })),
    alsoApplied: report.alsoApplied,
    exitCode: retryExitCode(report),
  };
}
