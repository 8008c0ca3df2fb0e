/**
 * One holder at a time per key; different keys do not wait for each other. The relay takes a
 * Keycloak entity's key for a whole reconcile, and the keys of the SCIM names it writes around
 * each write, so that the event path and a full reconcile never decide on the same entity, or
 * take over the same name, at once.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release = (): void => undefined;
    const current = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => current);
    this.tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      // The last holder leaves no trace, so the map does not grow with every entity ever seen.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /**
   * Holds every key at once. Keys are taken in sorted order, so two callers that need
   * overlapping sets can never each hold what the other waits for.
   */
  runAll<T>(keys: Iterable<string>, work: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const take = (index: number): Promise<T> => {
      const key = sorted[index];
      return key === undefined ? work() : this.run(key, () => take(index + 1));
    };
    return take(0);
  }

  /** Whether anyone holds or waits for `key`. */
  held(key: string): boolean {
    return this.tails.has(key);
  }
}
