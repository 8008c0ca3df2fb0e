import { checkNames, familyHeader, formatLabels, formatValue } from './exposition.js';
import { SeriesMap, type FamilyOptions, type Labels, type MetricFamily } from './metric-family.js';

/**
 * A value that goes up and down, per label set. Unlike a counter a gauge has no natural zero, so
 * a series appears only once it is set: a missing series says "not known yet".
 */
export class Gauge<L extends string = never> implements MetricFamily {
  readonly name: string;
  readonly #help: string;
  readonly #series: SeriesMap<L, { value: number }>;

  constructor(options: FamilyOptions<L>) {
    checkNames(options.name, options.labelNames);
    this.name = options.name;
    this.#help = options.help;
    this.#series = new SeriesMap(options.name, options.labelNames, () => ({ value: 0 }));
  }

  set(labels: Labels<L>, value: number): void {
    this.#series.get(labels).value = value;
  }

  render(): string[] {
    const lines = familyHeader(this.name, this.#help, 'gauge');
    for (const { labels, state } of this.#series.entries()) {
      lines.push(`${this.name}${formatLabels(labels)} ${formatValue(state.value)}`);
    }
    return lines;
  }
}
