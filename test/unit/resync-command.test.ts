import { describe, expect, it } from 'vitest';
import { parseResyncArgs, planChanges } from '../../src/app/resync-command.js';
import { DEFAULT_DELETION_GUARD, planResync } from '../../src/domain/resync-plan.js';
import { ConfigError } from '../../src/errors.js';
import { forEachConcurrently } from '../../src/sync/resync-pool.js';

describe('resync command line', () => {
  it('reads every flag', () => {
    expect(
      parseResyncArgs([
        '--dry-run',
        '--groups',
        '--prune',
        '--yes',
        '--json',
        '--concurrency',
        '12',
        '--max-deletes',
        '0',
        '--max-delete-share',
        '0.25',
      ]),
    ).toEqual({
      dryRun: true,
      scope: 'groups',
      prune: true,
      yes: true,
      json: true,
      concurrency: 12,
      guard: { maxDeletes: 0, maxDeleteShare: 0.25 },
    });
  });

  it('defaults to everything, no prune, the configured concurrency and the default guard', () => {
    expect(parseResyncArgs([])).toEqual({
      dryRun: false,
      scope: 'all',
      prune: false,
      yes: false,
      json: false,
      concurrency: undefined,
      guard: DEFAULT_DELETION_GUARD,
    });
  });

  it('names every bad flag at once', () => {
    let caught: unknown;
    try {
      parseResyncArgs(['--users', '--groups', '--concurrency', '0', '--max-delete-share', '2']);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).issues).toEqual([
      '--users and --groups exclude each other; give neither to resync both',
      '--concurrency: expected a whole number of at least 1, got "0"',
      '--max-delete-share: expected a number from 0 to 1, got "2"',
    ]);
  });

  it('refuses an unknown flag', () => {
    expect(() => parseResyncArgs(['--purge'])).toThrow(ConfigError);
  });
});

describe('dry-run change lines', () => {
  it('lists one change per write, members by userName, prunes only when the guard allows', () => {
    const input = {
      keycloak: {
        users: [{ id: 'kc-a', username: 'ada', enabled: true }],
        groups: [{ id: 'kc-g', name: 'eng', path: '/eng', names: ['eng'], parentId: undefined }],
        members: new Map([['kc-g', ['kc-a']]]),
      },
      scim: {
        users: [{ id: 's-x', userName: 'gone', externalId: 'kc-x', active: true }],
        groups: [{ id: 's-g', displayName: '/eng', externalId: 'kc-g', memberIds: ['s-x'] }],
      },
      idMap: { users: [], groups: [] },
    };
    const options = {
      mapping: { usernameSource: 'username', groupNameSource: 'path' },
      userDeleteMode: 'delete',
      membershipMode: 'direct',
      scope: 'all',
      prune: true,
      guard: { maxDeletes: 10, maxDeleteShare: 1 },
      confirmed: false,
    } as const;
    expect(planChanges(planResync(input, options))).toEqual([
      { action: 'create', kind: 'user', name: 'ada', id: 'kc-a' },
      { action: 'adopt', kind: 'group', name: '/eng', id: 'kc-g' },
      { action: 'add', kind: 'member', name: 'ada', id: 'kc-a', group: '/eng' },
      { action: 'delete', kind: 'user', name: 'gone', id: 's-x', reason: 'gone from Keycloak' },
    ]);
    const held = planResync(input, { ...options, guard: { maxDeletes: 0, maxDeleteShare: 1 } });
    expect(planChanges(held).map((c) => c.action)).toEqual(['create', 'adopt', 'add']);
  });
  it('shows a group rename from its old name, and a group that waits for its name', () => {
    // A group named a/b was named /a/b before slashes were escaped; b below a wants /a/b.
    const input = {
      keycloak: {
        users: [],
        groups: [
          { id: 'kc-ab', name: 'a/b', path: '/a/b', names: ['a/b'], parentId: undefined },
          { id: 'kc-a', name: 'a', path: '/a', names: ['a'], parentId: undefined },
          { id: 'kc-b', name: 'b', path: '/a/b', names: ['a', 'b'], parentId: 'kc-a' },
        ],
        members: new Map<string, string[]>(),
      },
      scim: {
        users: [],
        groups: [
          { id: 's-ab', displayName: '/a/b', externalId: 'kc-ab', memberIds: [] },
          { id: 's-a', displayName: '/a', externalId: 'kc-a', memberIds: [] },
        ],
      },
      idMap: {
        users: [],
        groups: [
          { keycloakId: 'kc-ab', scimId: 's-ab', name: '/a/b' },
          { keycloakId: 'kc-a', scimId: 's-a', name: '/a' },
        ],
      },
    };
    const options = {
      mapping: { usernameSource: 'username', groupNameSource: 'path' },
      userDeleteMode: 'delete',
      membershipMode: 'direct',
      scope: 'all',
      prune: false,
      guard: { maxDeletes: 10, maxDeleteShare: 1 },
      confirmed: false,
    } as const;
    expect(planChanges(planResync(input, options))).toEqual([
      { action: 'rename', kind: 'group', name: '/a~/b', from: '/a/b', id: 'kc-ab' },
      {
        action: 'wait',
        kind: 'group',
        name: '/a/b',
        id: 'kc-b',
        reason: 'its name is held by the SCIM group of Keycloak group kc-ab, which changes first',
      },
    ]);
  });
});

describe('the resync worker pool', () => {
  it('never runs more than the limit at once and runs every item', async () => {
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    await forEachConcurrently([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setImmediate(resolve));
      done.push(n);
      running -= 1;
    });
    expect(peak).toBe(3);
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('starts nothing new after a task throws, and rethrows it', async () => {
    const started: number[] = [];
    await expect(
      forEachConcurrently([1, 2, 3, 4], 1, (n) => {
        started.push(n);
        return n === 2 ? Promise.reject(new Error('boom')) : Promise.resolve();
      }),
    ).rejects.toThrow('boom');
    expect(started).toEqual([1, 2]);
  });
});
