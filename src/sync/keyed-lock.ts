/**
 * One holder at a time per key; different keys do not wait for each other. Used so that the
 * event path and a resync never create the same SCIM resource twice at once.
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
}
