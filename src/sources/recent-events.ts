/**
 * Fingerprints of the events the queue brought lately, so that the backstop can tell an event
 * the listener lost from one it delivered. Bounded in time and size: an event the backstop reads
 * after it was forgotten is applied once more, which costs a reconcile, never a wrong write.
 */
export class RecentEvents {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly keepMs: number,
    private readonly maxSize = 200_000,
    private readonly now: () => number = Date.now,
  ) {}

  add(fingerprint: string): void {
    const now = this.now();
    // Re-inserted, so the Map's insertion order stays the order of expiry.
    this.seen.delete(fingerprint);
    this.seen.set(fingerprint, now + this.keepMs);
    this.forgetExpired(now);
  }

  has(fingerprint: string): boolean {
    const expiry = this.seen.get(fingerprint);
    return expiry !== undefined && expiry > this.now();
  }

  get size(): number {
    return this.seen.size;
  }

  private forgetExpired(now: number): void {
    for (const [fingerprint, expiry] of this.seen) {
      if (expiry > now && this.seen.size <= this.maxSize) break;
      this.seen.delete(fingerprint);
    }
  }
}
