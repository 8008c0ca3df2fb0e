import { describe, expect, it } from 'vitest';
import { RealmIdentity } from '../../src/sources/realm-identity.js';

describe('RealmIdentity', () => {
  it('accepts the learnt id and the realm name, and refuses any other id', async () => {
    const identity = new RealmIdentity('acme', () => Promise.resolve('6b1c-uuid'), undefined, 0);
    expect(await identity.isOurs('6b1c-uuid')).toBe(true);
    expect(await identity.isOurs('acme')).toBe(true);
    expect(await identity.isOurs('other-uuid')).toBe(false);
  });

  it('takes events as ours while the id cannot be learnt, and does not ask each time', async () => {
    let asked = 0;
    let clock = 0;
    let stored: string | undefined = undefined;
    const identity = new RealmIdentity(
      'acme',
      () => {
        asked += 1;
        return Promise.resolve(stored);
      },
      undefined,
      0,
      () => clock,
    );
    expect(await identity.isOurs('x')).toBe(true);
    const afterFirst = asked;
    expect(afterFirst).toBe(3);
    expect(await identity.isOurs('y')).toBe(true);
    expect(asked).toBe(afterFirst);
    // A minute later the realm has stored events: the id is learnt and others are refused.
    stored = 'acme-id';
    clock = 60_001;
    expect(await identity.isOurs('y')).toBe(false);
    expect(await identity.isOurs('acme-id')).toBe(true);
  });

  it('survives a Keycloak that cannot be read, and learns once it can', async () => {
    let clock = 0;
    let down = true;
    const identity = new RealmIdentity(
      'acme',
      () => (down ? Promise.reject(new Error('ECONNREFUSED')) : Promise.resolve('acme-id')),
      undefined,
      0,
      () => clock,
    );
    expect(await identity.isOurs('foreign')).toBe(true);
    down = false;
    clock = 120_000;
    expect(await identity.isOurs('foreign')).toBe(false);
  });

  it('learns once for messages that arrive together', async () => {
    let asked = 0;
    const identity = new RealmIdentity('acme', async () => {
      asked += 1;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return 'acme-id';
    });
    const answers = await Promise.all(
      ['acme-id', 'b', 'acme-id', 'c'].map((id) => identity.isOurs(id)),
    );
    expect(answers).toEqual([true, false, true, false]);
    expect(asked).toBe(1);
  });
});
