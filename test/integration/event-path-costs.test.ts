import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Hint } from '../../src/domain/hint.js';
import { createLogger, memoryDestination } from '../../src/logger.js';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';
import type { RequestLogEntry } from '../../packages/scim-server/src/test-api-schema.js';
import type { KeycloakRealmReader } from '../../src/sync/keycloak-reader.js';
import { FakeRealm, type Emitted } from '../support/fake-keycloak.js';
import { hintsOf, parityEngine, type ParityConfig } from '../support/parity.js';

/**
 * What one event costs on each side, in requests, on the event path: the figures `npm run
 * bench` reports, pinned here where they are not noisy. Cheaper must never mean that a
 * resource is taken over without its owner judged, so the cases where a name is held are here
 * too.
 */
const token = 'event-path-costs-token-5d1e9b';
const config: ParityConfig = {
  usernameSource: 'username',
  groupNameSource: 'path',
  membershipMode: 'direct',
  userDeleteMode: 'delete',
};

/** The fake realm, counting the reads a reconcile makes of it, by method. */
function counted(realm: FakeRealm): { reader: KeycloakRealmReader; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  const count = (name: string): void => {
    reads.set(name, (reads.get(name) ?? 0) + 1);
  };
  const reader: KeycloakRealmReader = {
    user: (id) => (count('user'), realm.user(id)),
    group: (id) => (count('group'), realm.group(id)),
    groupRef: (id) => (count('group'), realm.groupRef(id)),
    userGroups: (id) => (count('userGroups'), realm.userGroups(id)),
    descendants: (id) => (count('descendants'), realm.descendants(id)),
    groupMemberIds: (id) => (count('groupMemberIds'), realm.groupMemberIds(id)),
    users: (from) => (count('users'), realm.users(from)),
    groups: () => (count('groups'), realm.groups()),
  };
  return { reader, reads };
}

describe('what an event costs on the Kestra profile', () => {
  let server: RunningScimServer;
  let control: ScimServerControl;
  let realm: FakeRealm;
  let reads: Map<string, number>;
  let relay: ReturnType<typeof parityEngine>;

  beforeAll(async () => {
    server = await startScimServer({ token, testApi: true, profile: 'kestra' });
    control = new ScimServerControl(server.origin);
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(async () => {
    await control.reset();
    realm = new FakeRealm();
    const wrapped = counted(realm);
    reads = wrapped.reads;
    relay = parityEngine(
      wrapped.reader,
      server.baseUrl,
      token,
      config,
      createLogger({ level: 'info', secrets: [token], destination: memoryDestination() }),
    );
  });
  afterEach(async () => {
    await relay.close();
  });

  const deliver = async (...changes: Emitted[]): Promise<void> => {
    const hints: Hint[] = changes.flatMap((change) => hintsOf(change.events));
    await Promise.all(hints.map((hint) => relay.engine.submit(hint)));
    await relay.engine.queue.idle();
  };
  const scimRequests = async (): Promise<RequestLogEntry[]> =>
    (await control.requests()).filter((r) => r.scimPath !== null);
  const describeRequest = (r: RequestLogEntry): string =>
    `${r.method} ${r.scimPath ?? ''}${r.query.filter === undefined ? '' : ` ${r.query.filter}`}`;
  const startCounting = async (): Promise<void> => {
    await control.clearRequests();
    reads.clear();
  };

  it('creates a new user with one POST after the externalId lookup, its name looked up by no one', async () => {
    const created = realm.createUser({ username: 'lin', enabled: true });
    await startCounting();
    await deliver(created);

    expect((await scimRequests()).map(describeRequest)).toEqual([
      `GET /Users externalId eq "${created.id}"`,
      'POST /Users',
    ]);
    // The user and its groups (default groups emit no event), read side by side.
    expect(Object.fromEntries(reads)).toEqual({ user: 1, userGroups: 1 });
  });

  it('adopts a resource nobody owns that holds the name, once the POST says the name is taken', async () => {
    const seeded = await control.seedUser({ userName: 'mae', tenantAccess: true });
    const created = realm.createUser({ username: 'mae', enabled: true });
    await startCounting();
    await deliver(created);

    const requests = (await scimRequests()).map(describeRequest);
    expect(requests.slice(0, 2)).toEqual([
      `GET /Users externalId eq "${created.id}"`,
      'POST /Users',
    ]);
    expect(requests).toContain('GET /Users userName eq "mae"');
    const maes = (await control.state()).users.filter((u) => u.userName === 'mae');
    expect(maes).toEqual([expect.objectContaining({ id: seeded.id, externalId: created.id })]);
  });

  it('never takes over a resource that carries a live user’s externalId, though its POST was refused first', async () => {
    const ann = realm.createUser({ username: 'ann', enabled: true });
    await deliver(ann);
    // A stray second resource of ann's, under the name bea wants: ann's, not bea's to take.
    const stray = await control.seedUser({
      userName: 'bea',
      tenantAccess: true,
      externalId: ann.id,
    });
    const bea = realm.createUser({ username: 'bea', enabled: true });
    await deliver(bea);

    const beas = (await control.state()).users.filter((u) => u.userName === 'bea');
    expect(beas).toEqual([expect.objectContaining({ id: stray.id, externalId: ann.id })]);
    expect(relay.store.user(bea.id)).toBeUndefined();
    expect(relay.store.parked().map((p) => p.key)).toContain(`user:${bea.id}`);
  });

  it('adds a provisioned user to a provisioned group reading its groups and its twin, with one PATCH', async () => {
    const group = realm.createGroup('crew');
    const user = realm.createUser({ username: 'kit', enabled: true });
    await deliver(group, user);
    const joined = realm.addMember(user.id, group.id);
    await startCounting();
    await deliver(joined);

    // The id map and the twin prove the user provisioned: its own events reconcile the rest.
    expect(Object.fromEntries(reads)).toEqual({ userGroups: 1 });
    const scimGroup = (await control.state()).groups.find((g) => g.displayName === '/crew');
    const twin = relay.store.user(user.id)?.scimId;
    expect((await scimRequests()).map(describeRequest)).toEqual([
      `GET /Users/${twin}`,
      `PATCH /Groups/${scimGroup?.id}`,
    ]);
    expect(scimGroup?.members).toEqual([relay.store.user(user.id)?.scimId]);
  });

  it('removes a member whose user Keycloak deleted meanwhile, and leaves the user to its own event', async () => {
    const group = realm.createGroup('crowd');
    const user = realm.createUser({ username: 'ned', enabled: true });
    const joined = realm.addMember(user.id, group.id);
    await deliver(group, user, joined);
    const left = realm.removeMember(user.id, group.id);
    realm.deleteUser(user.id);
    await deliver(left);

    const scimGroup = (await control.state()).groups.find((g) => g.displayName === '/crowd');
    expect(scimGroup?.members).toEqual([]);
  });

  it('still reads a group the user has left, and writes nothing when Keycloak no longer has it', async () => {
    const group = realm.createGroup('gone');
    const user = realm.createUser({ username: 'lou', enabled: true });
    const joined = realm.addMember(user.id, group.id);
    await deliver(group, user, joined);
    realm.deleteGroup(group.id);
    await startCounting();
    // Only the membership's own event: the group's deletion is its own reconcile's business.
    await deliver({ events: joined.events });

    expect(reads.get('group')).toBe(1);
    expect((await scimRequests()).filter((r) => r.method !== 'GET')).toEqual([]);
  });
});
