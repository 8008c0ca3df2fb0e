import type { Logger } from 'pino';
import { planMembers } from '../domain/membership.js';
import { ScimError, TransientError, isTransient } from '../errors.js';
import type { ScimClient } from '../scim/scim-client.js';
import type { StateStore } from '../state/state-store.js';
import type { Freshness, Snapshot } from './freshness.js';
import { KeyedLock } from './keyed-lock.js';

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** What is wanted for one member of one group, with everyone waiting for it. */
interface Wish {
  member: boolean;
  why: string;
  readonly waiters: Waiter[];
}

/**
 * Writes group memberships. Every member change the relay makes goes through here, so:
 * - one group never has two member PATCHes in flight: a server that reads, changes and writes
 *   a group without locking (RFC 7644 does not forbid it) would keep only one of them;
 * - changes to one group that arrive meanwhile are coalesced into one PATCH, within the batch
 *   size; for one member, the latest wish wins;
 * - a change the SCIM side already holds is not sent: the relay records each group's members
 *   from its own confirmed writes and from full listings, and reads the group when it has no
 *   record of it.
 */
export class GroupMemberWriter {
  private readonly queues = new Map<string, Map<string, Wish>>();
  private readonly idle = new Map<string, (() => void)[]>();
  /** Every write to one SCIM group, members or not, one at a time. */
  private readonly writing = new KeyedLock();

  constructor(
    private readonly scim: ScimClient,
    private readonly store: StateStore,
    private readonly freshness: Freshness,
    private readonly logger?: Logger,
  ) {}

  /**
   * Makes the SCIM user a member of the SCIM group, or not. Resolves once the SCIM side holds
   * it (or a later wish for the same member replaced it); rejects with why it could not.
   */
  set(groupScimId: string, userScimId: string, member: boolean, why: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let queue = this.queues.get(groupScimId);
      const idle = queue === undefined;
      if (queue === undefined) {
        queue = new Map();
        this.queues.set(groupScimId, queue);
      }
      const wish = queue.get(userScimId);
      if (wish === undefined) {
        queue.set(userScimId, { member, why, waiters: [{ resolve, reject }] });
      } else {
        wish.member = member;
        wish.why = why;
        wish.waiters.push({ resolve, reject });
      }
      this.freshness.mark(memberKey(groupScimId));
      if (idle) void this.drain(groupScimId, queue);
    });
  }

  /**
   * Runs a write to the SCIM group while no other write to it is in flight: a rename or a
   * DELETE must not interleave with a member PATCH on a server that reads, changes and writes
   * the whole group without a lock.
   */
  exclusive<T>(groupScimId: string, write: () => Promise<T>): Promise<T> {
    return this.writing.run(groupScimId, write);
  }

  /** Resolves once nothing is queued or in flight for the group. */
  async settled(groupScimId: string): Promise<void> {
    while (this.queues.has(groupScimId)) {
      await new Promise<void>((resolve) => {
        const waiting = this.idle.get(groupScimId);
        if (waiting === undefined) this.idle.set(groupScimId, [resolve]);
        else waiting.push(resolve);
      });
    }
  }

  /** The members the SCIM group has, from the relay's records or, lacking them, a read. */
  async members(groupScimId: string): Promise<Set<string>> {
    const known = this.store.knownMembers(groupScimId);
    if (known !== undefined) return known;
    const group = await this.scim.getGroup(groupScimId, { withMembers: true });
    if (group === undefined) throw this.vanished(groupScimId);
    const members = new Set((group.members ?? []).map((m) => m.value));
    this.store.putMembers(groupScimId, members);
    return members;
  }

  /** A full listing of the group's members, read after `snapshot` began, becomes the record. */
  refresh(groupScimId: string, memberIds: readonly string[], snapshot: Snapshot): void {
    // Written or waited for since the listing began: the listing may miss it; read it anew.
    if (
      this.queues.has(groupScimId) ||
      this.freshness.changedSince(snapshot, memberKey(groupScimId))
    ) {
      this.store.forgetMembers(groupScimId);
    } else {
      this.store.putMembers(groupScimId, memberIds);
    }
  }

  /** A group the relay just created is empty. */
  created(groupScimId: string): void {
    this.store.putMembers(groupScimId, []);
  }

  /** The SCIM group is gone: nothing is known of its members any more. */
  groupDeleted(groupScimId: string): void {
    this.freshness.mark(memberKey(groupScimId));
    this.store.forgetMembers(groupScimId);
  }

  /** The SCIM server dropped a deleted user from every group. */
  userDeleted(userScimId: string): void {
    for (const group of this.store.groupsOfMember(userScimId))
      this.freshness.mark(memberKey(group));
    this.store.forgetMember(userScimId);
  }

  private async drain(groupScimId: string, queue: Map<string, Wish>): Promise<void> {
    try {
      // The first wish waits a turn of the event loop for the others of its burst (a full
      // reconcile's adds to one group, a user joining its groups), so they share one PATCH.
      await new Promise((resolve) => setImmediate(resolve));
      while (queue.size > 0) {
        const batch: [string, Wish][] = [];
        for (const entry of queue) {
          batch.push(entry);
          queue.delete(entry[0]);
          if (batch.length >= this.scim.memberBatchSize) break;
        }
        await this.write(groupScimId, batch);
      }
    } finally {
      this.queues.delete(groupScimId);
      for (const resolve of this.idle.get(groupScimId) ?? []) resolve();
      this.idle.delete(groupScimId);
    }
  }

  /** Writes one batch; a refused batch is tried member by member, so one bad member fails alone. */
  private async write(groupScimId: string, batch: readonly [string, Wish][]): Promise<void> {
    try {
      await this.patch(groupScimId, batch);
      settle(batch);
    } catch (error) {
      if (batch.length === 1 || isTransient(error)) {
        settle(batch, error);
        return;
      }
      for (const entry of batch) {
        try {
          await this.patch(groupScimId, [entry]);
          settle([entry]);
        } catch (single) {
          settle([entry], single);
        }
      }
    }
  }

  private async patch(groupScimId: string, batch: readonly [string, Wish][]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.members(groupScimId);
      const desired = new Set(current);
      for (const [userId, wish] of batch) {
        if (wish.member) desired.add(userId);
        else desired.delete(userId);
      }
      const { add, remove } = planMembers(desired, current);
      if (add.length === 0 && remove.length === 0) return;
      this.freshness.mark(memberKey(groupScimId));
      try {
        await this.exclusive(groupScimId, () => this.scim.patchMembers(groupScimId, add, remove));
      } catch (error) {
        if (error instanceof ScimError && error.status === 404) throw this.vanished(groupScimId);
        // A member to remove was not there: the record was wrong. Read the group and try again.
        if (error instanceof ScimError && error.scimType === 'noTarget' && attempt === 1) {
          this.store.forgetMembers(groupScimId);
          continue;
        }
        throw error;
      } finally {
        this.freshness.mark(memberKey(groupScimId));
      }
      this.store.changeMembers(groupScimId, add, remove);
      // The line names the group from the id map: a read not worth making when nobody logs it.
      const { logger } = this;
      if (logger?.isLevelEnabled('info') !== true) return;
      const why = [...new Set(batch.map(([, wish]) => wish.why))].join('; ');
      const group = this.store.groupByScimId(groupScimId);
      logger.info(
        {
          scimGroupId: groupScimId,
          keycloakId: group?.keycloakId,
          added: add,
          removed: remove,
          why,
        },
        `SCIM group ${group?.displayName ?? groupScimId}: added ${add.length} member(s), removed ${remove.length} (${why})`,
      );
      return;
    }
  }

  /** The group is gone on the SCIM side: forget it, so the next reconcile creates it again. */
  private vanished(groupScimId: string): TransientError {
    this.store.forgetMembers(groupScimId);
    const owner = this.store.groupByScimId(groupScimId);
    if (owner !== undefined) this.store.forgetGroup(owner.keycloakId);
    return new TransientError(
      `SCIM group ${groupScimId}${owner === undefined ? '' : ` of Keycloak group ${owner.keycloakId}`} is gone from the SCIM side; it is created again on the next attempt`,
    );
  }
}

/** The freshness key of a SCIM group's member list. */
export function memberKey(groupScimId: string): string {
  return `members:${groupScimId}`;
}

function settle(batch: readonly [string, Wish][], error?: unknown): void {
  for (const [, wish] of batch) {
    for (const waiter of wish.waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }
}
