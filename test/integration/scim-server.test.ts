import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';

const TOKEN = `test-token-${process.pid}-${Date.now()}`;
const USER_URN = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_URN = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_URN = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const SEARCH_URN = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const ERROR_URN = 'urn:ietf:params:scim:api:messages:2.0:Error';

let server: RunningScimServer;
let control: ScimServerControl;

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
  readonly text: string;
}

/** One SCIM request over real HTTP; `path` is relative to the base URL. */
async function scim(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
): Promise<Reply> {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method,
    headers: {
      ...headers,
      ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? undefined : JSON.parse(text),
    text,
  };
}

const idOf = (reply: Reply): string => z.object({ id: z.string() }).parse(reply.body).id;

const listSchema = z.object({
  totalResults: z.number(),
  itemsPerPage: z.number(),
  startIndex: z.number(),
  Resources: z.array(z.record(z.string(), z.unknown())),
});

function list(reply: Reply): z.infer<typeof listSchema> {
  expect(reply.status).toBe(200);
  return listSchema.parse(reply.body);
}

function user(userName: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemas: [USER_URN], userName, ...extra };
}

async function createUser(userName: string, extra: Record<string, unknown> = {}): Promise<string> {
  const reply = await scim('POST', '/Users', user(userName, extra));
  expect(reply.status).toBe(201);
  return idOf(reply);
}

async function createGroup(displayName: string, members: string[] = []): Promise<string> {
  const reply = await scim('POST', '/Groups', {
    schemas: [GROUP_URN],
    displayName,
    members: members.map((value) => ({ value })),
  });
  expect(reply.status).toBe(201);
  return idOf(reply);
}

function patch(...operations: unknown[]): unknown {
  return { schemas: [PATCH_URN], Operations: operations };
}

function expectScimError(reply: Reply, status: number, scimType?: string): string {
  expect(reply.status).toBe(status);
  expect(reply.headers.get('content-type')).toContain('application/scim+json');
  const error = z
    .object({
      schemas: z.array(z.string()),
      status: z.string(),
      scimType: z.string().optional(),
      detail: z.string(),
    })
    .parse(reply.body);
  expect(error.schemas).toEqual([ERROR_URN]);
  expect(error.status).toBe(String(status));
  expect(error.scimType).toBe(scimType);
  return error.detail;
}

// Typed as unknown so the asymmetric matchers do not leak `any` into the expectations.
const ANY_TIMESTAMP: unknown = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
const ANY_OBJECT: unknown = expect.any(Object);

const filterQuery = (filter: string): string => `filter=${encodeURIComponent(filter)}`;

beforeAll(async () => {
  server = await startScimServer({ token: TOKEN, testApi: true, maxPageSize: 5 });
  control = new ScimServerControl(server.origin);
});

afterAll(async () => {
  await server.close();
});

beforeEach(async () => {
  await control.reset();
});

describe('base path, auth and the integration switch', () => {
  it('serves under /api/v1/<tenant>/integrations/<id>/scim/v2', () => {
    expect(server.baseUrl).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/main\/integrations\/demo\/scim\/v2$/,
    );
    expect(server.baseUrl.startsWith(server.origin)).toBe(true);
  });

  it('answers 401 with a SCIM error without a token, with a wrong one, or another scheme', async () => {
    const missing = await scim('GET', '/Users', undefined, {});
    expect(expectScimError(missing, 401)).toContain('Authorization header is missing');
    expect(missing.headers.get('www-authenticate')).toContain('Bearer');
    const wrong = await scim('GET', '/Users', undefined, { authorization: 'Bearer nope' });
    expect(expectScimError(wrong, 401)).toContain('not valid');
    const basic = await scim('GET', '/Users', undefined, { authorization: `Basic ${TOKEN}` });
    expectScimError(basic, 401);
    expect(wrong.text).not.toContain(TOKEN);
  });

  it('accepts the Bearer scheme in any case', async () => {
    const reply = await scim('GET', '/Users', undefined, { authorization: `bearer ${TOKEN}` });
    expect(reply.status).toBe(200);
  });

  it('answers 403 on every endpoint while the integration is disabled, and serves again after', async () => {
    const id = await createUser('alice');
    await control.setEnabled(false);
    for (const [method, path] of [
      ['GET', '/Users'],
      ['GET', `/Users/${id}`],
      ['POST', '/Groups'],
      ['GET', '/ServiceProviderConfig'],
    ] as const) {
      const detail = expectScimError(await scim(method, path), 403);
      expect(detail).toContain('integration "demo" of tenant "main" is disabled');
    }
    expect((await control.state()).integrationEnabled).toBe(false);
    await control.setEnabled(true);
    expect((await scim('GET', `/Users/${id}`)).status).toBe(200);
  });

  it('still answers 401 before 403 to a client without the token', async () => {
    await control.setEnabled(false);
    expectScimError(await scim('GET', '/Users', undefined, {}), 401);
  });

  it('answers 404 for another tenant, unknown endpoints and wrong-case paths', async () => {
    const otherTenant = await fetch(
      `${server.origin}/api/v1/other/integrations/demo/scim/v2/Users`,
      { headers: { authorization: `Bearer ${TOKEN}` } },
    );
    expect(otherTenant.status).toBe(404);
    expectScimError(await scim('GET', '/Widgets'), 404);
    expectScimError(await scim('GET', '/users'), 404);
  });

  it('answers 501 to /Bulk and /Me', async () => {
    expect(expectScimError(await scim('POST', '/Bulk', { Operations: [] }), 501)).toContain('bulk');
    expectScimError(await scim('GET', '/Me'), 501);
  });

  it('answers 400 invalidSyntax to a body that is not JSON or not an object', async () => {
    const response = await fetch(`${server.baseUrl}/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/scim+json' },
      body: '{"userName": ',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ scimType: 'invalidSyntax' });
    expectScimError(await scim('POST', '/Users', ['a']), 400, 'invalidSyntax');
  });
});

describe('discovery', () => {
  it('advertises patch and filter, and no bulk, password change, sort or etag', async () => {
    const reply = await scim('GET', '/ServiceProviderConfig');
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
      patch: { supported: true },
      bulk: { supported: false },
      filter: { supported: true, maxResults: 5 },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: false },
      authenticationSchemes: [{ type: 'oauthbearertoken' }],
    });
  });

  it('lists the User and Group resource types and schemas', async () => {
    const types = list(await scim('GET', '/ResourceTypes'));
    expect(types.Resources.map((r) => [r['name'], r['endpoint'], r['schema']])).toEqual([
      ['User', '/Users', USER_URN],
      ['Group', '/Groups', GROUP_URN],
    ]);
    expect((await scim('GET', '/ResourceTypes/Group')).body).toMatchObject({ endpoint: '/Groups' });
    const schemas = list(await scim('GET', '/Schemas'));
    expect(schemas.Resources.map((s) => s['id'])).toEqual([USER_URN, GROUP_URN]);
    const userSchema = await scim('GET', `/Schemas/${USER_URN}`);
    expect(userSchema.body).toMatchObject({
      id: USER_URN,
      meta: { location: `${server.baseUrl}/Schemas/${USER_URN}` },
    });
    expectScimError(await scim('GET', '/Schemas/urn:nope'), 404);
  });
});

describe('users', () => {
  it('creates a user: 201, Location, meta, only the attributes Kestra keeps', async () => {
    const reply = await scim(
      'POST',
      '/Users',
      user('alice', {
        externalId: 'kc-1',
        name: { givenName: 'Alice', familyName: 'Liddell', formatted: 'ignored' },
        emails: [{ value: 'alice@example.org', type: 'work', primary: true }],
        displayName: 'ignored',
        phoneNumbers: [{ value: '555' }],
        active: true,
      }),
    );
    expect(reply.status).toBe(201);
    const id = idOf(reply);
    expect(reply.headers.get('location')).toBe(`${server.baseUrl}/Users/${id}`);
    expect(reply.body).toEqual({
      schemas: [USER_URN],
      id,
      externalId: 'kc-1',
      userName: 'alice',
      name: { givenName: 'Alice', familyName: 'Liddell' },
      emails: [{ value: 'alice@example.org', type: 'work', primary: true }],
      active: true,
      meta: {
        resourceType: 'User',
        created: ANY_TIMESTAMP,
        lastModified: ANY_TIMESTAMP,
        location: `${server.baseUrl}/Users/${id}`,
      },
    });
    expect((await scim('GET', `/Users/${id}`)).body).toEqual(reply.body);
  });

  it('defaults active to true and refuses a user without userName or with bad types', async () => {
    const reply = await scim('POST', '/Users', user('bob'));
    expect(reply.body).toMatchObject({ active: true });
    expect(
      expectScimError(await scim('POST', '/Users', { schemas: [USER_URN] }), 400, 'invalidValue'),
    ).toContain('userName');
    expect(
      expectScimError(
        await scim('POST', '/Users', user('c', { active: 'true' })),
        400,
        'invalidValue',
      ),
    ).toContain('active');
    expect(
      expectScimError(await scim('POST', '/Users', { userName: 'd' }), 400, 'invalidSyntax'),
    ).toContain('schemas');
  });

  it('answers 409 uniqueness to a duplicate userName, whatever its case', async () => {
    await createUser('Alice');
    const detail = expectScimError(await scim('POST', '/Users', user('aLiCe')), 409, 'uniqueness');
    expect(detail).toContain('aLiCe');
  });

  it('replaces a user with PUT, clearing what the body leaves out', async () => {
    const id = await createUser('carol', { externalId: 'kc-3', name: { givenName: 'C' } });
    const reply = await scim('PUT', `/Users/${id}`, user('carol2', { active: false }));
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ id, userName: 'carol2', active: false });
    expect(reply.body).not.toHaveProperty('externalId');
    expect(reply.body).not.toHaveProperty('name');
  });

  it('answers 409 to a PUT or PATCH rename onto another userName', async () => {
    await createUser('dave');
    const id = await createUser('erin');
    expectScimError(await scim('PUT', `/Users/${id}`, user('DAVE')), 409, 'uniqueness');
    expectScimError(
      await scim(
        'PATCH',
        `/Users/${id}`,
        patch({ op: 'replace', path: 'userName', value: 'Dave' }),
      ),
      409,
      'uniqueness',
    );
    expect((await scim('GET', `/Users/${id}`)).body).toMatchObject({ userName: 'erin' });
  });

  it('allows a rename that only changes the case of the own userName', async () => {
    const id = await createUser('frank');
    const reply = await scim(
      'PATCH',
      `/Users/${id}`,
      patch({ op: 'replace', path: 'userName', value: 'Frank' }),
    );
    expect(reply.status).toBe(204);
  });

  it('PATCH answers 204 with no body and applies the operations in order', async () => {
    const id = await createUser('gina', { externalId: 'kc-7' });
    const reply = await scim(
      'PATCH',
      `/Users/${id}`,
      patch(
        { op: 'Replace', path: 'active', value: false },
        { op: 'replace', value: { name: { givenName: 'Gina' }, emails: [{ value: 'g@x.org' }] } },
        { op: 'remove', path: 'externalId' },
        { op: 'add', path: 'nickName', value: 'ignored' },
      ),
    );
    expect(reply.status).toBe(204);
    expect(reply.text).toBe('');
    const after = await scim('GET', `/Users/${id}`);
    expect(after.body).toMatchObject({
      active: false,
      name: { givenName: 'Gina' },
      emails: [{ value: 'g@x.org' }],
    });
    expect(after.body).not.toHaveProperty('externalId');
    expect(after.body).not.toHaveProperty('nickName');
  });

  it('PATCH is atomic: a failing operation leaves the user unchanged', async () => {
    const id = await createUser('hank');
    const before = await scim('GET', `/Users/${id}`);
    const reply = await scim(
      'PATCH',
      `/Users/${id}`,
      patch(
        { op: 'replace', path: 'userName', value: 'renamed' },
        { op: 'remove', path: 'userName' },
      ),
    );
    expectScimError(reply, 400, 'invalidValue');
    expect((await scim('GET', `/Users/${id}`)).body).toEqual(before.body);
  });

  it('refuses a password on POST, PUT and PATCH without storing anything', async () => {
    const postDetail = expectScimError(
      await scim('POST', '/Users', user('ivan', { password: 'p' })),
      400,
      'invalidValue',
    );
    expect(postDetail).toContain('password');
    expect((await control.state()).users).toEqual([]);
    const id = await createUser('judy');
    expectScimError(
      await scim('PUT', `/Users/${id}`, user('judy', { password: 'p' })),
      400,
      'invalidValue',
    );
    expectScimError(
      await scim('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'password', value: 'p' })),
      400,
      'invalidValue',
    );
    expectScimError(
      await scim('PATCH', `/Users/${id}`, patch({ op: 'replace', value: { password: 'p' } })),
      400,
      'invalidValue',
    );
  });

  it('answers 404 to GET, PUT, PATCH and DELETE of an unknown user', async () => {
    const path = '/Users/00000000-0000-0000-0000-000000000000';
    expect(expectScimError(await scim('GET', path), 404)).toContain('00000000-0000');
    expectScimError(await scim('PUT', path, user('x')), 404);
    expectScimError(
      await scim('PATCH', path, patch({ op: 'replace', path: 'active', value: true })),
      404,
    );
    expectScimError(await scim('DELETE', path), 404);
  });

  it('DELETE removes tenant access only: 204, then 404 and gone from lists, then a re-POST restores the same id', async () => {
    const id = await createUser('kate', { externalId: 'kc-11' });
    const groupId = await createGroup('Readers', [id]);
    const deleted = await scim('DELETE', `/Users/${id}`);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    expectScimError(await scim('GET', `/Users/${id}`), 404);
    expectScimError(await scim('DELETE', `/Users/${id}`), 404);
    expect(list(await scim('GET', '/Users')).totalResults).toBe(0);
    expect(
      list(await scim('GET', `/Users?${filterQuery('userName eq "kate"')}`)).totalResults,
    ).toBe(0);
    expect(
      list(await scim('GET', `/Users?${filterQuery('externalId eq "kc-11"')}`)).totalResults,
    ).toBe(0);
    expect((await scim('GET', `/Groups/${groupId}`)).body).toMatchObject({ members: [] });
    const state = await control.state();
    expect(state.users).toMatchObject([{ id, userName: 'kate', tenantAccess: false }]);

    const again = await scim('POST', '/Users', user('KATE', { externalId: 'kc-12' }));
    expect(again.status).toBe(201);
    expect(idOf(again)).toBe(id);
    expect(again.body).toMatchObject({ userName: 'KATE', externalId: 'kc-12' });
    expect((await scim('GET', `/Groups/${groupId}`)).body).toMatchObject({ members: [] });
    expect((await control.state()).users).toMatchObject([{ id, tenantAccess: true }]);
  });

  it('gives a global user that exists in Kestra without access here its own id on POST', async () => {
    const { id } = await control.seedUser({ userName: 'lena' });
    expectScimError(await scim('GET', `/Users/${id}`), 404);
    const reply = await scim('POST', '/Users', user('lena'));
    expect(reply.status).toBe(201);
    expect(idOf(reply)).toBe(id);
  });
});

describe('user filters', () => {
  it('filters userName case-insensitively and externalId case-exactly', async () => {
    const id = await createUser('Mike', { externalId: 'Ext-1' });
    await createUser('nora', { externalId: 'ext-1' });
    const byName = list(await scim('GET', `/Users?${filterQuery('userName eq "mIKE"')}`));
    expect(byName.Resources.map((r) => r['id'])).toEqual([id]);
    const byExternal = list(await scim('GET', `/Users?${filterQuery('externalId eq "Ext-1"')}`));
    expect(byExternal.Resources.map((r) => r['id'])).toEqual([id]);
    const qualified = list(
      await scim('GET', `/Users?${filterQuery(`${USER_URN}:userName Eq "mike"`)}`),
    );
    expect(qualified.totalResults).toBe(1);
  });

  it('joins terms with and, and finds by id', async () => {
    const id = await createUser('olga', { externalId: 'o' });
    const hit = `userName eq "olga" and externalId eq "o" and id eq "${id}"`;
    expect(list(await scim('GET', `/Users?${filterQuery(hit)}`)).totalResults).toBe(1);
    const miss = 'userName eq "olga" and externalId eq "O"';
    expect(list(await scim('GET', `/Users?${filterQuery(miss)}`))).toMatchObject({
      totalResults: 0,
      Resources: [],
    });
  });

  it('matches quotes, backslashes and + in values once escaped and URL-encoded', async () => {
    const tricky = 'p"a\\t+1@x.org';
    const id = await createUser(tricky);
    const filter = `userName eq ${JSON.stringify(tricky)}`;
    const found = list(await scim('GET', `/Users?${filterQuery(filter)}`));
    expect(found.Resources.map((r) => r['id'])).toEqual([id]);
  });

  it('answers 400 invalidFilter to unsupported filters', async () => {
    for (const filter of [
      'userName sw "a"',
      'userName eq "a" or userName eq "b"',
      'title eq "x"',
      'userName eq a',
      'emails[type eq "work"]',
    ]) {
      expectScimError(await scim('GET', `/Users?${filterQuery(filter)}`), 400, 'invalidFilter');
    }
  });

  it('finds a user by its new userName and externalId after a change, not by the old ones', async () => {
    const id = await createUser('old-name', { externalId: 'old-ext' });
    const renamed = patch(
      { op: 'replace', path: 'userName', value: 'new-name' },
      { op: 'replace', path: 'externalId', value: 'new-ext' },
    );
    expect((await scim('PATCH', `/Users/${id}`, renamed)).status).toBe(204);
    for (const [filter, total] of [
      ['userName eq "old-name"', 0],
      ['externalId eq "old-ext"', 0],
      ['userName eq "new-name"', 1],
      ['externalId eq "new-ext"', 1],
    ] as const) {
      expect(list(await scim('GET', `/Users?${filterQuery(filter)}`)).totalResults).toBe(total);
    }
    expect((await scim('POST', '/Users', user('old-name'))).status).toBe(201);
  });

  it('serves POST /Users/.search with the same rules', async () => {
    const id = await createUser('paul');
    const reply = await scim('POST', '/Users/.search', {
      schemas: [SEARCH_URN],
      filter: 'userName eq "PAUL"',
      attributes: ['userName'],
    });
    expect(list(reply).Resources).toEqual([{ schemas: [USER_URN], id, userName: 'paul' }]);
    expectScimError(
      await scim('POST', '/Users/.search', { filter: 'userName eq "paul"' }),
      400,
      'invalidSyntax',
    );
    expectScimError(
      await scim('POST', '/Users/.search', { schemas: [SEARCH_URN], filter: 'userName co "a"' }),
      400,
      'invalidFilter',
    );
  });
});

describe('paging', () => {
  it('pages 1-based, caps count at max-page-size, and ends when startIndex + itemsPerPage > totalResults', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await createUser(`user-${i}`));

    const seen: string[] = [];
    let startIndex = 1;
    let pages = 0;
    for (;;) {
      const page = list(await scim('GET', `/Users?startIndex=${startIndex}&count=50`));
      pages += 1;
      expect(page.startIndex).toBe(startIndex);
      expect(page.totalResults).toBe(12);
      expect(page.itemsPerPage).toBe(page.Resources.length);
      expect(page.itemsPerPage).toBeLessThanOrEqual(5);
      seen.push(...page.Resources.map((r) => String(r['id'])));
      if (page.Resources.length === 0 || startIndex + page.itemsPerPage > page.totalResults) break;
      startIndex += page.itemsPerPage;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(ids);
  });

  it('answers an empty page past the end, count=0 with only the total, startIndex<1 as 1', async () => {
    await createUser('q1');
    await createUser('q2');
    expect(list(await scim('GET', '/Users?startIndex=10'))).toMatchObject({
      totalResults: 2,
      itemsPerPage: 0,
      startIndex: 10,
      Resources: [],
    });
    expect(list(await scim('GET', '/Users?count=0'))).toMatchObject({
      totalResults: 2,
      itemsPerPage: 0,
    });
    expect(list(await scim('GET', '/Users?startIndex=0&count=1'))).toMatchObject({
      startIndex: 1,
      itemsPerPage: 1,
    });
    expectScimError(await scim('GET', '/Users?count=ten'), 400, 'invalidValue');
  });

  it('pages with the .search body too', async () => {
    for (let i = 0; i < 3; i++) await createUser(`r${i}`);
    const page = list(
      await scim('POST', '/Users/.search', { schemas: [SEARCH_URN], startIndex: 2, count: 1 }),
    );
    expect(page).toMatchObject({ totalResults: 3, startIndex: 2, itemsPerPage: 1 });
    expect(page.Resources[0]).toMatchObject({ userName: 'r1' });
  });
});

describe('groups', () => {
  it('creates a group with members: 201, Location, meta', async () => {
    const alice = await createUser('alice');
    const reply = await scim('POST', '/Groups', {
      schemas: [GROUP_URN],
      displayName: 'Admins',
      externalId: 'kc-g1',
      members: [{ value: alice, display: 'alice' }],
    });
    expect(reply.status).toBe(201);
    const id = idOf(reply);
    expect(reply.headers.get('location')).toBe(`${server.baseUrl}/Groups/${id}`);
    expect(reply.body).toEqual({
      schemas: [GROUP_URN],
      id,
      externalId: 'kc-g1',
      displayName: 'Admins',
      members: [{ value: alice, display: 'alice' }],
      meta: {
        resourceType: 'Group',
        created: ANY_TIMESTAMP,
        lastModified: ANY_TIMESTAMP,
        location: `${server.baseUrl}/Groups/${id}`,
      },
    });
  });

  it('answers 409 uniqueness to a duplicate displayName on POST, PUT and PATCH', async () => {
    await createGroup('Ops');
    const id = await createGroup('Dev');
    expectScimError(
      await scim('POST', '/Groups', { schemas: [GROUP_URN], displayName: 'OPS' }),
      409,
      'uniqueness',
    );
    expectScimError(
      await scim('PUT', `/Groups/${id}`, { schemas: [GROUP_URN], displayName: 'ops' }),
      409,
      'uniqueness',
    );
    expectScimError(
      await scim(
        'PATCH',
        `/Groups/${id}`,
        patch({ op: 'replace', path: 'displayName', value: 'Ops' }),
      ),
      409,
      'uniqueness',
    );
  });

  it('adds and removes members with PATCH, answering 204', async () => {
    const [a, b, c] = [await createUser('a'), await createUser('b'), await createUser('c')];
    const id = await createGroup('Team', [a]);
    const add = await scim(
      'PATCH',
      `/Groups/${id}`,
      patch({ op: 'add', path: 'members', value: [{ value: b }, { value: c }, { value: a }] }),
    );
    expect(add.status).toBe(204);
    expect(add.text).toBe('');
    const remove = await scim(
      'PATCH',
      `/Groups/${id}`,
      patch({ op: 'remove', path: `members[value eq "${b}"]` }),
    );
    expect(remove.status).toBe(204);
    const noop = await scim(
      'PATCH',
      `/Groups/${id}`,
      patch({ op: 'remove', path: `members[value eq "${b}"]` }),
    );
    expect(noop.status).toBe(204);
    expect((await scim('GET', `/Groups/${id}`)).body).toMatchObject({
      members: [{ value: a }, { value: c }],
    });
    const state = await control.state();
    expect(state.groups).toMatchObject([{ id, displayName: 'Team', members: [a, c] }]);
  });

  it('refuses a member that does not exist or has no tenant access, naming it, and changes nothing', async () => {
    const a = await createUser('a');
    const gone = await createUser('gone');
    await scim('DELETE', `/Users/${gone}`);
    const id = await createGroup('Team');
    for (const member of ['no-such-user', gone]) {
      const reply = await scim(
        'PATCH',
        `/Groups/${id}`,
        patch({ op: 'add', path: 'members', value: [{ value: a }, { value: member }] }),
      );
      expect(expectScimError(reply, 400, 'invalidValue')).toContain(member);
    }
    expect((await scim('GET', `/Groups/${id}`)).body).toMatchObject({ members: [] });
    const post = await scim('POST', '/Groups', {
      schemas: [GROUP_URN],
      displayName: 'New',
      members: [{ value: 'nobody' }],
    });
    expect(expectScimError(post, 400, 'invalidValue')).toContain('nobody');
    expect((await control.state()).groups).toHaveLength(1);
  });

  it('replaces a group with PUT, members included', async () => {
    const [a, b] = [await createUser('a'), await createUser('b')];
    const id = await createGroup('Team', [a]);
    const reply = await scim('PUT', `/Groups/${id}`, {
      schemas: [GROUP_URN],
      displayName: 'Team 2',
      members: [{ value: b }],
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ displayName: 'Team 2', members: [{ value: b }] });
  });

  it('renames with a no-path replace and keeps members', async () => {
    const a = await createUser('a');
    const id = await createGroup('Old', [a]);
    const reply = await scim(
      'PATCH',
      `/Groups/${id}`,
      patch({ op: 'replace', value: { id, displayName: 'New' } }),
    );
    expect(reply.status).toBe(204);
    expect((await scim('GET', `/Groups/${id}`)).body).toMatchObject({
      displayName: 'New',
      members: [{ value: a }],
    });
  });

  it('deletes a group: 204 then 404', async () => {
    const id = await createGroup('Temp');
    expect((await scim('DELETE', `/Groups/${id}`)).status).toBe(204);
    expectScimError(await scim('GET', `/Groups/${id}`), 404);
    expectScimError(await scim('DELETE', `/Groups/${id}`), 404);
  });

  it('filters by displayName (case-insensitive), externalId and id', async () => {
    const id = await createGroup('Data Team');
    await scim('PATCH', `/Groups/${id}`, patch({ op: 'add', path: 'externalId', value: 'kc-9' }));
    for (const filter of ['displayName eq "data team"', 'externalId eq "kc-9"', `id eq "${id}"`]) {
      expect(
        list(await scim('GET', `/Groups?${filterQuery(filter)}`)).Resources.map((r) => r['id']),
      ).toEqual([id]);
    }
    expect(
      list(await scim('GET', `/Groups?${filterQuery('externalId eq "KC-9"')}`)).totalResults,
    ).toBe(0);
    expectScimError(
      await scim('GET', `/Groups?${filterQuery('userName eq "x"')}`),
      400,
      'invalidFilter',
    );
  });

  it('finds a renamed group by its new displayName only, and frees the old one', async () => {
    const id = await createGroup('Before');
    await scim(
      'PATCH',
      `/Groups/${id}`,
      patch({ op: 'replace', path: 'displayName', value: 'After' }),
    );
    expect(
      list(await scim('GET', `/Groups?${filterQuery('displayName eq "before"')}`)).totalResults,
    ).toBe(0);
    expect(
      list(await scim('GET', `/Groups?${filterQuery('displayName eq "after"')}`)).totalResults,
    ).toBe(1);
    await createGroup('Before');
  });

  it('leaves members out with excludedAttributes=members or attributes=displayName', async () => {
    const a = await createUser('a');
    const id = await createGroup('Team', [a]);
    const excluded = list(await scim('GET', '/Groups?excludedAttributes=members'));
    expect(excluded.Resources).toEqual([
      { schemas: [GROUP_URN], id, displayName: 'Team', meta: ANY_OBJECT },
    ]);
    const only = list(await scim('GET', '/Groups?attributes=displayName'));
    expect(only.Resources).toEqual([{ schemas: [GROUP_URN], id, displayName: 'Team' }]);
    const single = await scim('GET', `/Groups/${id}?excludedAttributes=members`);
    expect(single.body).not.toHaveProperty('members');
    const search = list(
      await scim('POST', '/Groups/.search', {
        schemas: [SEARCH_URN],
        excludedAttributes: ['members'],
      }),
    );
    expect(search.Resources[0]).not.toHaveProperty('members');
  });
});
