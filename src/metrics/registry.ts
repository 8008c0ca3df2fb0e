import type { MetricFamily } from './metric-family.js';

/** Anything that can answer a scrape: what the HTTP endpoint serves at `/metrics`. */
export interface MetricsSource {
  /** The whole exposition, in the Prometheus text format 0.0.4. */
  render(): string;
}

/** The families one process exposes, rendered in the order they were registered. */
export class MetricsRegistry implements MetricsSource {
  readonly #families = new Map<string, MetricFamily>();

  /** Adds a family and returns it; a second family with the same name is a mistake. */
  register<F extends MetricFamily>(family: F): F {
    if (this.#families.has(family.name)) {
      throw new RangeError(`metric ${family.name} is registered twice`);
    }
    this.#families.set(family.name, family);
    return family;
  }

  render(): string {
    const lines = [...this.#families.values()].flatMap((family) => family.render());
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  }
}
