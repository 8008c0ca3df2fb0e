/** The label values of one series, by label name. */
export type Labels<L extends string> = Readonly<Record<L, string>>;

/** What a registry needs from any kind of metric: its name and its lines of exposition text. */
export interface MetricFamily {
  readonly name: string;
  /** The family's lines, `# HELP` and `# TYPE` first, without a trailing newline. */
  render(): string[];
}

/** Fixed at construction: the family's name, its help text and the names of its labels. */
export interface FamilyOptions<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
}

/**
 * The series of one family, keyed by their label values. Series keep the order they first
 * appeared in, so the output is stable from one scrape to the next.
 */
export class SeriesMap<L extends string, S> {
  readonly #series = new Map<string, { readonly labels: [string, string][]; readonly state: S }>();

  constructor(
    private readonly family: string,
    private readonly labelNames: readonly L[],
    private readonly create: () => S,
  ) {}

  /** The state of the series with these labels, created on first use. */
  get(labels: Labels<L>): S {
    const pairs = this.labelNames.map((name): [string, string] => {
      const value: unknown = (labels as Record<string, unknown>)[name];
      if (typeof value !== 'string') {
        throw new TypeError(`metric ${this.family}: label "${name}" needs a string value`);
      }
      return [name, value];
    });
    const extra = Object.keys(labels).find((name) => !this.labelNames.includes(name as L));
    if (extra !== undefined) {
      throw new TypeError(`metric ${this.family}: label "${extra}" is not one of its labels`);
    }
    const key = JSON.stringify(pairs.map(([, value]) => value));
    let entry = this.#series.get(key);
    if (entry === undefined) {
      entry = { labels: pairs, state: this.create() };
      this.#series.set(key, entry);
    }
    return entry.state;
  }

  entries(): Iterable<{
    readonly labels: readonly (readonly [string, string])[];
    readonly state: S;
  }> {
    return this.#series.values();
  }
}
