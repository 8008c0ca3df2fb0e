import type { Logger } from 'pino';
import type { StateStore } from '../state/state-store.js';

/** The relay's own record of how its last runs ended, in the state store. */
interface RunRecord {
  /** True from start until a clean stop: found true at start, the last run died. */
  readonly running: boolean;
  /** Runs in a row that died. */
  readonly crashes: number;
  /** In careful mode: the message in flight, and in how many deaths it was in flight. */
  readonly suspect?: { readonly fingerprint: string; readonly deaths: number } | undefined;
}

const RECORD = 'relay.run';
/** Messages a careful run must finish before it trusts itself again. */
const TRUSTED_AFTER = 20;

/**
 * Tells a message that kills the relay from the valid ones that were only in flight with it,
 * from the relay's own records rather than the broker's delivery count (which rises for every
 * message in the prefetch window at each death, and which a publisher can set itself).
 *
 * After a run that died, the relay is careful: it takes one message at a time and records,
 * durably, which one is in flight. A message found in flight at `limit` deaths is set aside
 * (its hints parked, with the reason, and retried later like any parked work) so that the
 * relay can go on; no valid message is ever dead-lettered for it. After `TRUSTED_AFTER`
 * messages without a death, or a clean stop, the relay trusts itself again.
 */
export class CrashGuard {
  private record: RunRecord = { running: true, crashes: 0 };
  private finishedSinceStart = 0;

  constructor(
    private readonly store: StateStore,
    private readonly limit: number,
    private readonly logger?: Logger,
  ) {}

  /** Called once at start: learns how the last run ended, and records this one as running. */
  begin(): void {
    const raw = this.store.checkpoint(RECORD);
    const last = raw === undefined ? undefined : (JSON.parse(raw) as RunRecord);
    const died = last?.running === true;
    this.record = {
      running: true,
      crashes: died ? last.crashes + 1 : 0,
      suspect: died ? last.suspect : undefined,
    };
    this.save();
    if (died) {
      this.logger?.warn(
        { crashes: this.record.crashes, suspect: this.record.suspect },
        `the relay's last run did not stop cleanly (${this.record.crashes} in a row): taking messages one at a time until ${TRUSTED_AFTER} are done`,
      );
    }
  }

  /** Whether to take one message at a time and record each. */
  get careful(): boolean {
    return this.record.crashes > 0;
  }

  /**
   * Before a message's hints are handed over. Returns why to set it aside instead, when it was
   * in flight in `limit` deaths already.
   */
  beforeMessage(fingerprint: string): string | undefined {
    if (!this.careful) return undefined;
    const suspect = this.record.suspect;
    const deaths = suspect?.fingerprint === fingerprint ? suspect.deaths + 1 : 1;
    if (deaths > this.limit) {
      return `in flight each of the ${this.limit} times the relay died (AMQP_MAX_DELIVERIES=${this.limit}): set aside so the rest can go on`;
    }
    this.record = { ...this.record, suspect: { fingerprint, deaths } };
    this.save();
    return undefined;
  }

  /**
   * A message is done (applied, parked or set aside): it is no longer a suspect. Returns true
   * when the relay trusts itself again, to take messages in full windows.
   */
  afterMessage(): boolean {
    if (!this.careful) return false;
    this.finishedSinceStart += 1;
    const trusted = this.finishedSinceStart >= TRUSTED_AFTER;
    this.record = { running: true, crashes: trusted ? 0 : this.record.crashes };
    this.save();
    if (trusted)
      this.logger?.info('the relay runs steadily again: taking messages in full windows');
    return trusted;
  }

  /** At a clean stop. */
  end(): void {
    this.record = { running: false, crashes: 0 };
    this.save();
  }

  private save(): void {
    this.store.putCheckpoint(RECORD, JSON.stringify(this.record));
  }
}
