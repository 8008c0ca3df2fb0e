import { describe, expect, it } from 'vitest';
import { ScimError } from '../../packages/scim-server/src/errors.js';
import { parsePatchRequest, type PatchOperation } from '../../packages/scim-server/src/patch.js';
import { genericProfile } from '../../packages/scim-server/src/profile.js';
import type { UserAttributes } from '../../packages/scim-server/src/records.js';
import { ScimStore } from '../../packages/scim-server/src/store.js';
import {
  membersToWriteBack,
  patchGroupUnlocked,
  patchUserUnlocked,
  readWriteWindow,
  type UnlockedPatch,
} from '../../packages/scim-server/src/unlocked-patch.js';

const PATCH_URN = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

function ops(...operations: unknown[]): PatchOperation[] {
  return parsePatchRequest({ schemas: [PATCH_URN], Operations: operations });
}

function user(userName: string): UserAttributes {
  return {
    userName,
    externalId: undefined,
    givenName: undefined,
    familyName: undefined,
    emails: [],
    active: true,
  };
}

/** A read-write window that stays open until the test closes it. */
function gate(): { patch: UnlockedPatch; versions: number[]; close: () => void } {
  let close = (): void => undefined;
  const closed = new Promise<void>((resolve) => {
    close = resolve;
  });
  const versions: number[] = [];
  return {
    patch: { wait: () => closed, precondition: (version) => versions.push(version) },
    versions,
    close,
  };
}

describe('membersToWriteBack', () => {
  const read = new Map<string, string | undefined>([
    ['a', 'A'],
    ['b', undefined],
    ['c', undefined],
  ]);

  it('writes the members read, less the removed ones and those gone since, plus the added', () => {
    const members = membersToWriteBack(
      read,
      { cleared: false, added: new Map([['d', 'D']]), removed: new Set(['b']) },
      (id) => id !== 'c',
    );
    expect(members).toEqual([
      { value: 'a', display: 'A' },
      { value: 'd', display: 'D' },
    ]);
  });

  it('writes only the added members after a clear, even ones the store will refuse', () => {
    const members = membersToWriteBack(
      read,
      { cleared: true, added: new Map([['x', undefined]]), removed: new Set() },
      () => false,
    );
    expect(members).toEqual([{ value: 'x', display: undefined }]);
  });
});

describe('patchGroupUnlocked', () => {
  it('loses a concurrent member add: each PATCH writes back the list it read', async () => {
    const store = new ScimStore(genericProfile());
    const a = store.createUser(user('a')).user.id;
    const b = store.createUser(user('b')).user.id;
    const group = store.createGroup({ displayName: 'Team', externalId: undefined }, []);
    const window = gate();
    const first = patchGroupUnlocked(
      store,
      group.id,
      ops({ op: 'add', path: 'members', value: [{ value: a }] }),
      window.patch,
    );
    const second = patchGroupUnlocked(
      store,
      group.id,
      ops({ op: 'add', path: 'members', value: [{ value: b }] }),
      window.patch,
    );
    window.close();
    await Promise.all([first, second]);
    expect([...store.getGroup(group.id).members.keys()]).toEqual([b]);
    // Both read version 1; the second write checked version 2, written by the first.
    expect(window.versions).toEqual([1, 1, 1, 2]);
  });

  it('drops a member deleted during the window instead of writing it back', async () => {
    const store = new ScimStore(genericProfile());
    const a = store.createUser(user('a')).user.id;
    const b = store.createUser(user('b')).user.id;
    const group = store.createGroup({ displayName: 'Team', externalId: undefined }, [
      { value: a, display: undefined },
    ]);
    const window = gate();
    const patched = patchGroupUnlocked(
      store,
      group.id,
      ops({ op: 'add', path: 'members', value: [{ value: b }] }),
      window.patch,
    );
    store.deleteUser(a);
    window.close();
    await patched;
    expect([...store.getGroup(group.id).members.keys()]).toEqual([b]);
  });

  it('answers 404 when the group was deleted during the window', async () => {
    const store = new ScimStore(genericProfile());
    const group = store.createGroup({ displayName: 'Team', externalId: undefined }, []);
    const window = gate();
    const patched = patchGroupUnlocked(
      store,
      group.id,
      ops({ op: 'replace', path: 'displayName', value: 'Other' }),
      window.patch,
    );
    store.deleteGroup(group.id);
    window.close();
    const error: unknown = await patched.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScimError);
    expect(error).toMatchObject({ status: 404 });
  });

  it('stops at the write when the precondition fails there, and writes nothing', async () => {
    const store = new ScimStore(genericProfile());
    const group = store.createGroup({ displayName: 'Team', externalId: undefined }, []);
    let reads = 0;
    const patch: UnlockedPatch = {
      wait: readWriteWindow(0),
      precondition: () => {
        reads += 1;
        if (reads === 2) throw new ScimError({ status: 412, operation: 'request' });
      },
    };
    const error: unknown = await patchGroupUnlocked(
      store,
      group.id,
      ops({ op: 'replace', path: 'displayName', value: 'Other' }),
      patch,
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 412 });
    expect(store.getGroup(group.id)).toMatchObject({
      version: 1,
      attributes: { displayName: 'Team' },
    });
  });
});

describe('patchUserUnlocked', () => {
  it('loses a concurrent change of another attribute, extra ones included', async () => {
    const store = new ScimStore(genericProfile());
    const { id } = store.createUser(user('alice'), true, { title: 'CTO' }).user;
    const window = gate();
    const first = patchUserUnlocked(
      store,
      id,
      ops({ op: 'replace', path: 'title', value: 'CEO' }),
      true,
      window.patch,
    );
    const second = patchUserUnlocked(
      store,
      id,
      ops({ op: 'replace', path: 'active', value: false }),
      true,
      window.patch,
    );
    window.close();
    await Promise.all([first, second]);
    // The second write-back carries the title it read: the first PATCH is lost.
    expect(store.getUser(id)).toMatchObject({
      attributes: { active: false },
      extra: { title: 'CTO' },
      version: 3,
    });
  });

  it('ignores extra attributes when told not to keep them', async () => {
    const store = new ScimStore(genericProfile());
    const { id } = store.createUser(user('alice')).user;
    await patchUserUnlocked(store, id, ops({ op: 'replace', path: 'title', value: 'CEO' }), false, {
      wait: readWriteWindow(0),
      precondition: () => undefined,
    });
    expect(store.getUser(id).extra).toEqual({});
  });
});

describe('readWriteWindow', () => {
  it('yields a macrotask at 0, so work queued by other requests runs first', async () => {
    const order: string[] = [];
    setImmediate(() => order.push('queued before'));
    await readWriteWindow(0)();
    order.push('after the window');
    expect(order).toEqual(['queued before', 'after the window']);
  });

  it('waits the delay it is given', async () => {
    const started = performance.now();
    await readWriteWindow(25)();
    expect(performance.now() - started).toBeGreaterThanOrEqual(20);
  });
});
