/**
 * The Prometheus text exposition format, version 0.0.4: the escaping and number rules every
 * metric family shares. See https://prometheus.io/docs/instrumenting/exposition_formats/.
 */

/** The `Content-Type` a scraper expects for this format. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Label values are unbounded text: a backslash, a double quote and a newline are escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** HELP text escapes only a backslash and a newline; a double quote stays as it is. */
export function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

/** A sample value as Go's ParseFloat reads it back, infinities and NaN included. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** `{a="1",b="2"}`, or nothing at all for a series without labels. */
export function formatLabels(labels: readonly (readonly [string, string])[]): string {
  if (labels.length === 0) return '';
  return `{${labels.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`;
}

/** The `# HELP` and `# TYPE` lines that open a family. */
export function familyHeader(name: string, help: string, type: string): string[] {
  return [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`];
}

/**
 * Throws when a name would make the output unreadable to a scraper. Names are fixed in code, so
 * this catches a programming mistake at start-up rather than at the first scrape.
 */
export function checkNames(name: string, labelNames: readonly string[]): void {
  if (!METRIC_NAME.test(name)) throw new RangeError(`metric name "${name}" is not valid`);
  const seen = new Set<string>();
  for (const label of labelNames) {
    if (!LABEL_NAME.test(label) || label.startsWith('__')) {
      throw new RangeError(`metric ${name}: label name "${label}" is not valid`);
    }
    if (seen.has(label)) throw new RangeError(`metric ${name}: label "${label}" is repeated`);
    seen.add(label);
  }
}
