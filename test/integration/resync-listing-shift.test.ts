import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';
import { DEFAULT_DELETION_GUARD } from '../../src/domain/resync-plan.js';
import { createLogger, memoryDestination } from '../../src/logger.js';
import { resync } from '../../src/sync/resync.js';
import { FakeRealm } from '../support/fake-keycloak.js';
import { parityEngine, type ParityConfig } from '../support/parity.js';

const token = 'listing-shift-token-8c2f';
const config: ParityConfig = {
  usernameSource: 'username',
  groupNameSource: 'path',
  membershipMode: 'direct',
  userDeleteMode: 'delete',
};

/**
 * Keycloak pages its user listing by offset. A user deleted before the page being read shifts
 * every later user back by one, so the listing misses one that still exists. A resync with
 * `--prune` must not take that one for deleted: its SCIM user stays, and only the user really
 * deleted loses its twin. The fake realm re-reads itself for every page, as Keycloak does.
 */
describe('a resync whose user listing misses a user that still exists', () => {
  let server: RunningScimServer;
  let control: ScimServerControl;
  let realm: FakeRealm;
  let relay: ReturnType<typeof parityEngine>;
  /** Runs once, as the listing asks for its third page. */
  let atThirdPage: (() => void) | undefined;

  beforeAll(async () => {
    server = await startScimServer({ token, testApi: true, profile: 'generic' });
    control = new ScimServerControl(server.origin);
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(async () => {
    await control.reset();
    atThirdPage = undefined;
    realm = new FakeRealm({
      pageSize: 2,
      latency: (call) => {
        if (call === 'list users (first=4, max=2)') {
          const hook = atThirdPage;
          atThirdPage = undefined;
          hook?.();
        }
        return Promise.resolve();
      },
    });
    relay = parityEngine(
      realm,
      server.baseUrl,
      token,
      config,
      createLogger({ level: 'silent', secrets: [token], destination: memoryDestination() }),
    );
  });
  afterEach(async () => {
    await relay.close();
  });

  /**
   * Six users provisioned, u-1 and u-4 in group g; then u-5 deleted unheard (no event reaches
   * this relay) before the resync, and u-0 while it lists the third page, so that u-4 moves back
   * onto the second page, already read, and the listing never sees it.
   */
  async function resyncMissingU4(prune: boolean) {
    const ids = ['u-0', 'u-1', 'u-2', 'u-3', 'u-4', 'u-5'].map(
      (username) => realm.createUser({ username, enabled: true }).id,
    );
    const group = realm.createGroup('g').id;
    realm.addMember(ids[1] ?? '', group);
    realm.addMember(ids[4] ?? '', group);
    const first = await relay.engine.reconcileAll('first_start');
    expect(first.failures).toEqual([]);
    expect(await userNames()).toEqual(['u-0', 'u-1', 'u-2', 'u-3', 'u-4', 'u-5']);

    realm.deleteUser(ids[5] ?? '');
    atThirdPage = () => realm.deleteUser(ids[0] ?? '');
    const report = await resync(
      {
        keycloak: realm,
        scim: relay.scim,
        store: relay.store,
        reconciler: relay.engine.reconciler,
      },
      {
        mapping: { usernameSource: 'username', groupNameSource: 'path' },
        userDeleteMode: 'delete',
        membershipMode: 'direct',
        scope: 'all',
        prune,
        guard: DEFAULT_DELETION_GUARD,
        confirmed: true,
        dryRun: false,
        concurrency: 4,
      },
    );
    expect(atThirdPage).toBeUndefined();
    expect(report.failures).toEqual([]);
    return report;
  }

  async function userNames(): Promise<string[]> {
    return (await control.state()).users.map((u) => u.userName).sort();
  }

  async function membersOfG(): Promise<(string | undefined)[] | undefined> {
    const state = await control.state();
    const names = new Map(state.users.map((u) => [u.id, u.userName]));
    return state.groups
      .find((g) => g.displayName === '/g')
      ?.members.map((id) => names.get(id))
      .sort();
  }

  it('with --prune, keeps the skipped user and deletes only the one Keycloak lost', async () => {
    const report = await resyncMissingU4(true);
    // The plan missed u-4 and u-5; Keycloak still has u-4. u-0 was listed before it went.
    expect(report.plan.prune.map((step) => step.name).sort()).toEqual(['u-4', 'u-5']);
    expect(report.users.deleted).toBe(1);
    expect(await userNames()).toEqual(['u-0', 'u-1', 'u-2', 'u-3', 'u-4']);
    expect(await membersOfG()).toEqual(['u-1', 'u-4']);
  });

  it('without --prune, leaves the skipped user in its group', async () => {
    const report = await resyncMissingU4(false);
    expect(report.plan.prune).toEqual([]);
    expect(await userNames()).toEqual(['u-0', 'u-1', 'u-2', 'u-3', 'u-4', 'u-5']);
    expect(await membersOfG()).toEqual(['u-1', 'u-4']);
  });
});
