import type { Logger } from 'pino';
import { groupHint, userHint, type Hint } from '../domain/hint.js';
import { credentialsRefusedBy, describeError } from '../errors.js';
import type { StateStore } from '../state/state-store.js';
import type { KeycloakRealmReader } from './keycloak-reader.js';
import type { Outcome } from './work-queue.js';

export interface SweepOptions {
  /** Every entity is verified at least once per interval. */
  readonly intervalMs: number;
  /** A slice every `sliceMs`; the interval is cut into that many slices. */
  readonly sliceMs: number;
  readonly logger: Logger;
}

export interface SweepDeps {
  readonly store: StateStore;
  readonly keycloak: Pick<KeycloakRealmReader, 'users' | 'groups'>;
  /** Hands a hint to the engine, as a source would. */
  readonly submit: (hint: Hint) => Promise<Outcome>;
}

/** What one slice looked at. */
export interface SliceReport {
  /** Mapped users and groups it verified again. */
  readonly users: number;
  readonly groups: number;
  /** Keycloak users and groups it found that the relay does not map. */
  readonly discovered: number;
  /** The slice finished a pass over Keycloak's users. */
  readonly wrapped: boolean;
}

/** Where the sweep is in its cycle: kept in the state store, so a restart continues it. */
interface Cursor {
  /** The last mapped user and group verified, in Keycloak-id order. */
  readonly user: string;
  readonly group: string;
  /** The position reached in Keycloak's user listing, and how long the last full pass was. */
  readonly position: number;
  readonly passLength: number;
}

const CURSOR = 'sweep.cursor';
/**
 * The deletion breaker: of the last `BREAKER_WINDOW` mapped entities the sweep verified, this
 * many deprovisioned means Keycloak answers for a realm that is not the one it was (renamed,
 * replaced, a wrong setting), not that people were deleted unannounced: the sweep stops.
 */
const BREAKER_WINDOW = 10;
const BREAKER_TRIPS_AT = 5;
const START: Cursor = { user: '', group: '', position: 0, passLength: 0 };

/**
 * The periodic full reconcile, spread over its interval: a slice every minute rather than one
 * spike an hour, which reads all of Keycloak and SCIM at once. Each slice hands the engine, as
 * ordinary hints through the same locks as events:
 *
 * - the next mapped users and groups (groups with their members), in Keycloak-id order from a
 *   durable cursor, so every twin is compared with Keycloak once per interval, whatever the
 *   restarts; an entity deleted in Keycloak unseen is deprovisioned by its reconcile;
 * - the next window of Keycloak's own user listing, for users the relay does not map (a creation
 *   whose event was lost by every way); and at the end of each pass, every group it does not map.
 *
 * A slice's size is the share of the interval: with 60 slices an hour, 1/60th of the users.
 */
export class Sweep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SliceReport> | undefined;
  private stopped = false;
  /** For each of the last mapped entities verified: whether its verification removed it. */
  private removals: boolean[] = [];
  /** Why the sweep stopped itself, once the deletion breaker tripped. */
  private heldBecause: string | undefined;

  constructor(
    private readonly deps: SweepDeps,
    private readonly options: SweepOptions,
  ) {}

  start(): void {
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Why the deletion breaker stopped the sweep; undefined while it runs. */
  get held(): string | undefined {
    return this.heldBecause;
  }

  /** How many slices make one interval. */
  get slices(): number {
    return Math.max(1, Math.floor(this.options.intervalMs / this.options.sliceMs));
  }

  /** Runs one slice now and waits for its reconciles. */
  async slice(): Promise<SliceReport> {
    this.running = this.runSlice();
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private schedule(): void {
    if (this.stopped || this.heldBecause !== undefined) return;
    this.timer = setTimeout(() => {
      this.slice()
        .then((report) => {
          this.options.logger.debug({ ...report }, 'sweep slice done');
        })
        .catch((error: unknown) => {
          if (this.stopped) return;
          // Refused credentials are logged once, by whoever watches them, not at every slice.
          const level = credentialsRefusedBy(error) === undefined ? 'warn' : 'debug';
          this.options.logger[level](
            { error: describeError(error) },
            'a sweep slice failed; the next one starts where it began',
          );
        })
        .finally(() => {
          this.schedule();
        });
    }, this.options.sliceMs);
    this.timer.unref();
  }

  private async runSlice(): Promise<SliceReport> {
    const { store } = this.deps;
    const cursor = this.cursor();
    const links = store.linkCounts();
    const userIds = this.nextAround(cursor.user, share(links.users, this.slices), (after, n) =>
      store.usersAfter(after, n),
    );
    const groupIds = this.nextAround(cursor.group, share(links.groups, this.slices), (after, n) =>
      store.groupsAfter(after, n),
    );
    if (links.users > 0 && !(await this.listsAnyUser())) {
      this.hold(
        `Keycloak lists no user at all, while the relay manages ${links.users} users in SCIM`,
      );
      return { users: 0, groups: 0, discovered: 0, wrapped: false };
    }
    const work: Promise<Outcome>[] = [];
    for (const id of userIds) work.push(this.deps.submit(userHint(id)));
    for (const id of groupIds) work.push(this.deps.submit(groupHint(id, false, true)));
    const discovery = await this.discover(cursor, links.users, work).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    // Every hint is applied or parked before the cursor moves past it; a failed read still
    // waits for the hints already handed over, so none is left unheard.
    const settled = await Promise.allSettled(work);
    if ('error' in discovery) throw discovery.error;
    const failed = settled.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const { discovered, seen, window } = discovery.value;
    const wrapped = seen < window;
    this.watchRemovals(userIds.map((id) => store.user(id) === undefined));
    this.watchRemovals(groupIds.map((id) => store.group(id) === undefined));
    this.save({
      user: userIds.at(-1) ?? cursor.user,
      group: groupIds.at(-1) ?? cursor.group,
      position: wrapped ? 0 : cursor.position + seen,
      passLength: wrapped ? cursor.position + seen : cursor.passLength,
    });
    return { users: userIds.length, groups: groupIds.length, discovered, wrapped };
  }

  /**
   * Hands over hints for what Keycloak has and the relay does not map, into `work`: the groups
   * at the start of each pass, and the next window of the user listing.
   */
  private async discover(
    cursor: Cursor,
    mappedUsers: number,
    work: Promise<Outcome>[],
  ): Promise<{ discovered: number; seen: number; window: number }> {
    const { store } = this.deps;
    let discovered = 0;
    // Keycloak's groups at the start of each pass, and its own user listing, for what the
    // relay does not map. A pass a little longer than the last one (or the id map, before the
    // first) is cut in as many windows as there are slices, so that it ends within the interval.
    if (cursor.position === 0) {
      for await (const group of this.deps.keycloak.groups()) {
        if (store.group(group.id) !== undefined) continue;
        discovered += 1;
        work.push(this.deps.submit(groupHint(group.id, false, true)));
      }
    }
    const window =
      share(Math.ceil(Math.max(cursor.passLength, mappedUsers, 1) * 1.1), this.slices) + 1;
    let seen = 0;
    // Keycloak lists by username: a user added or removed before the window shifts it by one,
    // which the next pass makes up for.
    for await (const user of this.deps.keycloak.users(cursor.position)) {
      seen += 1;
      if (store.user(user.id) === undefined) {
        discovered += 1;
        work.push(this.deps.submit(userHint(user.id)));
      }
      if (seen >= window) break;
    }
    return { discovered, seen, window };
  }

  private watchRemovals(removed: readonly boolean[]): void {
    this.removals = [...this.removals, ...removed].slice(-BREAKER_WINDOW);
    const count = this.removals.filter(Boolean).length;
    if (count < BREAKER_TRIPS_AT) return;
    this.hold(
      `${count} of the last ${this.removals.length} users and groups it verified were gone from Keycloak`,
    );
  }

  /** Whether Keycloak's user listing has anything in it: an emptied realm lists nothing. */
  private async listsAnyUser(): Promise<boolean> {
    for await (const user of this.deps.keycloak.users(0)) {
      if (user.id !== '') return true;
    }
    return false;
  }

  /** The deletion breaker trips: the sweep stops, and says why and what to do. */
  private hold(reason: string): void {
    if (this.heldBecause !== undefined) return;
    this.heldBecause = reason;
    this.options.logger.error(
      { reason },
      `the periodic verification stopped itself: ${reason}, which looks like a replaced or emptied realm rather than deletions; check KEYCLOAK_REALM and the service account, then run \`keycloak-scim-relay resync --prune\` (its dry run first) and restart the relay`,
    );
  }

  /** `count` ids after `after` in id order, going round to the start when the end is reached. */
  private nextAround(
    after: string,
    count: number,
    read: (after: string, limit: number) => string[],
  ): string[] {
    if (count === 0) return [];
    const ids = read(after, count);
    if (ids.length < count && after !== '') {
      for (const id of read('', count - ids.length)) {
        if (id > after) break;
        ids.push(id);
      }
    }
    return ids;
  }

  private cursor(): Cursor {
    const saved = this.deps.store.checkpoint(CURSOR);
    if (saved === undefined) return START;
    try {
      return { ...START, ...(JSON.parse(saved) as Partial<Cursor>) };
    } catch {
      return START;
    }
  }

  private save(cursor: Cursor): void {
    this.deps.store.putCheckpoint(CURSOR, JSON.stringify(cursor));
  }
}

/** One slice's share of `total`, rounded up so that the slices cover it. */
function share(total: number, slices: number): number {
  return Math.ceil(total / slices);
}
