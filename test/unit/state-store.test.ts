import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { userHint } from '../../src/domain/hint.js';
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

  it('lists a group’s known descendants deepest first', () => {
    const store = StateStore.open(':memory:');
    const put = (id: string, parentId?: string) => {
      store.putGroup({ keycloakId: id, scimId: `s-${id}`, displayName: id, parentId });
    };
    put('root');
    put('a', 'root');
    put('a1', 'a');
    put('b', 'root');
    put('other');
    const order = store.descendantsOf('root').map((g) => g.keycloakId);
    expect(new Set(order)).toEqual(new Set(['a', 'a1', 'b']));
    expect(order.indexOf('a1')).toBeLessThan(order.indexOf('a'));
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
