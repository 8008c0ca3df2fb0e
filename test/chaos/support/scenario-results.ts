import { appendFile, readFile } from 'node:fs/promises';

/** One scenario's line in the closing summary. */
export interface ScenarioResult {
  readonly scenario: string;
  readonly mode: 'amqp' | 'poll';
  readonly outcome: 'passed' | 'failed';
  /** From the end of the fault to the comparison passing. */
  readonly convergenceMs?: number | undefined;
  /** Allowed for convergence. */
  readonly boundMs?: number | undefined;
  /** The relay's highest VmHWM over all its runs in the scenario. */
  readonly peakRssKb: number;
  readonly relayStarts: number;
  readonly durationMs: number;
  /** The failure, or what the scenario measured besides convergence. */
  readonly detail?: string | undefined;
}

/** Appends a result (scenarios run in a worker; the summary is printed by the setup process). */
export async function recordResult(file: string, result: ScenarioResult): Promise<void> {
  await appendFile(file, `${JSON.stringify(result)}\n`);
}

export async function readResults(file: string): Promise<ScenarioResult[]> {
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ScenarioResult);
}

/** The summary table, one line per scenario, aligned for a log. */
export function summaryLines(results: readonly ScenarioResult[], totalMs: number): string[] {
  const rows = results.map((r) => [
    r.scenario,
    r.mode,
    r.outcome,
    r.convergenceMs === undefined ? '-' : `${(r.convergenceMs / 1000).toFixed(1)} s`,
    r.boundMs === undefined ? '-' : `${(r.boundMs / 1000).toFixed(0)} s`,
    `${(r.peakRssKb / 1024).toFixed(0)} MiB`,
    String(r.relayStarts),
    `${(r.durationMs / 1000).toFixed(0)} s`,
    r.detail ?? '',
  ]);
  const header = [
    'scenario',
    'mode',
    'result',
    'convergence',
    'bound',
    'peak RSS',
    'starts',
    'took',
    'notes',
  ];
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  // The notes column is last and left ragged.
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join(' | ')
      .trimEnd();
  const passed = results.filter((r) => r.outcome === 'passed').length;
  return [
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    `${passed} of ${results.length} scenarios passed; suite time ${(totalMs / 1000).toFixed(0)} s`,
  ];
}
