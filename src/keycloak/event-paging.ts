/** The two fields of a stored Keycloak event that paging relies on. */
export interface PagedEvent {
  time: number;
  /** Keycloak 26.2+ only. */
  id?: string | undefined;
}

/**
 * Yields every event of a `first`/`max` listing exactly once when the table does not change,
 * although Keycloak orders events by `time` alone. Events of the same millisecond (a "run") come
 * back in a different order on every query, so a page boundary inside a run makes plain paging
 * repeat some of them and skip others. When a page starts inside the run the previous page ended
 * with, the whole run is read again in ONE response (its order is then consistent within it),
 * and only its members not yet yielded are yielded. Members are told apart by `id`, or by their
 * whole content on servers without ids (identical events are interchangeable hints anyway).
 *
 * While the table grows, newest-first listings still shift by the number of new events: callers
 * dedupe across passes (or read oldest-first with `direction=asc` on 26.2+, which does not shift).
 */
export async function* pagedEvents<E extends PagedEvent>(
  fetchPage: (first: number, max: number) => Promise<readonly E[]>,
  pageSize: number,
): AsyncGenerator<E, void, undefined> {
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
  }
  let first = 0;
  // The run the last yielded event belongs to: its time, where it starts, what of it was yielded.
  let run: { time: number; start: number; yielded: Map<string, number> } | undefined;

  const track = (event: E, position: number): void => {
    if (run?.time !== event.time) run = { time: event.time, start: position, yielded: new Map() };
    const key = eventKey(event);
    run.yielded.set(key, (run.yielded.get(key) ?? 0) + 1);
  };

  for (;;) {
    const page = await fetchPage(first, pageSize);
    const head = page[0];
    if (run !== undefined && head !== undefined && head.time === run.time) {
      // The run straddles the boundary: re-read from its start, growing the window until the
      // response shows where the run ends.
      const current = run;
      let size = first - current.start + pageSize;
      let window = await fetchPage(current.start, size);
      while (window.length === size && window.at(-1)?.time === current.time) {
        size *= 2;
        window = await fetchPage(current.start, size);
      }
      const alreadyYielded = new Map(current.yielded);
      let position = current.start;
      for (const event of window) {
        if (event.time === current.time) {
          const key = eventKey(event);
          const seen = alreadyYielded.get(key) ?? 0;
          if (seen > 0) {
            alreadyYielded.set(key, seen - 1);
          } else {
            yield event;
            current.yielded.set(key, (current.yielded.get(key) ?? 0) + 1);
          }
        } else {
          yield event;
          track(event, position);
        }
        position += 1;
      }
      first = current.start + window.length;
      if (window.length < size) return;
      continue;
    }
    let position = first;
    for (const event of page) {
      yield event;
      track(event, position);
      position += 1;
    }
    first += page.length;
    if (page.length < pageSize) return;
  }
}

function eventKey(event: PagedEvent): string {
  return event.id ?? JSON.stringify(event);
}
