import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ScimClient } from '../../src/scim/scim-client.js';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';
import { StateStore } from '../../src/state/state-store.js';
import { Freshness } from '../../src/sync/freshness.js';
import { GroupMemberWriter } from '../../src/sync/member-writer.js';

const token = 'member-writer-token-8c3f1a';

/**
 * The member writer against the project's SCIM server in its generic profile, which reads,
 * changes and writes a group without a lock: what a burst of wishes for one group costs.
 */
describe('writing the members of one group', () => {
  let server: RunningScimServer;
  let control: ScimServerControl;
  let scim: ScimClient;
  let store: StateStore;
  let writer: GroupMemberWriter;

  beforeAll(async () => {
    server = await startScimServer({ token, testApi: true, profile: 'generic' });
    control = new ScimServerControl(server.origin);
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(async () => {
    await control.reset();
    scim = new ScimClient({
      baseUrl: server.baseUrl,
      token,
      timeoutMs: 5_000,
      connectTimeoutMs: 2_000,
      maxConnections: 8,
      pageSize: 50,
      memberBatchSize: 50,
      retry: { maxAttempts: 3, minDelayMs: 5, maxDelayMs: 20, maxElapsedMs: 5_000 },
    });
    store = StateStore.open(':memory:');
    writer = new GroupMemberWriter(scim, store, new Freshness());
  });
  afterEach(async () => {
    await scim.close();
    await store.close();
  });

  const seed = async (members: number) => {
    const group = await scim.createGroup({ displayName: 'crew' });
    const users = [];
    for (let i = 0; i < members; i++) {
      users.push(await control.seedUser({ userName: `member-${i}`, tenantAccess: true }));
    }
    writer.created(group.id);
    await control.clearRequests();
    return { group, users };
  };
  const patches = async () =>
    (await control.requests()).filter((r) => r.method === 'PATCH' && r.scimPath !== null);

  it('sends the wishes of one burst in one PATCH, though they arrive a few promises apart', async () => {
    const { group, users } = await seed(30);
    // As a full reconcile makes them: each after its user's lock, a few microtasks apart.
    const done = users.map(async (user, i) => {
      for (let hop = 0; hop < i % 4; hop++) await Promise.resolve();
      await writer.set(group.id, user.id, true, 'test');
    });
    await Promise.all(done);

    expect(await patches()).toHaveLength(1);
    const held = (await control.state()).groups.find((g) => g.id === group.id);
    expect(new Set(held?.members)).toEqual(new Set(users.map((u) => u.id)));
  });

  it('coalesces what arrives during a PATCH into the next one, and keeps the latest wish', async () => {
    const { group, users } = await seed(6);
    const [first, ...rest] = users;
    if (first === undefined) throw new Error('no user seeded');
    const opening = writer.set(group.id, first.id, true, 'test');
    // Let the first PATCH leave; everything below waits for it, then goes in one more.
    await new Promise((resolve) => setImmediate(resolve));
    const later = rest.map((user) => writer.set(group.id, user.id, true, 'test'));
    const changedMind = writer.set(group.id, first.id, false, 'test');
    await Promise.all([opening, ...later, changedMind]);

    expect(await patches()).toHaveLength(2);
    const held = (await control.state()).groups.find((g) => g.id === group.id);
    expect(new Set(held?.members)).toEqual(new Set(rest.map((u) => u.id)));
  });
});
