/**
 * What a PATCH or PUT does to a group's members, as a delta: the store validates the added
 * ids and applies the delta in place, so a one-member PATCH on a 10,000-member group costs
 * one member, not a copy of the group.
 */
export interface MemberChange {
  /** Every member that was there before is dropped first (PUT, `replace members`). */
  readonly cleared: boolean;
  /** Members to add, with their display names, after clearing. */
  readonly added: ReadonlyMap<string, string | undefined>;
  /** Members of the original list to drop (never overlaps `added`). */
  readonly removed: ReadonlySet<string>;
}

/** Records member operations against an untouched base map; see `MemberChange`. */
export class MemberDraft {
  #cleared = false;
  readonly #added = new Map<string, string | undefined>();
  readonly #removed = new Set<string>();

  constructor(private readonly base: ReadonlyMap<string, string | undefined>) {}

  #inBase(id: string): boolean {
    return !this.#cleared && this.base.has(id) && !this.#removed.has(id);
  }

  /** Adding a member that is already there changes nothing (no duplicates, RFC 7644 §3.5.2.1). */
  add(id: string, display: string | undefined): void {
    if (this.#removed.delete(id)) return;
    if (this.#inBase(id) || this.#added.has(id)) return;
    this.#added.set(id, display);
  }

  /** Removing a member that is not there changes nothing. */
  remove(id: string): void {
    if (this.#added.delete(id)) return;
    if (this.#inBase(id)) this.#removed.add(id);
  }

  clear(): void {
    this.#cleared = true;
    this.#added.clear();
    this.#removed.clear();
  }

  change(): MemberChange {
    return { cleared: this.#cleared, added: this.#added, removed: this.#removed };
  }
}
