import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { userHint } from '../../src/domain/hint.js';
import Database from 'better-sqlite3';
import { StateStore } from '../../src/state/state-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('StateStore', () => {
  it('keeps id maps, checkpoints and parked work across a reopen', () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-state-'));
    dirs.push(dir);
    const first = StateStore.open(dir);
    first.putUser({ keycloakId: 'k1', scimId: 's1', userName: 'alice' });
    first.putGroup({ keycloakId: 'g1', scimId: 'sg1', displayName: '/a', parentId: undefined });
    first.putCheckpoint('poll.admin', '{"time":5}');
    first.park('user:k2', userHint('k2'), 'no email');
    first.park('user:k2', userHint('k2'), 'still no email');
    first.close();

    const second = StateStore.open(dir);
    expect(second.user('k1')).toEqual({ keycloakId: 'k1', scimId: 's1', userName: 'alice' });
    expect(second.group('g1')?.scimId).toBe('sg1');
    expect(second.checkpoint('poll.admin')).toBe('{"time":5}');
    expect(second.parked()).toMatchObject([
      { key: 'user:k2', hint: userHint('k2'), reason: 'still no email', attempts: 2 },
    ]);
    second.unpark('user:k2');
    expect(second.parkedCount()).toBe(0);
    second.close();
  });

  it('lists a group’s known descendants deepest first, through groups without a twin too', () => {
    const store = StateStore.open(':memory:');
    const put = (id: string, parentId?: string) => {
      store.putGroup({ keycloakId: id, scimId: `s-${id}`, displayName: id, parentId });
    };
    put('root');
    put('a', 'root');
    // No twin (its name was taken), but still where Keycloak has it.
    store.putGroupNode('twinless', 'a');
    put('a1', 'twinless');
    put('b', 'root');
    put('other');
    const order = store.descendantsOf('root');
    expect(new Set(order)).toEqual(new Set(['a', 'twinless', 'a1', 'b']));
    expect(order.indexOf('a1')).toBeLessThan(order.indexOf('twinless'));
    expect(order.indexOf('twinless')).toBeLessThan(order.indexOf('a'));
    expect(store.groupNode('a1')).toEqual({ parentId: 'twinless' });
    store.forgetGroupNode('twinless');
    expect(store.groupNode('twinless')).toBeUndefined();
    store.close();
  });

  it('migrates a database of the first release, keying parked memberships apart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-state-v1-'));
    dirs.push(dir);
    const old = new Database(join(dir, 'relay.sqlite'));
    old.exec(`
      CREATE TABLE users (keycloak_id TEXT PRIMARY KEY, scim_id TEXT NOT NULL, user_name TEXT NOT NULL);
      CREATE TABLE groups (keycloak_id TEXT PRIMARY KEY, scim_id TEXT NOT NULL, display_name TEXT NOT NULL, parent_id TEXT);
      CREATE TABLE checkpoints (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE parked (key TEXT PRIMARY KEY, hint TEXT NOT NULL, reason TEXT NOT NULL, attempts INTEGER NOT NULL, first_failed_at INTEGER NOT NULL, last_failed_at INTEGER NOT NULL);
      INSERT INTO users VALUES ('k1', 's1', 'ada'), ('k2', 's1', 'ada-again');
      INSERT INTO groups VALUES ('g1', 'sg1', '/eng', NULL), ('g2', 'sg2', '/eng/be', 'g1');
      INSERT INTO parked VALUES ('user:k3', '{"kind":"membership","userId":"k3","groupId":"g1"}', 'r', 1, 0, 0);
    `);
    old.close();
    const upgradedFrom = Date.now();
    const store = StateStore.open(dir);
    // Rows from before verification times count from the upgrade.
    expect(store.oldestVerified()).toBeGreaterThanOrEqual(upgradedFrom);
    // Two ids mapped to one SCIM user: the newest mapping wins.
    expect(store.userByScimId('s1')?.keycloakId).toBe('k2');
    expect(store.user('k1')).toBeUndefined();
    expect(store.descendantsOf('g1')).toEqual(['g2']);
    expect(store.parked().map((p) => p.key)).toEqual(['membership:k3:g1']);
    expect(store.knownMembers('sg1')).toBeUndefined();
    store.close();
  });

  it('walks the id map in id order from a cursor, and keeps when each entity was verified', () => {
    const store = StateStore.open(':memory:');
    for (const id of ['u3', 'u1', 'u2']) {
      store.putUser({ keycloakId: id, scimId: `s-${id}`, userName: id });
    }
    expect(store.usersAfter('', 2)).toEqual(['u1', 'u2']);
    expect(store.usersAfter('u2', 2)).toEqual(['u3']);
    expect(store.groupsAfter('', 5)).toEqual([]);
    store.markAllVerified(1_000);
    store.markVerified('user', 'u1', 500);
    // A verification never moves back in time.
    expect(store.oldestVerified()).toBeGreaterThan(1_000);
    store.close();
  });

  it('finds a user’s parked memberships by their key, and only those', () => {
    const store = StateStore.open(':memory:');
    store.park('membership:u1:g1', { kind: 'membership', userId: 'u1', groupId: 'g1' }, 'r');
    store.park('membership:u1:g2', { kind: 'membership', userId: 'u1', groupId: 'g2' }, 'r');
    store.park('membership:u10:g1', { kind: 'membership', userId: 'u10', groupId: 'g1' }, 'r');
    store.park('user:u1', { kind: 'user', userId: 'u1' }, 'r');
    expect(
      store
        .parkedStartingWith('membership:u1:')
        .map((p) => p.key)
        .sort(),
    ).toEqual(['membership:u1:g1', 'membership:u1:g2']);
    store.close();
  });

  it('rolls back a failed transaction as a whole', () => {
    const store = StateStore.open(':memory:');
    expect(() =>
      store.transaction(() => {
        store.putUser({ keycloakId: 'k', scimId: 's', userName: 'u' });
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(store.user('k')).toBeUndefined();
    store.close();
  });
});
