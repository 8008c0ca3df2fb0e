import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ScimError, TransientError } from '../../src/errors.js';
import { ScimClient, type ScimClientOptions } from '../../src/scim/scim-client.js';
import { ScimServerControl } from '../../src/scim-server/control-client.js';
import { startScimServer, type RunningScimServer } from '../../src/scim-server/server.js';

const token = 'scim-client-test-token-8f2a9c1e7d4b';
let server: RunningScimServer;
let control: ScimServerControl;
const clients: ScimClient[] = [];

function client(overrides: Partial<ScimClientOptions> = {}, onRetry?: (n: string) => void) {
  const created = new ScimClient(
    {
      baseUrl: server.baseUrl,
      token,
      timeoutMs: 2_000,
      connectTimeoutMs: 1_000,
      maxConnections: 4,
      pageSize: 7,
      memberBatchSize: 2,
      retry: { maxAttempts: 4, minDelayMs: 20, maxDelayMs: 100, maxElapsedMs: 10_000 },
      ...overrides,
    },
    onRetry === undefined ? {} : { onRetry },
  );
  clients.push(created);
  return created;
}

beforeAll(async () => {
  server = await startScimServer({ token, testApi: true, maxPageSize: 5 });
  control = new ScimServerControl(server.origin);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server.close();
});
beforeEach(async () => {
  await control.reset();
});

const user = (userName: string) => ({ userName, externalId: `kc-${userName}`, active: true });

describe('ScimClient against the Kestra-compatible server', () => {
  it('creates, reads, replaces, patches and deletes a user', async () => {
    const scim = client();
    const { resource, adopted } = await scim.createUser({
      ...user('alice'),
      name: { givenName: 'Alice', familyName: 'Liddell' },
      emails: [{ value: 'alice@example.org', primary: true }],
    });
    expect(adopted).toBe(false);
    expect((await scim.getUser(resource.id))?.userName).toBe('alice');

    await scim.replaceUser(resource.id, { ...user('alice'), active: false });
    expect((await scim.getUser(resource.id))?.active).toBe(false);

    await scim.patchUser(resource.id, [{ op: 'replace', path: 'active', value: true }]);
    expect((await scim.getUser(resource.id))?.active).toBe(true);

    expect(await scim.deleteUser(resource.id)).toBe(true);
    expect(await scim.getUser(resource.id)).toBeUndefined();
    expect(await scim.deleteUser(resource.id)).toBe(false);
  });

  it('walks every page of a listing, past the server’s own page cap', async () => {
    const scim = client();
    const names = Array.from({ length: 23 }, (_, i) => `user-${String(i).padStart(2, '0')}`);
    for (const name of names) await scim.createUser(user(name));
    const listed: string[] = [];
    for await (const u of scim.listUsers()) listed.push(u.userName);
    expect(listed.sort()).toEqual(names);
    // 23 users, at most 5 a page: five GETs, not one more.
    const gets = (await control.requests()).filter((r) => r.method === 'GET');
    expect(gets).toHaveLength(5);
  });

  it('finds by userName (case-insensitively), externalId and displayName with awkward values', async () => {
    const scim = client();
    const awkward = 'o"brien\\ops@example.org';
    const created = await scim.createUser(user(awkward));
    expect((await scim.findUserByUserName(awkward.toUpperCase()))?.id).toBe(created.resource.id);
    expect((await scim.findUserByExternalId(`kc-${awkward}`))?.id).toBe(created.resource.id);
    expect(await scim.findUserByExternalId(`KC-${awkward}`)).toBeUndefined();

    const group = await scim.createGroup({ displayName: '/R&D "core"/a+b', externalId: 'g-1' });
    expect((await scim.findGroupByDisplayName('/R&D "core"/a+b'))?.id).toBe(group.resource.id);
    expect((await scim.findGroupByExternalId('g-1'))?.id).toBe(group.resource.id);
  });

  it('adds and removes members in bounded batches', async () => {
    const scim = client();
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c', 'd', 'e'])
      ids.push((await scim.createUser(user(name))).resource.id);
    const group = (await scim.createGroup({ displayName: 'team' })).resource;
    await control.clearRequests();

    await scim.addMembers(group.id, ids);
    const patches = (await control.requests()).filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(3);
    expect(patches.every((p) => p.status === 204)).toBe(true);
    let members = (await scim.getGroup(group.id))?.members?.map((m) => m.value);
    expect(members?.sort()).toEqual([...ids].sort());

    await scim.removeMembers(group.id, [ids[0] ?? '', ids[1] ?? '']);
    members = (await scim.getGroup(group.id))?.members?.map((m) => m.value);
    expect(members?.sort()).toEqual(ids.slice(2).sort());
  });

  it('reads the service provider’s capabilities', async () => {
    const summary = await client().serviceProviderConfig();
    expect(summary).toMatchObject({
      patch: true,
      bulk: false,
      changePassword: false,
      filter: true,
    });
  });
});

describe('ScimClient failure handling', () => {
  it('honours Retry-After on a 429, then succeeds', async () => {
    const waits: number[] = [];
    const scim = client({}, () => waits.push(Date.now()));
    await control.injectFaults({ status: 429, retryAfter: 1, count: 1, pathPrefix: '/Users' });
    const started = Date.now();
    await scim.createUser(user('patient'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    const log = await control.requests();
    expect(log.map((r) => r.status)).toEqual([429, 201]);
    expect(waits).toHaveLength(1);
  });

  it('honours an HTTP-date Retry-After on a 503', async () => {
    const scim = client();
    await control.injectFaults({
      status: 503,
      retryAfter: new Date(Date.now() + 1_000).toUTCString(),
      pathPrefix: '/Groups',
    });
    await scim.createGroup({ displayName: 'later' });
    expect((await control.requests()).map((r) => r.status)).toEqual([503, 201]);
  });

  it('retries 503s with backoff and gives up after maxAttempts, still transient', async () => {
    const retried: string[] = [];
    const scim = client({}, (op) => retried.push(op));
    await control.injectFaults({ status: 503, count: 10 });
    const error: unknown = await scim.getUser('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScimError);
    expect((error as ScimError).status).toBe(503);
    expect((error as ScimError).retryable).toBe(true);
    expect(retried).toHaveLength(3);
    expect(await control.requests()).toHaveLength(4);
  });

  it('survives a connection reset', async () => {
    const scim = client();
    await control.injectFaults({ drop: true, count: 1 });
    const created = await scim.createGroup({ displayName: 'after-reset' });
    expect(created.adopted).toBe(false);
    expect((await control.state()).groups).toHaveLength(1);
  });

  it('times out a response slower than the timeout, and retries', async () => {
    const scim = client({ timeoutMs: 300 });
    await control.injectFaults({ latencyMs: 1_500, count: 1, method: 'GET' });
    const u = await scim.createUser(user('slowpoke'));
    expect((await scim.getUser(u.resource.id))?.userName).toBe('slowpoke');
    const gets = (await control.requests()).filter((r) => r.method === 'GET');
    expect(gets.length).toBe(2);
  });

  it('reports a timeout as transient when every attempt is slow', async () => {
    const scim = client({
      timeoutMs: 200,
      retry: { maxAttempts: 2, minDelayMs: 10, maxDelayMs: 10, maxElapsedMs: 5_000 },
    });
    await control.injectFaults({ latencyMs: 1_000, count: 2 });
    const error: unknown = await scim.getUser('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toMatch(/timed out/);
  });

  it('does not retry a wrong token, and never shows the token', async () => {
    const scim = client({ token: 'wrong-token-value-1234' });
    const error: unknown = await scim.getUser('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScimError);
    expect((error as ScimError).status).toBe(401);
    expect((error as ScimError).retryable).toBe(false);
    expect((error as Error).message).not.toContain('wrong-token-value-1234');
    expect(await control.requests()).toHaveLength(1);
  });

  it('does not retry against a disabled integration, and says so', async () => {
    await control.setEnabled(false);
    const error: unknown = await client()
      .createUser(user('nobody'))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScimError);
    expect((error as ScimError).status).toBe(403);
    expect((error as ScimError).detail).toMatch(/disabled/i);
    expect(await control.requests()).toHaveLength(1);
  });

  it('adopts the existing resource after a 409 instead of failing or duplicating', async () => {
    const scim = client();
    const first = await scim.createUser(user('dup'));
    const second = await scim.createUser(user('DUP'));
    expect(second.adopted).toBe(true);
    expect(second.resource.id).toBe(first.resource.id);
    const group1 = await scim.createGroup({ displayName: 'ops' });
    const group2 = await scim.createGroup({ displayName: 'ops' });
    expect(group2).toEqual({
      resource: expect.objectContaining({ id: group1.resource.id }) as unknown,
      adopted: true,
    });
  });

  it('does not repeat a POST blindly when its answer was lost after the server applied it', async () => {
    const scim = client();
    await control.injectFaults({ drop: true, phase: 'after', method: 'POST', count: 1 });
    const created = await scim.createUser(user('lost-answer'));
    expect(created.adopted).toBe(true);
    const state = await control.state();
    expect(state.users.filter((u) => u.userName === 'lost-answer')).toHaveLength(1);
    const posts = (await control.requests()).filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(1);
  });
});
