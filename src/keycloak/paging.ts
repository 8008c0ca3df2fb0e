/**
 * Yields every item of a `first`/`max` paged listing, one page in memory at a time. A page shorter
 * than `pageSize` ends the listing, which saves the empty request at the end of every listing
 * (that matters in the group tree walk, where every group is a listing of its own).
 *
 * With `ahead` above 0, that many further pages are asked for while one is read: Keycloak
 * answers each request on one of its cores, so a long listing read one page at a time leaves
 * the others idle. Pages are still yielded in order; those asked for past the end are dropped.
 */
export async function* paged<T>(
  fetchPage: (first: number, max: number) => Promise<readonly T[]>,
  pageSize: number,
  /** Position of the first item to yield; the pages start there. */
  from = 0,
  /** Pages requested beyond the one being read. */
  ahead = 0,
): AsyncGenerator<T, void, undefined> {
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
  }
  if (!Number.isInteger(ahead) || ahead < 0) {
    throw new RangeError(`ahead must be a whole number, got ${ahead}`);
  }
  const requested: Promise<readonly T[]>[] = [];
  let next = from;
  for (;;) {
    while (requested.length <= ahead) {
      const page = fetchPage(next, pageSize);
      // A page asked for ahead may fail after the listing ended or was abandoned: its error
      // counts only when the page is read.
      page.catch(() => undefined);
      requested.push(page);
      next += pageSize;
    }
    const page = await (requested.shift() ?? Promise.resolve([]));
    yield* page;
    if (page.length < pageSize) return;
  }
}
