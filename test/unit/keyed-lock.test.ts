import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { KeyedLock } from '../../src/sync/keyed-lock.js';

describe('KeyedLock', () => {
  it('runs holders of one key one at a time, in arrival order', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    const work = (name: string) =>
      lock.run('k', async () => {
        order.push(`${name} in`);
        await nextTurn();
        order.push(`${name} out`);
      });
    await Promise.all([work('a'), work('b')]);
    expect(order).toEqual(['a in', 'a out', 'b in', 'b out']);
    expect(lock.held('k')).toBe(false);
  });

  it('takes several keys in one order, so crossing sets never wait for each other forever', async () => {
    const lock = new KeyedLock();
    const done: string[] = [];
    // Without a common order these two would each hold one key and wait for the other.
    await Promise.all([
      lock.runAll(['userName:b', 'userName:a'], async () => {
        await nextTurn();
        done.push('first');
      }),
      lock.runAll(['userName:a', 'userName:b', 'userName:a'], async () => {
        await nextTurn();
        done.push('second');
      }),
    ]);
    expect(done.sort()).toEqual(['first', 'second']);
  });

  it('releases a key when the work throws', async () => {
    const lock = new KeyedLock();
    await expect(lock.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(lock.run('k', () => Promise.resolve('next'))).resolves.toBe('next');
  });
});
