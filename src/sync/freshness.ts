/**
 * Tells a full reconcile which of its decisions the event path has overtaken.
 *
 * A full reconcile reads both sides, decides, then applies entity by entity, minutes later on a
 * big realm. Meanwhile an event may have reconciled an entity from a fresher read; applying the
 * older decision after it would undo it. So the event path marks each entity it works on, when
 * it starts and when it ends, and the full reconcile, holding the entity's lock, asks whether
 * the entity was marked since its snapshot began: if so, it reconciles the entity afresh instead.
 * Marks are kept only while a snapshot is open, so a quiet relay keeps nothing.
 */
export class Freshness {
  private clock = 0;
  private open = 0;
  private readonly marks = new Map<string, number>();

  /** Starts a snapshot: decisions made from reads after this moment. Call `close` when done. */
  snapshot(): Snapshot {
    this.open += 1;
    const at = ++this.clock;
    let closed = false;
    return {
      at,
      close: () => {
        if (closed) return;
        closed = true;
        this.open -= 1;
        if (this.open === 0) this.marks.clear();
      },
    };
  }

  /** The event path is working on `key` now. */
  mark(key: string): void {
    if (this.open > 0) this.marks.set(key, ++this.clock);
  }

  /** Whether `key` was worked on after `snapshot` began. */
  changedSince(snapshot: Snapshot, key: string): boolean {
    return (this.marks.get(key) ?? 0) > snapshot.at;
  }
}

/** An open snapshot of a full reconcile. */
export interface Snapshot {
  readonly at: number;
  close(): void;
}
