import type { Logger } from 'pino';
import { groupHint, userHint, type Hint } from '../domain/hint.js';
import { describeError } from '../errors.js';
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
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.slice()
        .then((report) => {
          this.options.logger.debug({ ...report }, 'sweep slice done');
        })
        .catch((error: unknown) => {
          if (this.stopped) return;
          this.options.logger.warn(
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
    const work: Promise<Outcome>[] = [];
    for (const id of userIds) work.push(this.deps.submit(userHint(id)));
    for (const id of groupIds) work.push(this.deps.submit(groupHint(id, false, true)));

    // Keycloak's own listing, for users the relay does not map. A pass as long as the last one
    // (or the id map, before the first) is cut in as many windows as there are slices.
    const window = share(Math.max(cursor.passLength, links.users, 1), this.slices);
    let seen = 0;
    let discovered = 0;
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
    const wrapped = seen < window;
    if (wrapped) {
      for await (const group of this.deps.keycloak.groups()) {
        if (store.group(group.id) !== undefined) continue;
        discovered += 1;
        work.push(this.deps.submit(groupHint(group.id, false, true)));
      }
    }
    // Every hint is applied or parked before the cursor moves past it.
    await Promise.all(work);
    this.save({
      user: userIds.at(-1) ?? cursor.user,
      group: groupIds.at(-1) ?? cursor.group,
      position: wrapped ? 0 : cursor.position + seen,
      passLength: wrapped ? cursor.position + seen : cursor.passLength,
    });
    return { users: userIds.length, groups: groupIds.length, discovered, wrapped };
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
