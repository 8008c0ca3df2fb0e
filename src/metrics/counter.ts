import { checkNames, familyHeader, formatLabels, formatValue } from './exposition.js';
import { SeriesMap, type FamilyOptions, type Labels, type MetricFamily } from './metric-family.js';

/**
 * A value that only goes up, per label set. A family without labels starts its one series at 0,
 * so a scraper sees it before the first event; labelled series appear on first use (or when
 * `init` names them in advance).
 */
export class Counter<L extends string = never> implements MetricFamily {
  readonly name: string;
  readonly #help: string;
  readonly #series: SeriesMap<L, { value: number }>;

  constructor(options: FamilyOptions<L>) {
    checkNames(options.name, options.labelNames);
    this.name = options.name;
    this.#help = options.help;
    this.#series = new SeriesMap(options.name, options.labelNames, () => ({ value: 0 }));
    if (options.labelNames.length === 0) this.#series.get({} as Labels<L>);
  }

  /** Adds `by` (default 1) to the series with these labels. */
  inc(labels: Labels<L>, by = 1): void {
    if (!(by >= 0) || by === Infinity) {
      throw new RangeError(`counter ${this.name}: cannot add ${by}; expected a finite number >= 0`);
    }
    this.#series.get(labels).value += by;
  }

  /** Makes the series exist at 0, so a rate over it is defined before its first event. */
  init(labels: Labels<L>): void {
    this.#series.get(labels);
  }

  render(): string[] {
    const lines = familyHeader(this.name, this.#help, 'counter');
    for (const { labels, state } of this.#series.entries()) {
      lines.push(`${this.name}${formatLabels(labels)} ${formatValue(state.value)}`);
    }
    return lines;
  }
}
