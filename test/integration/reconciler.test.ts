import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Hint } from '../../src/domain/hint.js';
import { createLogger, memoryDestination, type MemoryDestination } from '../../src/logger.js';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';
import type { RequestLogEntry } from '../../packages/scim-server/src/test-api-schema.js';
import { FakeRealm, type Emitted } from '../support/fake-keycloak.js';
import {
  dryRun,
  hintsOf,
  parityEngine,
  plannedWrites,
  type ParityConfig,
} from '../support/parity.js';

/**
 * The event path against the project's SCIM server in both profiles: Kestra's, and a plain
 * RFC 7644 server that locks nothing, compares userName case-sensitively in filters, clears
 * what a PUT omits, sends ETags and refuses externalId filters. Keycloak is a fake of the
 * reader interface; the real one is in the e2e suites.
 */
const token = 'reconciler-test-token-0a7c3e';
const config: ParityConfig = {
  usernameSource: 'username',
  groupNameSource: 'path',
  membershipMode: 'direct',
  userDeleteMode: 'delete',
};

describe.each(['kestra', 'generic'] as const)('the event path on the %s profile', (profile) => {
  let server: RunningScimServer;
  let control: ScimServerControl;
  let realm: FakeRealm;
  let log: MemoryDestination;
  let relay: ReturnType<typeof parityEngine>;

  beforeAll(async () => {
    server = await startScimServer({
      token,
      testApi: true,
      profile,
      ...(profile === 'generic' ? { patchDelayMs: 20 } : {}),
    });
    control = new ScimServerControl(server.origin);
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(async () => {
    await control.reset();
    realm = new FakeRealm();
    log = memoryDestination();
    relay = parityEngine(
      realm,
      server.baseUrl,
      token,
      config,
      createLogger({ level: 'info', secrets: [token], destination: log }),
    );
  });
  afterEach(async () => {
    await relay.close();
  });

  /** Delivers the hints of what Keycloak recorded, all at once, and waits until applied. */
  const deliver = async (...changes: Emitted[]): Promise<void> => {
    const hints: Hint[] = changes.flatMap((change) => hintsOf(change.events));
    await Promise.all(hints.map((hint) => relay.engine.submit(hint)));
    await relay.engine.queue.idle();
  };
  const writes = async (): Promise<RequestLogEntry[]> =>
    (await control.requests()).filter((r) => r.method !== 'GET');
  const userNamed = async (userName: string) =>
    (await control.state()).users.find((u) => u.userName === userName && u.tenantAccess);

  it('updates a user with a PATCH of what the relay owns, keeping what other systems set', async () => {
    const created = realm.createUser({ username: 'ada', email: 'ada@example.test', enabled: true });
    await deliver(created);
    const twin = await userNamed('ada');
    if (twin === undefined) throw new Error('ada was not provisioned');
    await control.clearRequests();
    const renamed = realm.updateUser(created.id, { firstName: 'Ada', lastName: 'Lovelace' });
    await deliver(renamed);

    const sent = await writes();
    expect(sent.map((r) => `${r.method} ${r.scimPath ?? ''}`)).toEqual([`PATCH /Users/${twin.id}`]);
    const body = sent[0]?.body as { Operations: { op: string; path: string }[] };
    expect(body.Operations.map((o) => `${o.op} ${o.path}`)).toEqual([
      'replace name.givenName',
      'replace name.familyName',
    ]);
    expect(await userNamed('ada')).toMatchObject({ givenName: 'Ada', familyName: 'Lovelace' });
  });

  it('adopts a user whose userName differs only in case, even where eq is case-sensitive', async () => {
    const seeded = await control.seedUser({ userName: 'Grace', tenantAccess: true });
    const created = realm.createUser({ username: 'grace', enabled: true });
    await deliver(created);
    const state = await control.state();
    const graces = state.users.filter((u) => u.userName.toLowerCase() === 'grace');
    expect(graces).toEqual([
      expect.objectContaining({ id: seeded.id, externalId: created.id, userName: 'grace' }),
    ]);
  });

  it('never takes over a resource a filter returned for another name', async () => {
    const stranger = await control.seedUser({ userName: 'stranger', tenantAccess: true });
    // A server that ignores the filter answers every lookup with everything it has.
    await control.injectFaults({
      method: 'GET',
      pathPrefix: '/Users',
      count: 5,
      status: 200,
      body: {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
        totalResults: 1,
        Resources: [{ id: stranger.id, userName: 'stranger' }],
      },
    });
    const created = realm.createUser({ username: 'newcomer', enabled: true });
    await deliver(created);
    const state = await control.state();
    expect(state.users.find((u) => u.id === stranger.id)).toMatchObject({ userName: 'stranger' });
    expect(state.users.find((u) => u.userName === 'newcomer')?.externalId).toBe(created.id);
  });

  it('sends twelve concurrent adds to one group as coalesced PATCHes, never two at once, and all arrive', async () => {
    const group = realm.createGroup('crowd');
    const users = Array.from({ length: 12 }, (_, i) =>
      realm.createUser({ username: `member-${i}`, enabled: true }),
    );
    await deliver(group, ...users);
    await control.clearRequests();
    await deliver(...users.map((u) => realm.addMember(u.id, group.id)));

    const scimGroup = (await control.state()).groups.find((g) => g.displayName === '/crowd');
    expect(scimGroup?.members).toHaveLength(12);
    const patches = (await writes()).filter((r) => r.scimPath === `/Groups/${scimGroup?.id}`);
    expect(patches.length).toBeLessThan(12);
    // One group, one PATCH in flight: no two PATCH requests to it overlap in time.
    const spans = patches
      .map((p) => ({ start: Date.parse(p.time), end: Date.parse(p.time) + p.durationMs }))
      .sort((a, b) => a.start - b.start);
    for (let i = 1; i < spans.length; i++) {
      expect(spans[i]?.start).toBeGreaterThanOrEqual(Math.floor(spans[i - 1]?.end ?? 0) - 1);
    }
  });

  it('sends nothing for memberships SCIM already holds', async () => {
    const group = realm.createGroup('steady');
    const user = realm.createUser({ username: 'steady-user', enabled: true });
    const joined = realm.addMember(user.id, group.id);
    await deliver(group, user, joined);
    await control.clearRequests();
    // Redelivered, as a poll re-reading its overlap window after a restart does.
    await deliver(joined, joined, user, group);
    expect(await writes()).toEqual([]);
  });

  it('does not lose a group deleted and re-created under its name while the DELETE is slow', async () => {
    const old = realm.createGroup('x');
    await deliver(old);
    await control.injectFaults({ method: 'DELETE', latencyMs: 1_500, count: 1 });
    const deleted = realm.deleteGroup(old.id);
    const again = realm.createGroup('x');
    await deliver(deleted, again);
    const groups = (await control.state()).groups.filter((g) => g.displayName === '/x');
    expect(groups).toEqual([expect.objectContaining({ externalId: again.id })]);
    expect(plannedWrites(await dryRun({ keycloak: realm, ...relay }, config))).toEqual([]);
  });

  it('does not lose a user deleted and re-created under its name while the DELETE is slow', async () => {
    const old = realm.createUser({ username: 'phoenix', enabled: true });
    await deliver(old);
    await control.injectFaults({ method: 'DELETE', latencyMs: 1_500, count: 1 });
    const deleted = realm.deleteUser(old.id);
    const again = realm.createUser({ username: 'phoenix', enabled: true });
    await deliver(deleted, again);
    expect((await userNamed('phoenix'))?.externalId).toBe(again.id);
    expect(plannedWrites(await dryRun({ keycloak: realm, ...relay }, config))).toEqual([]);
  });

  it('re-reads before a DELETE and leaves alone what another entity took over meanwhile', async () => {
    const old = realm.createGroup('contested');
    await deliver(old);
    const scimId = relay.store.group(old.id)?.scimId ?? '';
    // The resource changes hands behind the relay's back (a person re-linked it in the target).
    const deleted = realm.deleteGroup(old.id);
    const heir = realm.createGroup('heir');
    relay.store.putGroup({
      keycloakId: heir.id,
      scimId,
      displayName: '/contested',
      parentId: undefined,
    });
    relay.store.putGroup({
      keycloakId: old.id,
      scimId: 'not-the-resource',
      displayName: '/contested',
      parentId: undefined,
    });
    await control.clearRequests();
    await deliver(deleted);
    expect((await writes()).filter((r) => r.method === 'DELETE')).toEqual([]);
    expect((await control.state()).groups.map((g) => g.id)).toContain(scimId);
  });

  it('lets a full reconcile apply what it planned from its listing, without reading each entity again', async () => {
    const group = realm.createGroup('listed');
    const kept = realm.createUser({ username: 'kept-user', enabled: true });
    const gone = realm.createUser({ username: 'gone-user', enabled: true });
    await deliver(group, kept, gone, realm.addMember(kept.id, group.id));
    // Changes no event announces to the relay: only the full reconcile sees them.
    realm.updateUser(kept.id, { firstName: 'Kept' });
    realm.deleteUser(gone.id);
    const fresh = realm.createUser({ username: 'fresh-user', enabled: true, groups: ['/listed'] });
    const goneScimId = relay.store.user(gone.id)?.scimId ?? 'unknown';
    await control.clearRequests();

    const report = await relay.engine.reconcileAll();
    expect(report.failures).toEqual([]);
    const requests = await control.requests();
    // Listings only, and the one read the rules ask for: of the user about to be deleted. A
    // decision made afresh would read each entity again.
    const single = requests.filter(
      (r) => r.method === 'GET' && /^\/(Users|Groups)\/./.test(r.scimPath ?? ''),
    );
    expect(single.map((r) => r.scimPath)).toEqual([`/Users/${goneScimId}`]);
    const state = await control.state();
    expect(state.users.find((u) => u.externalId === kept.id)?.givenName).toBe('Kept');
    expect(state.users.find((u) => u.externalId === gone.id && u.tenantAccess)).toBeUndefined();
    const listed = state.groups.find((g) => g.displayName === '/listed');
    const freshScimId = state.users.find((u) => u.externalId === fresh.id)?.id;
    expect(listed?.members.sort()).toEqual([relay.store.user(kept.id)?.scimId, freshScimId].sort());
  });

  it('gives a group refused a taken name its name as soon as the holder gives it up', async () => {
    const byName: ParityConfig = { ...config, groupNameSource: 'name' };
    await relay.close();
    relay = parityEngine(
      realm,
      server.baseUrl,
      token,
      byName,
      createLogger({ level: 'info', secrets: [token], destination: log }),
    );
    const ops = realm.createGroup('ops');
    const child = realm.createChildGroup(ops.id, 'dev');
    await deliver(ops, child);
    const top = realm.createGroup('dev');
    await deliver(top); // Refused: /ops/dev holds "dev"; parked with the reason.
    expect(relay.store.parked().map((p) => p.key)).toContain(`group:${top.id}`);
    await deliver(realm.deleteGroup(child.id));
    const dev = (await control.state()).groups.find((g) => g.displayName === 'dev');
    expect(dev?.externalId).toBe(top.id);
    expect(relay.store.parkedCount()).toBe(0);
    expect(plannedWrites(await dryRun({ keycloak: realm, ...relay }, byName))).toEqual([]);
  });

  it('does not let one member it cannot provision keep the others from a moved group’s ancestors', async () => {
    const inherited: ParityConfig = {
      ...config,
      usernameSource: 'email',
      membershipMode: 'inherited',
    };
    await relay.close();
    relay = parityEngine(
      realm,
      server.baseUrl,
      token,
      inherited,
      createLogger({ level: 'info', secrets: [token], destination: log }),
    );
    const a = realm.createGroup('a');
    const b = realm.createChildGroup(a.id, 'b');
    const c = realm.createGroup('c');
    const noEmail = realm.createUser({ username: 'aaa-no-email', enabled: true });
    const mailed = realm.createUser({
      username: 'zzz-mailed',
      email: 'm@example.test',
      enabled: true,
    });
    await deliver(a, b, c, noEmail, mailed, realm.addMember(noEmail.id, b.id));
    await deliver(realm.addMember(mailed.id, b.id));
    await deliver(realm.moveGroup(b.id, c.id));
    const groups = (await control.state()).groups;
    const memberCount = (name: string) =>
      groups.find((g) => g.displayName === name)?.members.length;
    expect([memberCount('/a'), memberCount('/c'), memberCount('/c/b')]).toEqual([0, 1, 1]);
    expect(plannedWrites(await dryRun({ keycloak: realm, ...relay }, inherited))).toEqual([]);
  });

  it('logs every SCIM write at info with the entity, the change and why', async () => {
    const group = realm.createGroup('audited');
    const user = realm.createUser({ username: 'audited-user', enabled: true });
    await deliver(group, user, realm.addMember(user.id, group.id));
    await deliver(realm.updateUser(user.id, { firstName: 'Aud' }));
    await deliver(realm.deleteUser(user.id));
    const infos = log
      .records()
      .filter((r) => r['level'] === 'info')
      .map((r) => String(r['msg']));
    expect(infos).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^created SCIM group \/audited \(event: group /),
        expect.stringMatching(/^created SCIM user audited-user \(event: user /),
        expect.stringMatching(/^SCIM group \/audited: added 1 member\(s\), removed 0 \(event: /),
        expect.stringMatching(/^updated SCIM user audited-user \(name\.givenName\) \(event: user /),
        expect.stringMatching(/^deleted SCIM user audited-user \(gone from Keycloak; event: user /),
      ]),
    );
  });

  if (profile === 'generic') {
    it('sends If-Match with the ETag it read right before a DELETE', async () => {
      const user = realm.createUser({ username: 'tagged', enabled: true });
      await deliver(user);
      await control.clearRequests();
      await deliver(realm.deleteUser(user.id));
      const [deletion] = (await writes()).filter((r) => r.method === 'DELETE');
      expect(deletion?.ifMatch).toMatch(/^W\/"\d+"$/);
      expect(deletion?.status).toBe(204);
    });

    it('keeps the attributes another system set on a user it updates', async () => {
      const seeded = await control.seedUser({
        userName: 'kept',
        extra: { title: 'CTO', phoneNumbers: [{ value: '+1 555 0100', type: 'work' }] },
      });
      const created = realm.createUser({ username: 'kept', enabled: true });
      await deliver(created, realm.updateUser(created.id, { lastName: 'Kept' }));
      const user = (await control.state()).users.find((u) => u.id === seeded.id);
      expect(user).toMatchObject({ externalId: created.id, familyName: 'Kept' });
      expect(user?.extra).toEqual({
        title: 'CTO',
        phoneNumbers: [{ value: '+1 555 0100', type: 'work' }],
      });
      expect((await control.requests()).some((r) => r.method === 'PUT')).toBe(false);
    });
  }
});
