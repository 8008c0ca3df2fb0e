import type { Logger } from 'pino';

/** How long to wait before trying to learn the realm's id again after it could not be learnt. */
const RELEARN_AFTER_MS = 60_000;

/**
 * Tells the configured realm's events from others'. The listener's routing key carries the
 * realm's name with dots and odd characters removed, so `a.b` and `ab` share a binding, and a
 * publisher can send anything; the event's `realmId` says whose it is. That id is not the name
 * for every realm, and the relay's service account cannot read the realm itself, so the id is
 * learnt from the realm's own stored events (`view-events` reads them).
 */
export class RealmIdentity {
  private ours: string | undefined;
  private learning: Promise<void> | undefined;
  private nextLearnAt = 0;
  private warned = false;

  constructor(
    private readonly realmName: string,
    /** The realm id of the realm's newest stored event, if any is stored. */
    private readonly learn: () => Promise<string | undefined>,
    private readonly logger?: Logger,
    private readonly retryDelayMs = 250,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether an event with `realmId` is the configured realm's. While the id cannot be learnt
   * (the realm stores no events yet, Keycloak is down), events are taken as ours: acting on a
   * foreign hint costs a read of an entity the realm does not have, while dropping one of ours
   * would lose a change.
   */
  async isOurs(realmId: string): Promise<boolean> {
    if (realmId === this.ours || realmId === this.realmName) return true;
    if (this.ours === undefined) {
      this.learning ??= this.tryLearning().finally(() => {
        this.learning = undefined;
      });
      await this.learning;
    }
    if (this.ours === undefined) {
      if (!this.warned) {
        this.warned = true;
        this.logger?.warn(
          { realm: this.realmName },
          'cannot learn the realm id from its stored events, so events of other realms whose names map to the same routing key cannot be told apart yet: turn on admin events (see check)',
        );
      }
      return true;
    }
    return realmId === this.ours;
  }

  /** Learns the id, unless a recent try failed: a message must not wait for it each time. */
  private async tryLearning(): Promise<void> {
    if (this.now() < this.nextLearnAt) return;
    // The realm's first event may be stored a moment after the listener published it.
    for (let attempt = 0; attempt < 3 && this.ours === undefined; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, this.retryDelayMs));
      try {
        this.ours = await this.learn();
      } catch (error) {
        this.logger?.debug(
          { error: String(error) },
          'could not read stored events for the realm id',
        );
      }
    }
    if (this.ours === undefined) this.nextLearnAt = this.now() + RELEARN_AFTER_MS;
  }
}
