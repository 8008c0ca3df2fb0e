import { checkNames, familyHeader, formatLabels, formatValue } from './exposition.js';
import { SeriesMap, type FamilyOptions, type Labels, type MetricFamily } from './metric-family.js';

/** Options of a histogram: a family's, plus the upper bounds of its buckets. */
export interface HistogramOptions<L extends string> extends FamilyOptions<L> {
  /** Finite upper bounds, strictly increasing; the `+Inf` bucket is always added. */
  readonly buckets: readonly number[];
}

interface HistogramState {
  /** Observations per bucket, not cumulative: the last slot is the `+Inf` overflow. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/**
 * Counts observations into buckets, per label set. Rendering makes the buckets cumulative, as
 * the format requires: `le="x"` counts every observation <= x, and `le="+Inf"` equals `_count`.
 */
export class Histogram<L extends string = never> implements MetricFamily {
  readonly name: string;
  readonly #help: string;
  readonly #bounds: readonly number[];
  readonly #series: SeriesMap<L, HistogramState>;

  constructor(options: HistogramOptions<L>) {
    checkNames(options.name, [...options.labelNames, 'le']);
    const { buckets } = options;
    if (buckets.length === 0) throw new RangeError(`histogram ${options.name}: no buckets`);
    buckets.forEach((bound, i) => {
      const previous = buckets[i - 1];
      if (!Number.isFinite(bound) || (previous !== undefined && bound <= previous)) {
        throw new RangeError(
          `histogram ${options.name}: buckets must be finite and strictly increasing, got ${buckets.join(', ')}`,
        );
      }
    });
    this.name = options.name;
    this.#help = options.help;
    this.#bounds = [...buckets];
    this.#series = new SeriesMap(options.name, options.labelNames, () => ({
      counts: new Array<number>(buckets.length + 1).fill(0),
      sum: 0,
      count: 0,
    }));
    if (options.labelNames.length === 0) this.#series.get({} as Labels<L>);
  }

  observe(labels: Labels<L>, value: number): void {
    if (Number.isNaN(value)) throw new RangeError(`histogram ${this.name}: cannot observe NaN`);
    const state = this.#series.get(labels);
    const index = this.#bounds.findIndex((bound) => value <= bound);
    const slot = index === -1 ? this.#bounds.length : index;
    state.counts[slot] = (state.counts[slot] ?? 0) + 1;
    state.sum += value;
    state.count += 1;
  }

  /** Makes the series exist with empty buckets before its first observation. */
  init(labels: Labels<L>): void {
    this.#series.get(labels);
  }

  render(): string[] {
    const lines = familyHeader(this.name, this.#help, 'histogram');
    for (const { labels, state } of this.#series.entries()) {
      let cumulative = 0;
      const les = [...this.#bounds.map(formatValue), '+Inf'];
      les.forEach((le, i) => {
        cumulative += state.counts[i] ?? 0;
        lines.push(`${this.name}_bucket${formatLabels([...labels, ['le', le]])} ${cumulative}`);
      });
      const suffix = formatLabels(labels);
      lines.push(`${this.name}_sum${suffix} ${formatValue(state.sum)}`);
      lines.push(`${this.name}_count${suffix} ${state.count}`);
    }
    return lines;
  }
}
