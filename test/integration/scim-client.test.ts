import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ScimError, TransientError } from '../../src/errors.js';
import { ScimClient, type ScimClientOptions } from '../../src/scim/scim-client.js';
import { ScimHttp } from '../../src/scim/scim-http.js';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';

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

/** The process warnings Node emits while `work` runs, e.g. `MaxListenersExceededWarning`. */
async function collectWarnings(work: () => Promise<void>): Promise<Error[]> {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => {
    warnings.push(warning);
  };
  process.on('warning', onWarning);
  try {
    await work();
    // Node emits its warnings on a later tick.
    await new Promise((resolve) => setImmediate(resolve));
    return warnings;
  } finally {
    process.off('warning', onWarning);
  }
}

const user = (userName: string) => ({ userName, externalId: `kc-${userName}`, active: true });

describe('ScimClient against the Kestra-compatible server', () => {
  it('creates, reads, patches and deletes a user, and never sends a PUT', async () => {
    const scim = client();
    const created = await scim.createUser({
      ...user('alice'),
      name: { givenName: 'Alice', familyName: 'Liddell' },
      emails: [{ value: 'alice@example.org', primary: true }],
    });
    expect((await scim.getUser(created.id))?.userName).toBe('alice');

    await scim.patchUser(created.id, [{ op: 'replace', path: 'active', value: false }]);
    expect((await scim.getUser(created.id))?.active).toBe(false);

    expect(await scim.deleteUser(created.id)).toBe(true);
    expect(await scim.getUser(created.id)).toBeUndefined();
    expect(await scim.deleteUser(created.id)).toBe(false);
    expect((await control.requests()).some((r) => r.method === 'PUT')).toBe(false);
  });

  it('walks every page of a listing, past the server’s own page cap', async () => {
    const scim = client();
    const names = Array.from({ length: 23 }, (_, i) => `user-${String(i).padStart(2, '0')}`);
    for (const name of names) await scim.createUser(user(name));
    await control.clearRequests();
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
    expect((await scim.findUserByUserName(awkward.toUpperCase()))?.id).toBe(created.id);
    expect((await scim.findUserByExternalId(`kc-${awkward}`))?.id).toBe(created.id);
    expect(await scim.findUserByExternalId(`KC-${awkward}`)).toBeUndefined();

    const group = await scim.createGroup({ displayName: '/R&D "core"/a+b', externalId: 'g-1' });
    expect((await scim.findGroupByDisplayName('/R&D "core"/a+b'))?.id).toBe(group.id);
    expect((await scim.findGroupByExternalId('g-1'))?.id).toBe(group.id);
  });

  it('checks filter hits itself: a server that ignores the filter cannot hand it a stranger', async () => {
    const scim = client();
    const stranger = await scim.createUser(user('stranger'));
    // A server that ignores filters answers every lookup with everything it has.
    const everything = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
      totalResults: 1,
      itemsPerPage: 1,
      startIndex: 1,
      Resources: [{ id: stranger.id, userName: 'stranger', externalId: 'kc-stranger' }],
    };
    await control.injectFaults({ status: 200, body: everything, method: 'GET', count: 2 });
    expect(await scim.findUserByUserName('alice')).toBeUndefined();
    expect(await scim.findUserByExternalId('kc-alice')).toBeUndefined();
  });

  it('patches members with adds and filtered removes in one request', async () => {
    const scim = client();
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) ids.push((await scim.createUser(user(name))).id);
    const group = await scim.createGroup({ displayName: 'team' });
    await scim.patchMembers(group.id, ids, []);
    await control.clearRequests();
    await scim.patchMembers(group.id, [], [ids[0] ?? '', ids[1] ?? '']);
    const patches = (await control.requests()).filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(1);
    const members = (await scim.getGroup(group.id))?.members?.map((m) => m.value);
    expect(members).toEqual([ids[2]]);
  });

  it('reads the service provider’s capabilities', async () => {
    const scim = client();
    const summary = await scim.serviceProviderConfig();
    expect(summary).toMatchObject({
      patch: true,
      bulk: false,
      changePassword: false,
      filter: true,
      etag: false,
    });
    expect(await scim.etagsSupported()).toBe(false);
  });

  it('reports a taken name as a 409 for the caller to judge, never adopting on its own', async () => {
    const scim = client();
    await scim.createUser(user('dup'));
    const error: unknown = await scim.createUser(user('DUP')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScimError);
    expect((error as ScimError).status).toBe(409);
    expect((await control.state()).users).toHaveLength(1);
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
    expect((await control.state()).groups.map((g) => g.id)).toEqual([created.id]);
  });

  it('times out a response slower than the timeout, and retries', async () => {
    const scim = client({ timeoutMs: 300 });
    await control.injectFaults({ latencyMs: 1_500, count: 1, method: 'GET' });
    const u = await scim.createUser(user('slowpoke'));
    expect((await scim.getUser(u.id))?.userName).toBe('slowpoke');
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

  it('ends every exchange in flight at once on abort(), however many, and warns of no leak', async () => {
    const scim = client();
    await control.injectFaults({ latencyMs: 10_000, count: 16, method: 'GET' });
    const warnings = await collectWarnings(async () => {
      const reads = Array.from({ length: 16 }, (_, i) =>
        scim.getUser(`slow-${i}`).then(
          () => undefined,
          (error: unknown) => error,
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      const abortedAt = Date.now();
      scim.abort();
      const outcomes = await Promise.all(reads);
      expect(Date.now() - abortedAt).toBeLessThan(2_000);
      for (const outcome of outcomes) {
        expect((outcome as Error | undefined)?.message).toBe('the relay is stopping');
      }
    });
    expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
  });

  it('leaves no listener on its cancel signal once its exchanges end', async () => {
    const cancel = new AbortController();
    const http = new ScimHttp(
      {
        baseUrl: server.baseUrl,
        token,
        timeoutMs: 2_000,
        connectTimeoutMs: 1_000,
        maxConnections: 4,
      },
      undefined,
      cancel.signal,
    );
    try {
      await control.injectFaults({ latencyMs: 200, count: 24, method: 'GET' });
      const reads = Array.from({ length: 24 }, (_, i) =>
        http
          .send({ method: 'GET', path: `/Users/gone-${i}`, operation: `GET /Users/gone-${i}` })
          .catch((error: unknown) => error),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(getEventListeners(cancel.signal, 'abort').length).toBeGreaterThan(10);
      for (const answer of await Promise.all(reads)) {
        expect(answer).toBeInstanceOf(ScimError);
        expect((answer as ScimError).status).toBe(404);
      }
      expect(getEventListeners(cancel.signal, 'abort')).toHaveLength(0);
    } finally {
      await http.close();
    }
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

  it('does not repeat a POST blindly when its answer was lost after the server applied it', async () => {
    const scim = client();
    await control.injectFaults({ drop: true, phase: 'after', method: 'POST', count: 1 });
    // The retry finds the user the lost answer created and reports the name as taken: whose it
    // is, and whether to take it over, is the caller's decision.
    const error: unknown = await scim.createUser(user('lost-answer')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScimError);
    expect((error as ScimError).status).toBe(409);
    expect((error as ScimError).detail).toMatch(/earlier attempt/);
    const state = await control.state();
    expect(state.users.filter((u) => u.userName === 'lost-answer')).toHaveLength(1);
    const posts = (await control.requests()).filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(1);
  });
});

describe('ScimClient against a plain RFC 7644 server (generic profile)', () => {
  let generic: RunningScimServer;
  let genericControl: ScimServerControl;
  const genericClient = (): ScimClient => {
    const created = new ScimClient({
      baseUrl: generic.baseUrl,
      token,
      timeoutMs: 2_000,
      connectTimeoutMs: 1_000,
      maxConnections: 4,
      pageSize: 7,
      memberBatchSize: 2,
      retry: { maxAttempts: 2, minDelayMs: 20, maxDelayMs: 50, maxElapsedMs: 5_000 },
    });
    clients.push(created);
    return created;
  };
  beforeAll(async () => {
    generic = await startScimServer({ token, testApi: true, profile: 'generic', maxPageSize: 5 });
    genericControl = new ScimServerControl(generic.origin);
  });
  afterAll(async () => {
    await generic.close();
  });
  beforeEach(async () => {
    await genericControl.reset();
  });

  it('takes the id from Location when a create answers without a body', async () => {
    const scim = genericClient();
    const created = await scim.createUser({ ...user('located'), name: { givenName: 'Lo' } });
    expect(created.userName).toBe('located');
    const [post] = (await genericControl.requests()).filter((r) => r.method === 'POST');
    expect(post?.status).toBe(201);
    expect((await genericControl.state()).users.map((u) => u.id)).toEqual([created.id]);
  });

  it('reads attribute names in any case (RFC 7643 §2.1)', async () => {
    const scim = genericClient();
    const created = await scim.createUser({
      ...user('cased'),
      name: { givenName: 'Case', familyName: 'Less' },
      emails: [{ value: 'c@example.org', primary: true }],
    });
    const read = await scim.getUser(created.id);
    expect(read).toMatchObject({
      userName: 'cased',
      externalId: 'kc-cased',
      name: { givenName: 'Case', familyName: 'Less' },
      emails: [expect.objectContaining({ value: 'c@example.org', primary: true }) as unknown],
      active: true,
    });
    const listed: string[] = [];
    for await (const u of scim.listUsers()) listed.push(u.userName);
    expect(listed).toEqual(['cased']);
  });

  it('finds a userName the server’s case-sensitive eq misses only when asked to look everywhere', async () => {
    const scim = genericClient();
    await genericControl.seedUser({ userName: 'Alice', tenantAccess: true });
    expect(await scim.findUserByUserName('alice')).toBeUndefined();
    expect((await scim.findUserByUserName('alice', { exhaustive: true }))?.userName).toBe('Alice');
  });

  it('falls back to the id map when the server refuses externalId filters', async () => {
    const scim = genericClient();
    await scim.createUser(user('ext'));
    expect(scim.filtersOnExternalId).toBe(true);
    expect(await scim.findUserByExternalId('kc-ext')).toBeUndefined();
    expect(scim.filtersOnExternalId).toBe(false);
    // Not asked again: the next lookup costs no request.
    await genericControl.clearRequests();
    expect(await scim.findGroupByExternalId('g')).toBeUndefined();
    expect(await genericControl.requests()).toHaveLength(0);
  });

  it('keeps the ETag, and a write with a stale If-Match is refused with 412', async () => {
    const scim = genericClient();
    expect(await scim.etagsSupported()).toBe(true);
    const created = await scim.createUser(user('tagged'));
    const read = await scim.getUser(created.id);
    const version = read?.meta?.version;
    expect(version).toMatch(/^W\/"/);
    await scim.patchUser(created.id, [{ op: 'replace', path: 'active', value: false }], {
      ifMatch: version,
    });
    const error: unknown = await scim
      .deleteUser(created.id, { ifMatch: version })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScimError);
    expect((error as ScimError).status).toBe(412);
    expect(await scim.getUser(created.id)).toBeDefined();
  });
});
