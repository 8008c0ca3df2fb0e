import type { Logger } from 'pino';

/**
 * Tells the configured realm's events from others'. The listener's routing key carries the
 * realm's name with dots and odd characters removed, so `a.b` and `ab` share a binding, and a
 * publisher can send anything; the event's `realmId` says whose it is. That id is not the name
 * for every realm, and the relay's service account cannot read the realm itself, so the id is
 * learnt from the realm's own stored events (`view-events` reads them).
 */
export class RealmIdentity {
  private ours: string | undefined;
  private readonly foreign = new Set<string>();
  private warned = false;

  constructor(
    private readonly realmName: string,
    /** The realm id of the realm's newest stored event, if any is stored. */
    private readonly learn: () => Promise<string | undefined>,
    private readonly logger?: Logger,
    private readonly retryDelayMs = 250,
  ) {}

  /**
   * Whether an event with `realmId` is the configured realm's. While the id cannot be learnt
   * (the realm stores no events yet), events are taken as ours: acting on a foreign hint costs a
   * read of an entity the realm does not have, while dropping one of ours would lose a change.
   */
  async isOurs(realmId: string): Promise<boolean> {
    if (realmId === this.ours || realmId === this.realmName) return true;
    if (this.foreign.has(realmId)) return false;
    // The event may be stored a moment after the listener published it.
    for (let attempt = 0; attempt < 3 && this.ours === undefined; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, this.retryDelayMs));
      this.ours = await this.learn();
    }
    if (this.ours === undefined) {
      if (!this.warned) {
        this.warned = true;
        this.logger?.warn(
          { realm: this.realmName },
          'cannot learn the realm id from its stored events, so events of other realms whose names map to the same routing key cannot be told apart: turn on admin events (see check)',
        );
      }
      return true;
    }
    if (realmId === this.ours) return true;
    this.foreign.add(realmId);
    return false;
  }
}
