import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Hint } from '../../src/domain/hint.js';
import { createLogger, memoryDestination } from '../../src/logger.js';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';
import { Sweep } from '../../src/sync/sweep.js';
import { FakeRealm } from '../support/fake-keycloak.js';
import { dryRun, parityEngine, plannedWrites, type ParityConfig } from '../support/parity.js';

const token = 'sweep-test-token-5d1e';
const config: ParityConfig = {
  usernameSource: 'username',
  groupNameSource: 'path',
  membershipMode: 'direct',
  userDeleteMode: 'delete',
};
const SLICES = 5;

/**
 * The periodic verification, a slice at a time, against the strict SCIM profile. Keycloak is
 * changed silently (no event reaches the relay), as when every way of hearing of a change failed;
 * one interval's slices must repair all of it, each looking at its share only.
 */
describe('the periodic verification, in slices', () => {
  let server: RunningScimServer;
  let control: ScimServerControl;
  let realm: FakeRealm;
  let relay: ReturnType<typeof parityEngine>;
  let submitted: Hint[];

  beforeAll(async () => {
    server = await startScimServer({ token, testApi: true, profile: 'generic' });
    control = new ScimServerControl(server.origin);
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(async () => {
    await control.reset();
    realm = new FakeRealm();
    relay = parityEngine(
      realm,
      server.baseUrl,
      token,
      config,
      createLogger({ level: 'info', secrets: [token], destination: memoryDestination() }),
    );
    submitted = [];
  });
  afterEach(async () => {
    await relay.close();
  });

  const sweep = (): Sweep =>
    new Sweep(
      {
        store: relay.store,
        keycloak: realm,
        submit: (hint) => {
          submitted.push(hint);
          return relay.engine.submit(hint);
        },
      },
      {
        intervalMs: SLICES * 60_000,
        sliceMs: 60_000,
        logger: createLogger({ level: 'silent', secrets: [] }),
      },
    );

  /** Twenty users, four groups, some members; provisioned by a first full reconcile. */
  async function provisioned(): Promise<{ users: string[]; groups: string[] }> {
    const groups = ['a', 'b', 'c', 'd'].map((name) => realm.createGroup(name).id);
    const users: string[] = [];
    for (let index = 0; index < 20; index += 1) {
      const { id } = realm.createUser({ username: `user-${index}`, enabled: true });
      users.push(id);
      realm.addMember(id, groups[index % 4] ?? '');
    }
    const report = await relay.engine.reconcileAll('first_start');
    expect(report.failures).toEqual([]);
    return { users, groups };
  }

  it('repairs within one interval every change no event announced, a share per slice', async () => {
    const { users, groups } = await provisioned();
    const [u0, u1, u2, u3] = users;
    const [ga, gb, gc] = groups;
    realm.updateUser(u0 ?? '', { firstName: 'Silent' });
    realm.deleteUser(u1 ?? '');
    realm.addMember(u2 ?? '', gb ?? '');
    realm.removeMember(u3 ?? '', ga ?? '');
    realm.renameGroup(gc ?? '', 'c-renamed');
    realm.createUser({ username: 'unheard', enabled: true, groups: ['/a'] });
    const newGroup = realm.createGroup('e').id;
    expect(plannedWrites(await dryRun({ ...relay, keycloak: realm }, config))).not.toEqual([]);

    for (let slice = 0; slice < SLICES; slice += 1) {
      submitted = [];
      const report = await sweep().slice();
      // Its share of the 20 to 21 mapped users and 4 to 5 groups, and a window of Keycloak's
      // listing, rather than everything at once.
      expect(report.users).toBeLessThanOrEqual(5);
      expect(report.groups).toBeLessThanOrEqual(1);
      expect(submitted.length).toBeLessThanOrEqual(12);
    }
    await relay.engine.queue.idle();
    const left = plannedWrites(await dryRun({ ...relay, keycloak: realm }, config));
    expect(left).toEqual([]);
    const state = await control.state();
    expect(state.users.find((u) => u.userName === 'user-0')?.givenName).toBe('Silent');
    expect(state.users.some((u) => u.externalId === u1)).toBe(false);
    expect(state.groups.some((g) => g.externalId === newGroup)).toBe(true);
  });

  it('walks on from where it stopped after a restart, so every entity gets its turn', async () => {
    const { users, groups } = await provisioned();
    const verifiedUsers = new Set<string>();
    const verifiedGroups = new Set<string>();
    for (let slice = 0; slice < SLICES; slice += 1) {
      submitted = [];
      // A new relay for each slice: the cursor lives in the state store.
      await sweep().slice();
      for (const hint of submitted) {
        if (hint.kind === 'user') verifiedUsers.add(hint.userId);
        if (hint.kind === 'group') verifiedGroups.add(hint.groupId);
      }
    }
    expect([...verifiedUsers].sort()).toEqual([...users].sort());
    expect([...verifiedGroups].sort()).toEqual([...groups].sort());
  });

  it('deletes nothing, and stops, when Keycloak answers for an emptied realm', async () => {
    const { users } = await provisioned();
    // The realm was replaced by an empty one of the same name: every user is gone, unannounced.
    for (const id of users) realm.deleteUser(id);
    const running = sweep();
    await running.slice();
    expect(running.held).toMatch(
      /^Keycloak lists no user at all, while the relay manages 20 users/,
    );
    expect((await control.state()).users).toHaveLength(20);
  });

  it('stops itself when what it verifies keeps turning out gone', async () => {
    const { users } = await provisioned();
    // Replaced by a realm that shares one user with it: the others are gone, unannounced.
    for (const id of users.slice(1)) realm.deleteUser(id);
    const running = sweep();
    for (let slice = 0; slice < SLICES && running.held === undefined; slice += 1) {
      await running.slice();
    }
    await relay.engine.queue.idle();
    expect(running.held).toMatch(/^\d+ of the last \d+ users and groups it verified were gone/);
    // Its own verifications, and the members its group verifications found gone, went; the rest
    // of Kestra stays until someone looks.
    const left = (await control.state()).users.filter((u) => u.userName.startsWith('user-'));
    expect(left.length).toBeGreaterThanOrEqual(5);
  });

  it('keeps its place when Keycloak fails mid-slice, and waits for the hints it handed over', async () => {
    await provisioned();
    const failing = new Sweep(
      {
        store: relay.store,
        keycloak: {
          groups: () => realm.groups(),
          // The emptiness check passes; the window read fails.
          users: (from?: number) =>
            (from ?? 0) === 0 && submitted.length === 0
              ? realm.users(0)
              : (async function* () {
                  await Promise.resolve();
                  yield* [];
                  throw new Error('Keycloak went away');
                })(),
        },
        submit: (hint) => {
          submitted.push(hint);
          return relay.engine.submit(hint);
        },
      },
      {
        intervalMs: SLICES * 60_000,
        sliceMs: 60_000,
        logger: createLogger({ level: 'silent', secrets: [] }),
      },
    );
    const cursorBefore = relay.store.checkpoint('sweep.cursor');
    await expect(failing.slice()).rejects.toThrow('Keycloak went away');
    expect(submitted.length).toBeGreaterThan(0);
    expect(relay.store.checkpoint('sweep.cursor')).toBe(cursorBefore);
  });

  it('marks what it verified, so the oldest verification is younger than one interval', async () => {
    await provisioned();
    const before = relay.store.oldestVerified() ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 20));
    const cycleBegan = Date.now();
    for (let slice = 0; slice < SLICES; slice += 1) await sweep().slice();
    await relay.engine.queue.idle();
    expect(before).toBeLessThan(cycleBegan);
    expect(relay.store.oldestVerified()).toBeGreaterThanOrEqual(cycleBegan);
  });
});
