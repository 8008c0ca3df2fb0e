import type { RequestLogEntry } from './test-api-schema.js';

/** The SCIM requests the server received, oldest first, for tests and benchmarks to count. */
export class RequestLog {
  #nextSeq = 1;
  #entries: RequestLogEntry[] = [];

  /** Records a finished request; the log assigns its `seq`. */
  record(entry: Omit<RequestLogEntry, 'seq'>): void {
    this.#entries.push({ seq: this.#nextSeq++, ...entry });
  }

  /** Entries with a `seq` greater than `since` (all of them by default). */
  entries(since = 0): RequestLogEntry[] {
    if (since <= 0) return [...this.#entries];
    // seq increases along the array, so the first newer entry starts the answer.
    const first = this.#entries.findIndex((entry) => entry.seq > since);
    return first < 0 ? [] : this.#entries.slice(first);
  }

  /** Empties the log; `seq` keeps counting so `since` stays meaningful. */
  clear(): void {
    this.#entries = [];
  }
}
