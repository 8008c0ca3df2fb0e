import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';
import { DEFAULT_DELETION_GUARD } from '../../src/domain/resync-plan.js';
import { createLogger, memoryDestination } from '../../src/logger.js';
import { FULL_RECONCILE_APPLYING_CHECKPOINT } from '../../src/sync/full-reconcile-record.js';
import { resync, type ResyncPhase } from '../../src/sync/resync.js';
import { FakeRealm } from '../support/fake-keycloak.js';
import { parityEngine } from '../support/parity.js';

const token = 'applying-mark-token-51d0';

/**
 * A resync commits its id-map links in groups, so a crash while it writes can lose the last
 * group: it says so with a mark kept from before its first write until its last is committed,
 * which the next start of `run` finds. A dry run writes nothing and leaves no mark.
 */
describe('the mark a resync keeps while it writes', () => {
  let server: RunningScimServer;
  let realm: FakeRealm;
  let relay: ReturnType<typeof parityEngine>;

  beforeAll(async () => {
    server = await startScimServer({ token, testApi: true, profile: 'generic' });
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(async () => {
    readingIn.clear();
    await new ScimServerControl(server.origin).reset();
    realm = new FakeRealm({ pageSize: 2 });
    relay = parityEngine(
      realm,
      server.baseUrl,
      token,
      {
        usernameSource: 'username',
        groupNameSource: 'path',
        membershipMode: 'direct',
        userDeleteMode: 'delete',
      },
      createLogger({ level: 'silent', secrets: [token], destination: memoryDestination() }),
    );
  });
  afterEach(async () => {
    await relay.close();
  });

  /** Whether the resync's `whileReading` runs now, and what each phase saw of it. */
  let reading = false;
  const readingIn = new Map<ResyncPhase, boolean>();

  async function resyncRecordingTheMark(dryRun: boolean) {
    const ids = ['m-0', 'm-1', 'm-2', 'm-3', 'm-4'].map(
      (username) => realm.createUser({ username, enabled: true }).id,
    );
    const group = realm.createGroup(`team-${dryRun ? 'dry' : 'wet'}`).id;
    for (const id of ids.slice(0, 3)) realm.addMember(id, group);
    const marked = new Map<ResyncPhase, boolean>();
    const report = await resync(
      {
        keycloak: realm,
        scim: relay.scim,
        store: relay.store,
        reconciler: relay.engine.reconciler,
        whileReading: async (work) => {
          reading = true;
          try {
            return await work();
          } finally {
            reading = false;
          }
        },
      },
      {
        mapping: { usernameSource: 'username', groupNameSource: 'path' },
        userDeleteMode: 'delete',
        membershipMode: 'direct',
        scope: 'all',
        prune: false,
        guard: DEFAULT_DELETION_GUARD,
        confirmed: true,
        dryRun,
        concurrency: 2,
        onProgress: ({ phase }) => {
          const set = relay.store.checkpoint(FULL_RECONCILE_APPLYING_CHECKPOINT) !== undefined;
          marked.set(phase, (marked.get(phase) ?? false) || set);
          readingIn.set(phase, (readingIn.get(phase) ?? false) || reading);
        },
      },
    );
    expect(report.failures).toEqual([]);
    return { ids, marked, report };
  }

  it('is set through every phase that writes, and gone once every link is committed', async () => {
    const { ids, marked, report } = await resyncRecordingTheMark(false);
    expect(report.users.created).toBe(5);
    expect(Object.fromEntries(marked)).toEqual({
      read: false,
      groups: true,
      users: true,
      members: true,
    });
    expect(relay.store.checkpoint(FULL_RECONCILE_APPLYING_CHECKPOINT)).toBeUndefined();
    // V8 saves memory while both sides' listings are held, not while the plan is written.
    expect(Object.fromEntries(readingIn)).toEqual({
      read: true,
      groups: false,
      users: false,
      members: false,
    });
    // The links the groups committed are the ones the SCIM server holds.
    const scimIds = new Set<string>();
    for await (const user of relay.scim.listUsers()) scimIds.add(user.id);
    for (const id of ids) expect(scimIds.has(relay.store.user(id)?.scimId ?? '')).toBe(true);
  });

  it('is never set by a dry run', async () => {
    const { marked, report } = await resyncRecordingTheMark(true);
    expect(report.users.created).toBe(5);
    expect([...marked.values()]).not.toContain(true);
    expect(relay.store.checkpoint(FULL_RECONCILE_APPLYING_CHECKPOINT)).toBeUndefined();
    expect(relay.store.users()).toEqual([]);
  });
});
