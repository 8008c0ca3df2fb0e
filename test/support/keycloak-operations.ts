import fc from 'fast-check';
import {
  FakeKeycloakError,
  FakeRealm,
  seededRandom,
  sequentialIds,
  type FakeAdminEvent,
  type FakeRealmOptions,
  type NewUser,
  type UserPatch,
} from './fake-keycloak.js';

/**
 * fast-check arbitraries for sequences of Keycloak admin operations against `FakeRealm`.
 *
 * Operations name their targets symbolically ("the k-th existing user", "the 2nd name of the
 * pool", "the most recently freed name") rather than by id, so that any sequence applies to any
 * state, shrinks towards small indices and keeps meaning while it shrinks. Small name pools make
 * collisions, re-creation under an old name and rename chains frequent. `applySequence` skips
 * what is invalid in the current state (no such entity, or a request Keycloak would refuse).
 */

export interface NamePools {
  readonly usernames: readonly string[];
  readonly emails: readonly string[];
  readonly groupNames: readonly string[];
  readonly givenNames: readonly string[];
  readonly familyNames: readonly string[];
}

/**
 * The default pools. Group names contain no `/`: a name like `eng/dev` would give two groups
 * one path, which a SCIM server with unique displayNames cannot hold; pass such a pool on purpose.
 */
export const DEFAULT_POOLS: NamePools = {
  usernames: ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'],
  emails: [
    'alice@example.com',
    'bob@example.com',
    'carol@example.com',
    'team@example.com',
    'ops@example.org',
  ],
  groupNames: ['eng', 'ops', 'sales', 'dev', 'qa'],
  givenNames: ['Ada', 'Grace', 'Alan'],
  familyNames: ['Lovelace', 'Hopper', 'Turing'],
};

/**
 * A name: the i-th of the pool, or the k-th most recently freed one (given up by a delete,
 * rename, username/email change or move), falling back to the pool when nothing was freed.
 */
export type NameRef = { readonly pool: number } | { readonly freed: number };

export type KeycloakOperation =
  | {
      readonly kind: 'createUser';
      readonly username: NameRef;
      /** null: no email. */
      readonly email: NameRef | null;
      /** Pool indices; null: not sent. */
      readonly givenName: number | null;
      readonly familyName: number | null;
      /** null: not sent, which leaves the user disabled. */
      readonly enabled: boolean | null;
      /** Send username and email upper-cased (Keycloak stores them lower-cased). */
      readonly upperCase: boolean;
      /** The k-th existing group, joined through the create body (silently); null: none. */
      readonly joinGroup: number | null;
    }
  | {
      readonly kind: 'updateUser';
      /** The k-th existing user (modulo their number). */
      readonly user: number;
      /** Absent fields are not sent; null clears (sends ''). */
      readonly username?: NameRef;
      readonly email?: NameRef | null;
      readonly givenName?: number | null;
      readonly familyName?: number | null;
      readonly enabled?: boolean;
      readonly upperCase?: boolean;
    }
  | { readonly kind: 'deleteUser'; readonly user: number }
  | {
      readonly kind: 'createGroup';
      /** The k-th existing group as parent; null: top level. */
      readonly parent: number | null;
      readonly name: NameRef;
    }
  | { readonly kind: 'renameGroup'; readonly group: number; readonly name: NameRef }
  | {
      readonly kind: 'moveGroup';
      readonly group: number;
      /** null: to the top level. */
      readonly parent: number | null;
    }
  | { readonly kind: 'deleteGroup'; readonly group: number }
  | { readonly kind: 'addMember'; readonly user: number; readonly group: number }
  | {
      readonly kind: 'removeMember';
      /** The k-th existing direct membership. */
      readonly membership: number;
      /**
       * Leave the group this many levels above the one joined: Keycloak records a DELETE for
       * it (the user is a member through the subgroup) but removes nothing.
       */
      readonly up: number;
    };

export interface OperationArbitraryOptions {
  readonly pools?: NamePools;
  /**
   * A setup first builds a realm, since changes to an empty one would mostly be skipped: up to
   * this many user creates, then group creates, then joins. Default 8; 0 for none.
   */
  readonly setupSize?: number;
  /** Bounds of the churn after the setup, which mixes every kind of operation. Default 0. */
  readonly minLength?: number;
  /** Default 40. */
  readonly maxLength?: number;
  /**
   * Also create users that join a group through the create body, which Keycloak does without a
   * GROUP_MEMBERSHIP event: only a reconcile of the user can see it. Default false.
   */
  readonly silentJoins?: boolean;
}

/** `arbitrary` or null (1 in `freq`); null shrinks first. */
const orNull = <T>(arbitrary: fc.Arbitrary<T>, freq = 5): fc.Arbitrary<T | null> =>
  fc.option(arbitrary, { freq, nil: null });

/** Small indices: shrinking moves them to 0, "the first one". */
const index = fc.nat({ max: 7 });

function nameRef(poolSize: number): fc.Arbitrary<NameRef> {
  return fc.oneof(
    { arbitrary: fc.nat({ max: poolSize - 1 }).map((pool): NameRef => ({ pool })), weight: 3 },
    { arbitrary: fc.nat({ max: 2 }).map((freed): NameRef => ({ freed })), weight: 1 },
  );
}

/** The arbitraries of each kind of operation. */
function operationKinds(options: OperationArbitraryOptions) {
  const pools = options.pools ?? DEFAULT_POOLS;
  const username = nameRef(pools.usernames.length);
  const email = nameRef(pools.emails.length);
  const groupName = nameRef(pools.groupNames.length);
  const given = fc.nat({ max: pools.givenNames.length - 1 });
  const family = fc.nat({ max: pools.familyNames.length - 1 });

  const createUser: fc.Arbitrary<KeycloakOperation> = fc.record({
    kind: fc.constant('createUser' as const),
    username,
    email: orNull(email, 4),
    givenName: orNull(given),
    familyName: orNull(family),
    enabled: orNull(fc.boolean(), 6),
    upperCase: fc.boolean(),
    joinGroup: options.silentJoins === true ? orNull(index, 2) : fc.constant(null),
  });
  const updateUser: fc.Arbitrary<KeycloakOperation> = fc.record(
    {
      kind: fc.constant('updateUser' as const),
      user: index,
      username,
      email: orNull(email, 3),
      givenName: orNull(given, 3),
      familyName: orNull(family, 3),
      enabled: fc.boolean(),
      upperCase: fc.boolean(),
    },
    { requiredKeys: ['kind', 'user'] },
  );
  const deleteUser: fc.Arbitrary<KeycloakOperation> = fc.record({
    kind: fc.constant('deleteUser' as const),
    user: index,
  });
  const createGroup: fc.Arbitrary<KeycloakOperation> = fc.record({
    kind: fc.constant('createGroup' as const),
    parent: orNull(index, 2),
    name: groupName,
  });
  const renameGroup: fc.Arbitrary<KeycloakOperation> = fc.record({
    kind: fc.constant('renameGroup' as const),
    group: index,
    name: groupName,
  });
  const moveGroup: fc.Arbitrary<KeycloakOperation> = fc.record({
    kind: fc.constant('moveGroup' as const),
    group: index,
    parent: orNull(index, 3),
  });
  const deleteGroup: fc.Arbitrary<KeycloakOperation> = fc.record({
    kind: fc.constant('deleteGroup' as const),
    group: index,
  });
  const addMember: fc.Arbitrary<KeycloakOperation> = fc.record({
    kind: fc.constant('addMember' as const),
    user: index,
    group: index,
  });
  const removeMember: fc.Arbitrary<KeycloakOperation> = fc.record({
    kind: fc.constant('removeMember' as const),
    membership: index,
    up: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, fc.integer({ min: 1, max: 2 })),
  });

  return {
    createUser,
    updateUser,
    deleteUser,
    createGroup,
    renameGroup,
    moveGroup,
    deleteGroup,
    addMember,
    removeMember,
  };
}

/** One operation of any kind, weighted towards creates and joins that the others act on. */
export function keycloakOperation(
  options: OperationArbitraryOptions = {},
): fc.Arbitrary<KeycloakOperation> {
  const {
    createUser,
    updateUser,
    deleteUser,
    createGroup,
    renameGroup,
    moveGroup,
    deleteGroup,
    addMember,
    removeMember,
  } = operationKinds(options);
  // Creates come first: fast-check's oneof shrinks towards the first arbitrary.
  return fc.oneof(
    { arbitrary: createUser, weight: 4 },
    { arbitrary: createGroup, weight: 4 },
    { arbitrary: addMember, weight: 5 },
    { arbitrary: updateUser, weight: 4 },
    { arbitrary: removeMember, weight: 2 },
    { arbitrary: renameGroup, weight: 2 },
    { arbitrary: moveGroup, weight: 2 },
    { arbitrary: deleteUser, weight: 1 },
    { arbitrary: deleteGroup, weight: 1 },
  );
}

/**
 * A sequence of operations: a setup that builds a realm (users, then groups, then joins), then
 * churn of every kind. Every operation applies or is skipped; none throws.
 */
export function keycloakOperations(
  options: OperationArbitraryOptions = {},
): fc.Arbitrary<KeycloakOperation[]> {
  const { createUser, createGroup, addMember } = operationKinds(options);
  const setupSize = options.setupSize ?? 8;
  // fast-check's default size keeps arrays near 10 whatever maxLength says: too short to
  // build a realm and then churn it.
  const some = (arbitrary: fc.Arbitrary<KeycloakOperation>, maxLength: number) =>
    fc.array(arbitrary, { maxLength, size: 'max' });
  const churn = fc.array(keycloakOperation(options), {
    minLength: options.minLength ?? 0,
    maxLength: options.maxLength ?? 40,
    size: 'max',
  });
  // Shrinking works on the parts, so a counterexample loses setup and churn alike.
  return fc
    .tuple(
      some(createUser, setupSize),
      some(createGroup, setupSize),
      some(addMember, setupSize),
      churn,
    )
    .map((parts) => parts.flat());
}

// -----------------------------------------------------------------------------------------------
// Applying

export type Step =
  | {
      readonly op: KeycloakOperation;
      readonly applied: true;
      /** What was done, with names and paths resolved. */
      readonly summary: string;
      /** May be empty: Keycloak records nothing for some valid requests (joining twice). */
      readonly events: readonly FakeAdminEvent[];
    }
  | {
      readonly op: KeycloakOperation;
      readonly applied: false;
      readonly summary: string;
      readonly reason: string;
    };

export interface Run {
  readonly realm: FakeRealm;
  readonly steps: readonly Step[];
  /** Every event of the applied steps, in order. */
  readonly events: readonly FakeAdminEvent[];
}

/** How many freed names are remembered. */
const FREED_MEMORY = 5;

/** Applies symbolic operations to a realm, remembering which names were freed. */
export class OperationRunner {
  private readonly freed = {
    usernames: [] as string[],
    emails: [] as string[],
    groupNames: [] as string[],
  };

  constructor(
    readonly realm: FakeRealm,
    readonly pools: NamePools = DEFAULT_POOLS,
  ) {}

  /** Applies `op`, or skips it when it is invalid now. Throws only on a bug in the fake. */
  apply(op: KeycloakOperation): Step {
    const realm = this.realm;
    const users = realm.userIds();
    const groups = realm.groupIds();
    const skip = (summary: string, reason: string): Step => ({
      op,
      applied: false,
      summary,
      reason,
    });
    const pick = (ids: readonly string[], k: number): string | undefined => ids[k % ids.length];

    const run = (summary: string, change: () => readonly FakeAdminEvent[]): Step => {
      try {
        return { op, applied: true, summary, events: change() };
      } catch (error) {
        if (error instanceof FakeKeycloakError) {
          return skip(summary, `${error.status} ${error.message}`);
        }
        throw error;
      }
    };

    switch (op.kind) {
      case 'createUser': {
        const username = this.name(op.username, 'usernames');
        const email = op.email === null ? undefined : this.name(op.email, 'emails');
        const joinId = op.joinGroup === null ? undefined : pick(groups, op.joinGroup);
        const joinPath = joinId === undefined ? undefined : realm.peekGroup(joinId)?.path;
        const body: NewUser = {
          username: op.upperCase ? username.toUpperCase() : username,
          ...(email === undefined ? {} : { email: op.upperCase ? email.toUpperCase() : email }),
          ...(op.givenName === null ? {} : { firstName: this.pool('givenNames', op.givenName) }),
          ...(op.familyName === null ? {} : { lastName: this.pool('familyNames', op.familyName) }),
          ...(op.enabled === null ? {} : { enabled: op.enabled }),
          ...(joinPath === undefined ? {} : { groups: [joinPath] }),
        };
        return run(`createUser ${JSON.stringify(body)}`, () => realm.createUser(body).events);
      }
      case 'updateUser': {
        const id = pick(users, op.user);
        if (id === undefined) return skip('updateUser', 'no users');
        const before = realm.peekUser(id);
        const shout = (value: string): string =>
          op.upperCase === true ? value.toUpperCase() : value;
        const patch: UserPatch = {
          ...(op.username === undefined
            ? {}
            : { username: shout(this.name(op.username, 'usernames')) }),
          ...(op.email === undefined
            ? {}
            : { email: op.email === null ? '' : shout(this.name(op.email, 'emails')) }),
          ...(op.givenName === undefined
            ? {}
            : { firstName: op.givenName === null ? '' : this.pool('givenNames', op.givenName) }),
          ...(op.familyName === undefined
            ? {}
            : {
                lastName: op.familyName === null ? '' : this.pool('familyNames', op.familyName),
              }),
          ...(op.enabled === undefined ? {} : { enabled: op.enabled }),
        };
        const step = run(`updateUser ${before?.username ?? id} ${JSON.stringify(patch)}`, () => {
          const events = realm.updateUser(id, patch).events;
          const after = realm.peekUser(id);
          if (before !== undefined && after !== undefined) {
            if (before.username !== after.username) this.free('usernames', before.username);
            if (before.email !== undefined && before.email !== after.email) {
              this.free('emails', before.email);
            }
          }
          return events;
        });
        return step;
      }
      case 'deleteUser': {
        const id = pick(users, op.user);
        if (id === undefined) return skip('deleteUser', 'no users');
        const before = realm.peekUser(id);
        return run(`deleteUser ${before?.username ?? id}`, () => {
          const events = realm.deleteUser(id).events;
          if (before !== undefined) {
            this.free('usernames', before.username);
            if (before.email !== undefined) this.free('emails', before.email);
          }
          return events;
        });
      }
      case 'createGroup': {
        const name = this.name(op.name, 'groupNames');
        if (op.parent === null) {
          return run(`createGroup /${name}`, () => realm.createGroup(name).events);
        }
        const parentId = pick(groups, op.parent);
        if (parentId === undefined) return skip(`createGroup ?/${name}`, 'no parent group');
        const parentPath = realm.peekGroup(parentId)?.path ?? parentId;
        return run(
          `createGroup ${parentPath}/${name}`,
          () => realm.createChildGroup(parentId, name).events,
        );
      }
      case 'renameGroup': {
        const id = pick(groups, op.group);
        const name = this.name(op.name, 'groupNames');
        if (id === undefined) return skip(`renameGroup ? → ${name}`, 'no groups');
        const before = realm.peekGroup(id);
        return run(`renameGroup ${before?.path ?? id} → ${name}`, () => {
          const events = realm.renameGroup(id, name).events;
          if (before !== undefined && before.name !== name) this.free('groupNames', before.name);
          return events;
        });
      }
      case 'moveGroup': {
        const id = pick(groups, op.group);
        if (id === undefined) return skip('moveGroup', 'no groups');
        const parentId = op.parent === null ? undefined : pick(groups, op.parent);
        const before = realm.peekGroup(id);
        const target = parentId === undefined ? '(top)' : (realm.peekGroup(parentId)?.path ?? '?');
        return run(`moveGroup ${before?.path ?? id} → ${target}`, () => {
          const events = realm.moveGroup(id, parentId).events;
          if (before !== undefined && before.parentId !== parentId) {
            this.free('groupNames', before.name);
          }
          return events;
        });
      }
      case 'deleteGroup': {
        const id = pick(groups, op.group);
        if (id === undefined) return skip('deleteGroup', 'no groups');
        const before = realm.peekGroup(id);
        // Tree order lists parents first, so one pass collects the subtree (paths would not do:
        // a `/` inside a name makes a path look like a descendant's).
        const inSubtree = new Set([id]);
        const subtree = realm.state().groups.filter((g) => {
          if (g.id !== id && (g.parentId === undefined || !inSubtree.has(g.parentId))) {
            return false;
          }
          inSubtree.add(g.id);
          return true;
        });
        return run(`deleteGroup ${before?.path ?? id} (${subtree.length} groups)`, () => {
          const events = realm.deleteGroup(id).events;
          for (const gone of subtree) this.free('groupNames', gone.name);
          return events;
        });
      }
      case 'addMember': {
        const userId = pick(users, op.user);
        const groupId = pick(groups, op.group);
        if (userId === undefined || groupId === undefined) {
          return skip('addMember', 'no users or no groups');
        }
        return run(
          `addMember ${this.username(userId)} → ${realm.peekGroup(groupId)?.path ?? groupId}`,
          () => realm.addMember(userId, groupId).events,
        );
      }
      case 'removeMember': {
        const pairs = realm.membershipPairs();
        const pair = pairs[op.membership % Math.max(1, pairs.length)];
        if (pair === undefined) return skip('removeMember', 'no memberships');
        const [userId, joinedId] = pair;
        let groupId = joinedId;
        for (let level = 0; level < op.up; level++) {
          groupId = realm.peekGroup(groupId)?.parentId ?? groupId;
        }
        const joinedPath = realm.peekGroup(joinedId)?.path ?? joinedId;
        const leftPath = realm.peekGroup(groupId)?.path ?? groupId;
        return run(
          `removeMember ${this.username(userId)} ✕ ${leftPath}${groupId === joinedId ? '' : ` (joined ${joinedPath})`}`,
          () => realm.removeMember(userId, groupId).events,
        );
      }
    }
  }

  private username(id: string): string {
    return this.realm.peekUser(id)?.username ?? id;
  }

  private pool(pool: 'givenNames' | 'familyNames', i: number): string {
    const names = this.pools[pool];
    return names[i % names.length] ?? '';
  }

  private name(ref: NameRef, pool: 'usernames' | 'emails' | 'groupNames'): string {
    const names = this.pools[pool];
    if ('freed' in ref) {
      const freed = this.freed[pool];
      const name = freed[ref.freed % Math.max(1, freed.length)];
      if (name !== undefined) return name;
      return names[ref.freed % names.length] ?? '';
    }
    return names[ref.pool % names.length] ?? '';
  }

  private free(pool: 'usernames' | 'emails' | 'groupNames', name: string): void {
    const freed = this.freed[pool].filter((other) => other !== name);
    freed.unshift(name);
    this.freed[pool] = freed.slice(0, FREED_MEMORY);
  }
}

/** Applies a whole sequence to `realm` (a fresh one by default). */
export function applySequence(
  ops: readonly KeycloakOperation[],
  realm: FakeRealm = new FakeRealm(),
  pools: NamePools = DEFAULT_POOLS,
): Run {
  const runner = new OperationRunner(realm, pools);
  const steps = ops.map((op) => runner.apply(op));
  return { realm, steps, events: steps.flatMap((step) => (step.applied ? step.events : [])) };
}

/**
 * The deterministic replay of a sequence: the same operations always give the same ids, event
 * times and latency schedule. Paste a counterexample that fast-check printed into it.
 */
export function replaySequence(
  ops: readonly KeycloakOperation[],
  options: {
    readonly pools?: NamePools;
    readonly realm?: FakeRealmOptions;
    readonly seed?: number;
  } = {},
): Run {
  const realm = new FakeRealm({
    realmId: 'replay-realm',
    newId: sequentialIds(),
    startTime: Date.UTC(2025, 0, 1),
    random: seededRandom(options.seed ?? 1),
    ...options.realm,
  });
  return applySequence(ops, realm, options.pools);
}

// -----------------------------------------------------------------------------------------------
// Printing

const ref = (name: NameRef): string => ('freed' in name ? `freed${name.freed}` : `#${name.pool}`);
const opt = <T>(value: T | null | undefined, show: (v: T) => string, none = '-'): string =>
  value === undefined ? '' : value === null ? none : show(value);

/** One operation, symbolically, on one short line. */
export function describeOperation(op: KeycloakOperation): string {
  switch (op.kind) {
    case 'createUser': {
      const parts = [
        `u=${ref(op.username)}${op.upperCase ? '^' : ''}`,
        `e=${opt(op.email, ref)}`,
        `gn=${opt(op.givenName, String)}`,
        `fn=${opt(op.familyName, String)}`,
        `on=${opt(op.enabled, String, 'omit')}`,
        ...(op.joinGroup === null ? [] : [`join=g${op.joinGroup}`]),
      ];
      return `createUser(${parts.join(' ')})`;
    }
    case 'updateUser': {
      const parts = [
        op.username === undefined ? '' : `u=${ref(op.username)}`,
        op.email === undefined ? '' : `e=${opt(op.email, ref, "''")}`,
        op.givenName === undefined ? '' : `gn=${opt(op.givenName, String, "''")}`,
        op.familyName === undefined ? '' : `fn=${opt(op.familyName, String, "''")}`,
        op.enabled === undefined ? '' : `on=${op.enabled}`,
        op.upperCase === true ? '^' : '',
      ].filter((part) => part !== '');
      return `updateUser(u${op.user}${parts.length === 0 ? '' : `: ${parts.join(' ')}`})`;
    }
    case 'deleteUser':
      return `deleteUser(u${op.user})`;
    case 'createGroup':
      return `createGroup(${op.parent === null ? 'top' : `under g${op.parent}`} ${ref(op.name)})`;
    case 'renameGroup':
      return `renameGroup(g${op.group} → ${ref(op.name)})`;
    case 'moveGroup':
      return `moveGroup(g${op.group} → ${op.parent === null ? 'top' : `g${op.parent}`})`;
    case 'deleteGroup':
      return `deleteGroup(g${op.group})`;
    case 'addMember':
      return `addMember(u${op.user} → g${op.group})`;
    case 'removeMember':
      return `removeMember(m${op.membership}${op.up === 0 ? '' : ` up${op.up}`})`;
  }
}

/** A sequence, one numbered line per operation, for a failure log. */
export function formatSequence(ops: readonly KeycloakOperation[]): string {
  return ops.map((op, i) => `${String(i + 1).padStart(3)}. ${describeOperation(op)}`).join('\n');
}

/** What a run did, with names and paths resolved, one numbered line per step. */
export function formatRun(steps: readonly Step[]): string {
  return steps
    .map((step, i) => {
      const outcome = step.applied
        ? `${step.events.length} event${step.events.length === 1 ? '' : 's'}`
        : `skipped: ${step.reason}`;
      return `${String(i + 1).padStart(3)}. ${step.summary}  [${outcome}]`;
    })
    .join('\n');
}
