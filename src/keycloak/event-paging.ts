/** The two fields of a stored Keycloak event that paging relies on. */
export interface PagedEvent {
  time: number;
  /** Keycloak 26.2+ only. */
  id?: string | undefined;
}

/**
 * The paging fields of a stored event as Keycloak returned it, each only where it has the right
 * type. Nothing else is looked at: judging an event is the domain schema's job, where the event
 * is used, so a malformed one is reported and skipped there instead of stopping the listing.
 */
export function pagingFieldsOf(event: unknown): Partial<PagedEvent> {
  if (typeof event !== 'object' || event === null) return {};
  const time: unknown = Reflect.get(event, 'time');
  const id: unknown = Reflect.get(event, 'id');
  return {
    ...(typeof time === 'number' && Number.isFinite(time) ? { time } : {}),
    ...(typeof id === 'string' ? { id } : {}),
  };
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
 *
 * Events are taken as they come (see {@link pagingFieldsOf}); one without a numeric `time` belongs
 * to no run and is yielded like any other.
 */
export async function* pagedEvents<E>(
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
    const { time } = pagingFieldsOf(event);
    if (time === undefined) {
      run = undefined;
      return;
    }
    if (run?.time !== time) run = { time, start: position, yielded: new Map() };
    const key = eventKey(event);
    run.yielded.set(key, (run.yielded.get(key) ?? 0) + 1);
  };

  for (;;) {
    const page = await fetchPage(first, pageSize);
    const head = page[0];
    if (run !== undefined && head !== undefined && pagingFieldsOf(head).time === run.time) {
      // The run straddles the boundary: re-read from its start, growing the window until the
      // response shows where the run ends.
      const current = run;
      let size = first - current.start + pageSize;
      let window = await fetchPage(current.start, size);
      while (window.length === size && pagingFieldsOf(window.at(-1)).time === current.time) {
        size *= 2;
        window = await fetchPage(current.start, size);
      }
      const alreadyYielded = new Map(current.yielded);
      let position = current.start;
      for (const event of window) {
        if (pagingFieldsOf(event).time === current.time) {
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

function eventKey(event: unknown): string {
  return pagingFieldsOf(event).id ?? JSON.stringify(event);
}
