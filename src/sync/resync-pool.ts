/**
 * Runs `task` for every item with at most `limit` running at once. Items are pulled lazily from
 * the iterable, so a generator feeding the pool is never read further ahead than the pool works.
 * A task must handle its own failures: the first one that throws stops the pool (no new item is
 * started) and is rethrown once the running tasks have settled.
 */
export async function forEachConcurrently<T>(
  items: Iterable<T>,
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  const iterator = items[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined) {
      const next = iterator.next();
      if (next.done === true) return;
      try {
        await task(next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.floor(limit)) }, worker));
  if (failure !== undefined) throw failure.error;
}
