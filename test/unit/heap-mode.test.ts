import { describe, expect, it } from 'vitest';
import { memorySaver } from '../../src/app/heap-mode.js';

describe('memorySaver', () => {
  it('saves memory from the first piece of work until the last one ends, overlapping or not', async () => {
    const flags: string[] = [];
    const saving = memorySaver((f) => flags.push(f));
    let release = (): void => undefined;
    const long = saving(
      () =>
        new Promise<string>((resolve) => {
          release = () => {
            resolve('long');
          };
        }),
    );
    expect(flags).toEqual(['--optimize-for-size']);
    // A second one while the first runs changes nothing, and its end does not lift the mode.
    await expect(saving(() => Promise.resolve(2))).resolves.toBe(2);
    expect(flags).toEqual(['--optimize-for-size']);
    release();
    await expect(long).resolves.toBe('long');
    expect(flags).toEqual(['--optimize-for-size', '--no-optimize-for-size']);
  });

  it('lifts the mode after work that fails, and passes the failure on', async () => {
    const flags: string[] = [];
    const saving = memorySaver((f) => flags.push(f));
    await expect(saving(() => Promise.reject(new Error('listing failed')))).rejects.toThrow(
      'listing failed',
    );
    expect(flags).toEqual(['--optimize-for-size', '--no-optimize-for-size']);
  });
});
