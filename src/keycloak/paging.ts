/**
 * Yields every item of a `first`/`max` paged listing, one page in memory at a time. A page shorter
 * than `pageSize` ends the listing, which saves the empty request at the end of every listing
 * (that matters in the group tree walk, where every group is a listing of its own).
 */
export async function* paged<T>(
  fetchPage: (first: number, max: number) => Promise<readonly T[]>,
  pageSize: number,
  /** Position of the first item to yield; the pages start there. */
  from = 0,
): AsyncGenerator<T, void, undefined> {
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
  }
  for (let first = from; ; first += pageSize) {
    const page = await fetchPage(first, pageSize);
    yield* page;
    if (page.length < pageSize) return;
  }
}
