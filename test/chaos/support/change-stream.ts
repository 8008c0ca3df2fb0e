import type KeycloakAdminClient from '@keycloak/keycloak-admin-client';
import { mapWithConcurrency } from '../../support/concurrency.js';

/** How many of each kind of change a stream made, for the scenario's log. */
export type ChangeCounts = Record<ChangeKind, number>;

export type ChangeKind =
  | 'createUser'
  | 'updateUser'
  | 'disableUser'
  | 'enableUser'
  | 'deleteUser'
  | 'createGroup'
  | 'renameGroup'
  | 'moveGroup'
  | 'deleteGroup'
  | 'addMember'
  | 'removeMember';

/** How often each change is picked (among those the realm allows at that moment). */
const WEIGHTS: Readonly<Record<ChangeKind, number>> = {
  createUser: 3,
  updateUser: 2,
  disableUser: 1,
  enableUser: 1,
  deleteUser: 1,
  createGroup: 1.5,
  renameGroup: 1,
  moveGroup: 1,
  deleteGroup: 0.5,
  addMember: 3,
  removeMember: 1.5,
};

interface ModelGroup {
  name: string;
  parentId: string | undefined;
}

/**
 * Real changes to a realm through Keycloak's admin API, picked at random (seeded, so a failing
 * run can be replayed) among those valid in the realm's current state: users created, updated,
 * disabled, enabled, deleted; groups created (top level or below another), renamed, moved,
 * deleted with their subtree; memberships added and removed. Names are never reused, so every
 * change is one Keycloak accepts; a model of the realm picks the targets.
 */
export class ChangeStream {
  readonly counts: ChangeCounts = {
    createUser: 0,
    updateUser: 0,
    disableUser: 0,
    enableUser: 0,
    deleteUser: 0,
    createGroup: 0,
    renameGroup: 0,
    moveGroup: 0,
    deleteGroup: 0,
    addMember: 0,
    removeMember: 0,
  };
  readonly #users = new Map<string, { username: string; enabled: boolean }>();
  readonly #groups = new Map<string, ModelGroup>();
  /** Direct memberships, `userId groupId`. */
  readonly #members = new Set<string>();
  readonly #random: () => number;
  #next = 0;

  /**
   * @param adminOf the admin client to use now: a Keycloak restart ends the admin's session,
   *   and the scenario then logs in again with a new client.
   */
  constructor(
    private readonly adminOf: () => KeycloakAdminClient,
    private readonly prefix: string,
    readonly seed: number,
  ) {
    this.#random = mulberry32(seed);
  }

  private get admin(): KeycloakAdminClient {
    return this.adminOf();
  }

  /** Users alive in Keycloak now, by id. */
  get userIds(): string[] {
    return [...this.#users.keys()];
  }

  /** Changes made so far. */
  get total(): number {
    return Object.values(this.counts).reduce((sum, count) => sum + count, 0);
  }

  /**
   * A realm to change: `users` users, `groups` groups (a third of them below others) and
   * `memberships` random direct memberships, made in parallel.
   */
  async populate(size: { users: number; groups: number; memberships: number }): Promise<void> {
    await mapWithConcurrency(
      Array.from({ length: size.users }, (_, i) => i),
      8,
      () => this.createUser(),
    );
    for (let i = 0; i < size.groups; i++) await this.createGroup(i % 3 === 2);
    const pairs = new Set<string>();
    const users = this.userIds;
    const groups = [...this.#groups.keys()];
    for (let tries = 0; pairs.size < size.memberships && tries < size.memberships * 10; tries++) {
      pairs.add(`${this.#pick(users)} ${this.#pick(groups)}`);
    }
    await mapWithConcurrency([...pairs], 8, async (pair) => {
      const [userId = '', groupId = ''] = pair.split(' ');
      await this.admin.users.addToGroup({ id: userId, groupId });
      this.#members.add(pair);
    });
  }

  /** Creates `count` users at once, e.g. to queue that many USER.CREATE events. */
  async createUsers(count: number, concurrency = 8): Promise<string[]> {
    return mapWithConcurrency(
      Array.from({ length: count }, (_, i) => i),
      concurrency,
      () => this.createUser(),
    );
  }

  /**
   * Makes `count` changes one after another, `pauseMs` apart, until done or `signal` aborts.
   * Returns how many were made.
   */
  async run(
    count: number,
    options: { pauseMs?: number; signal?: AbortSignal } = {},
  ): Promise<number> {
    let made = 0;
    while (made < count && options.signal?.aborted !== true) {
      await this.step();
      made += 1;
      if ((options.pauseMs ?? 0) > 0) {
        await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
      }
    }
    return made;
  }

  /** One change, picked at random among those valid now. */
  async step(): Promise<ChangeKind> {
    const users = this.userIds;
    const groups = [...this.#groups.keys()];
    const valid: ChangeKind[] = ['createUser', 'createGroup'];
    if (users.length > 0) valid.push('updateUser');
    if (users.some((id) => this.#users.get(id)?.enabled === true)) valid.push('disableUser');
    if (users.some((id) => this.#users.get(id)?.enabled === false)) valid.push('enableUser');
    // Keep a realm worth changing: deletions only while there is plenty left.
    if (users.length > 10) valid.push('deleteUser');
    if (groups.length > 0) valid.push('renameGroup', 'moveGroup');
    if (groups.length > 6) valid.push('deleteGroup');
    if (users.length > 0 && groups.length > 0) valid.push('addMember');
    if (this.#members.size > 0) valid.push('removeMember');
    const kind = this.#weighted(valid);
    await this.#apply(kind);
    this.counts[kind] += 1;
    return kind;
  }

  async #apply(kind: ChangeKind): Promise<void> {
    const { admin } = this;
    switch (kind) {
      case 'createUser':
        await this.createUser();
        return;
      case 'updateUser': {
        const id = this.#pick(this.userIds);
        const n = this.#name('edit');
        await admin.users.update(
          { id },
          { firstName: `First ${n}`, lastName: `Last ${n}`, email: `${n}@chaos.test` },
        );
        return;
      }
      case 'disableUser':
      case 'enableUser': {
        const enabled = kind === 'enableUser';
        const id = this.#pick(this.userIds.filter((u) => this.#users.get(u)?.enabled !== enabled));
        await admin.users.update({ id }, { enabled });
        const user = this.#users.get(id);
        if (user !== undefined) user.enabled = enabled;
        return;
      }
      case 'deleteUser': {
        const id = this.#pick(this.userIds);
        await admin.users.del({ id });
        this.#users.delete(id);
        for (const pair of this.#members) if (pair.startsWith(`${id} `)) this.#members.delete(pair);
        return;
      }
      case 'createGroup':
        await this.createGroup(this.#groups.size > 0 && this.#random() < 0.5);
        return;
      case 'renameGroup': {
        const id = this.#pick([...this.#groups.keys()]);
        const name = this.#name('g');
        await admin.groups.update({ id }, { name });
        const group = this.#groups.get(id);
        if (group !== undefined) group.name = name;
        return;
      }
      case 'moveGroup': {
        const id = this.#pick([...this.#groups.keys()]);
        const group = this.#groups.get(id);
        if (group === undefined) return;
        const below = this.#subtree(id);
        const parents = [...this.#groups.keys()].filter(
          (p) => !below.has(p) && p !== group.parentId,
        );
        // A move names an existing group in a create: at the top level, or under a parent.
        const toTop =
          group.parentId !== undefined && (parents.length === 0 || this.#random() < 0.3);
        if (toTop) {
          await admin.groups.updateRoot({ id, name: group.name });
          group.parentId = undefined;
        } else if (parents.length > 0) {
          const parentId = this.#pick(parents);
          await admin.groups.updateChildGroup({ id: parentId }, { id, name: group.name });
          group.parentId = parentId;
        } else {
          // A lone top-level group: rename it instead, so the step still changes something.
          const name = this.#name('g');
          await admin.groups.update({ id }, { name });
          group.name = name;
        }
        return;
      }
      case 'deleteGroup': {
        const id = this.#pick([...this.#groups.keys()]);
        const below = this.#subtree(id);
        await admin.groups.del({ id });
        // Keycloak deletes the subtree and its memberships with it, without events of their own.
        for (const gone of below) this.#groups.delete(gone);
        for (const pair of this.#members) {
          if (below.has(pair.split(' ')[1] ?? '')) this.#members.delete(pair);
        }
        return;
      }
      case 'addMember': {
        const userId = this.#pick(this.userIds);
        const groupId = this.#pick([...this.#groups.keys()]);
        await admin.users.addToGroup({ id: userId, groupId });
        this.#members.add(`${userId} ${groupId}`);
        return;
      }
      case 'removeMember': {
        const pair = this.#pick([...this.#members]);
        const [userId = '', groupId = ''] = pair.split(' ');
        await admin.users.delFromGroup({ id: userId, groupId });
        this.#members.delete(pair);
        return;
      }
    }
  }

  /** Creates one user with names and an email; returns its id. */
  async createUser(): Promise<string> {
    const username = this.#name('u');
    const { id } = await this.admin.users.create({
      username,
      email: `${username}@chaos.test`,
      firstName: 'Chaos',
      lastName: username,
      enabled: true,
    });
    this.#users.set(id, { username, enabled: true });
    return id;
  }

  async createGroup(belowAnother: boolean): Promise<string> {
    const name = this.#name('g');
    const parents = [...this.#groups.keys()];
    const parentId = belowAnother && parents.length > 0 ? this.#pick(parents) : undefined;
    const { id } =
      parentId === undefined
        ? await this.admin.groups.create({ name })
        : await this.admin.groups.createChildGroup({ id: parentId }, { name });
    this.#groups.set(id, { name, parentId });
    return id;
  }

  /** `id` and every group below it. */
  #subtree(id: string): Set<string> {
    const below = new Set([id]);
    for (let grew = true; grew;) {
      grew = false;
      for (const [child, group] of this.#groups) {
        if (group.parentId !== undefined && below.has(group.parentId) && !below.has(child)) {
          below.add(child);
          grew = true;
        }
      }
    }
    return below;
  }

  #name(kind: string): string {
    this.#next += 1;
    return `${this.prefix}-${kind}${this.#next}`;
  }

  #pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.#random() * items.length)];
    if (item === undefined) throw new Error('picked from an empty list');
    return item;
  }

  #weighted(kinds: readonly ChangeKind[]): ChangeKind {
    const total = kinds.reduce((sum, kind) => sum + WEIGHTS[kind], 0);
    let at = this.#random() * total;
    for (const kind of kinds) {
      at -= WEIGHTS[kind];
      if (at < 0) return kind;
    }
    return kinds[kinds.length - 1] ?? 'createUser';
  }
}

/** A small seeded PRNG: the same seed makes the same stream of changes. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
