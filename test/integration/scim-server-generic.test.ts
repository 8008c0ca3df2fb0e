import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PermanentError } from '../../packages/scim-server/src/errors.js';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';

const TOKEN = `generic-token-${process.pid}-${Date.now()}`;
const USER_URN = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_URN = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE_URN = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH_URN = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const SEARCH_URN = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const ERROR_URN = 'urn:ietf:params:scim:api:messages:2.0:Error';
const LIST_URN = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
/** The window of the server that shows lost updates; wide enough for 12 requests to overlap. */
const PATCH_DELAY_MS = 30;

/** The generic server most tests use (patchDelayMs 0), and one with a wide PATCH window. */
let server: RunningScimServer;
let slow: RunningScimServer;
let control: ScimServerControl;
let slowControl: ScimServerControl;

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
  readonly text: string;
}

/** One SCIM request over real HTTP; `path` is relative to the base URL of `target`. */
async function request(
  target: RunningScimServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const response = await fetch(`${target.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
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

const scim = (
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
): Promise<Reply> => request(server, method, path, body, headers);

/** The generic profile spells attribute names in lower case: read them that way. */
const resourceSchema = z.object({
  schemas: z.array(z.string()),
  id: z.string(),
  meta: z.object({ version: z.string() }).loose(),
});

const listSchema = z.object({
  schemas: z.array(z.string()),
  totalresults: z.number(),
  itemsperpage: z.number(),
  startindex: z.number(),
  resources: z.array(z.record(z.string(), z.unknown())),
});

function list(reply: Reply): z.infer<typeof listSchema> {
  expect(reply.status).toBe(200);
  return listSchema.parse(reply.body);
}

const resource = (reply: Reply): z.infer<typeof resourceSchema> => resourceSchema.parse(reply.body);

function user(userName: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemas: [USER_URN], userName, ...extra };
}

/** The id a body-less 201 names in its Location header. */
function createdId(reply: Reply, kind: 'Users' | 'Groups', target = server): string {
  expect(reply.status).toBe(201);
  const location = reply.headers.get('location') ?? '';
  const prefix = `${target.baseUrl}/${kind}/`;
  expect(location.startsWith(prefix)).toBe(true);
  return location.slice(prefix.length);
}

async function createUser(
  userName: string,
  extra: Record<string, unknown> = {},
  target = server,
): Promise<string> {
  return createdId(await request(target, 'POST', '/Users', user(userName, extra)), 'Users', target);
}

async function createGroup(
  displayName: string,
  members: string[] = [],
  target = server,
): Promise<string> {
  const reply = await request(target, 'POST', '/Groups', {
    schemas: [GROUP_URN],
    displayName,
    members: members.map((value) => ({ value })),
  });
  return createdId(reply, 'Groups', target);
}

function patch(...operations: unknown[]): unknown {
  return { schemas: [PATCH_URN], Operations: operations };
}

const addMember = (userId: string): unknown =>
  patch({ op: 'add', path: 'members', value: [{ value: userId }] });

/** Error bodies keep the standard attribute names, whatever the profile. */
function expectScimError(reply: Reply, status: number, scimType?: string): string {
  expect(reply.status).toBe(status);
  expect(reply.headers.get('content-type')).toContain('application/scim+json');
  const error = z
    .strictObject({
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

const ANY_TIMESTAMP: unknown = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
const WEAK_ETAG = /^W\/"\d+"$/;

const filterQuery = (filter: string): string => `filter=${encodeURIComponent(filter)}`;

async function groupMembers(id: string, target = server): Promise<string[]> {
  const reply = await request(target, 'GET', `/Groups/${id}`);
  expect(reply.status).toBe(200);
  return z
    .object({ members: z.array(z.object({ value: z.string() })).default([]) })
    .parse(reply.body)
    .members.map((m) => m.value);
}

beforeAll(async () => {
  server = await startScimServer({
    token: TOKEN,
    testApi: true,
    maxPageSize: 5,
    profile: 'generic',
  });
  slow = await startScimServer({
    token: TOKEN,
    testApi: true,
    profile: 'generic',
    patchDelayMs: PATCH_DELAY_MS,
  });
  control = new ScimServerControl(server.origin);
  slowControl = new ScimServerControl(slow.origin);
});

afterAll(async () => {
  await Promise.all([server.close(), slow.close()]);
});

beforeEach(async () => {
  await Promise.all([control.reset(), slowControl.reset()]);
});

describe('the profile a test talks to', () => {
  it('is reported by /_test/info, with the PATCH delay', async () => {
    expect(await control.info()).toEqual({ profile: 'generic', patchDelayMs: 0 });
    expect(await slowControl.info()).toEqual({ profile: 'generic', patchDelayMs: PATCH_DELAY_MS });
  });

  it('is kestra by default, which keeps its behaviour and reports no extra attributes', async () => {
    const kestra = await startScimServer({ token: TOKEN, testApi: true });
    try {
      const kestraControl = new ScimServerControl(kestra.origin);
      expect(await kestraControl.info()).toEqual({ profile: 'kestra', patchDelayMs: 0 });
      const post = await request(kestra, 'POST', '/Users', user('alice', { title: 'CTO' }));
      expect(post.status).toBe(201);
      expect(post.body).toMatchObject({ userName: 'alice' });
      expect(post.body).not.toHaveProperty('title');
      expect(post.headers.get('etag')).toBeNull();
      // Extra seed attributes are ignored there, as Kestra ignores them over SCIM.
      await kestraControl.seedUser({ userName: 'bob', extra: { title: 'CEO' } });
      expect((await kestraControl.state()).users.map((u) => u.extra)).toEqual([{}, {}]);
    } finally {
      await kestra.close();
    }
  });

  it('refuses a PATCH delay without the generic profile, or out of range', async () => {
    await expect(startScimServer({ token: TOKEN, patchDelayMs: 10 })).rejects.toThrow(
      /patchDelayMs: only the generic profile/,
    );
    await expect(
      startScimServer({ token: TOKEN, profile: 'generic', patchDelayMs: 60_001 }),
    ).rejects.toThrow(/patchDelayMs: 60001 must be a whole number from 0 to 60000/);
  });
});

describe('discovery', () => {
  it('advertises ETags, and keeps discovery documents in canonical case', async () => {
    const reply = await scim('GET', '/ServiceProviderConfig');
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      patch: { supported: true },
      etag: { supported: true },
      changePassword: { supported: false },
      filter: { supported: true, maxResults: 5 },
    });
  });
});

describe('attribute names in lower case (RFC 7643 §2.1)', () => {
  it('spells users, groups and list responses in lower case, keeping schemas and values', async () => {
    const alice = await createUser('Alice', {
      externalId: 'kc-1',
      name: { givenName: 'Alice', familyName: 'Liddell' },
      emails: [{ value: 'Alice@Example.org', type: 'work', primary: true }],
    });
    const groupId = await createGroup('Admins', [alice]);
    const users = list(await scim('GET', '/Users'));
    expect(users).toEqual({
      schemas: [LIST_URN],
      totalresults: 1,
      itemsperpage: 1,
      startindex: 1,
      resources: [
        {
          schemas: [USER_URN],
          id: alice,
          externalid: 'kc-1',
          username: 'Alice',
          name: { givenname: 'Alice', familyname: 'Liddell' },
          emails: [{ value: 'Alice@Example.org', type: 'work', primary: true }],
          active: true,
          meta: {
            resourcetype: 'User',
            created: ANY_TIMESTAMP,
            lastmodified: ANY_TIMESTAMP,
            location: `${server.baseUrl}/Users/${alice}`,
            version: 'W/"1"',
          },
        },
      ],
    });
    expect(users).not.toHaveProperty('totalResults');
    expect(users).not.toHaveProperty('Resources');
    const group = await scim('GET', `/Groups/${groupId}`);
    expect(group.body).toEqual({
      schemas: [GROUP_URN],
      id: groupId,
      displayname: 'Admins',
      members: [{ value: alice }],
      meta: {
        resourcetype: 'Group',
        created: ANY_TIMESTAMP,
        lastmodified: ANY_TIMESTAMP,
        location: `${server.baseUrl}/Groups/${groupId}`,
        version: 'W/"1"',
      },
    });
    const searched = list(
      await scim('POST', '/Groups/.search', { schemas: [SEARCH_URN], attributes: ['displayName'] }),
    );
    expect(searched.resources).toEqual([
      { schemas: [GROUP_URN], id: groupId, displayname: 'Admins' },
    ]);
  });

  it('keeps the standard names in error bodies', async () => {
    await createUser('alice');
    expectScimError(await scim('GET', '/Users/nobody'), 404);
    expectScimError(await scim('POST', '/Users', user('alice')), 409, 'uniqueness');
  });

  it('reads attribute names in requests case-insensitively, as before', async () => {
    const id = await createUser('quiet', { ACTIVE: false, NAME: { GIVENNAME: 'Q' } });
    expect((await scim('GET', `/Users/${id}`)).body).toMatchObject({
      username: 'quiet',
      active: false,
      name: { givenname: 'Q' },
    });
  });
});

describe('POST, PATCH and DELETE answers', () => {
  it('POST answers 201 with Location and ETag and no body; GET of Location finds the resource', async () => {
    const reply = await scim('POST', '/Users', user('alice'));
    expect(reply.status).toBe(201);
    expect(reply.text).toBe('');
    expect(reply.headers.get('content-type')).toBeNull();
    expect(reply.headers.get('etag')).toBe('W/"1"');
    const location = reply.headers.get('location') ?? '';
    const found = await fetch(location, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({ username: 'alice' });

    const group = await scim('POST', '/Groups', { schemas: [GROUP_URN], displayName: 'Ops' });
    expect(group.status).toBe(201);
    expect(group.text).toBe('');
    expect(group.headers.get('etag')).toBe('W/"1"');
    expect(group.headers.get('location')).toMatch(/\/Groups\/[\w-]+$/);
  });

  it('PATCH answers 200 with the whole resource and its new ETag', async () => {
    const id = await createUser('gina', { externalId: 'kc-7' });
    const reply = await scim(
      'PATCH',
      `/Users/${id}`,
      patch({ op: 'replace', path: 'active', value: false }),
    );
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      id,
      username: 'gina',
      externalid: 'kc-7',
      active: false,
      meta: { version: 'W/"2"' },
    });
    expect(reply.headers.get('etag')).toBe('W/"2"');

    const member = await createUser('m');
    const groupId = await createGroup('Team');
    const added = await scim('PATCH', `/Groups/${groupId}`, addMember(member));
    expect(added.status).toBe(200);
    expect(added.body).toMatchObject({
      id: groupId,
      displayname: 'Team',
      members: [{ value: member }],
    });
    const projected = await scim(
      'PATCH',
      `/Groups/${groupId}?excludedAttributes=members`,
      patch({ op: 'replace', path: 'displayName', value: 'Team 2' }),
    );
    expect(projected.body).toMatchObject({ displayname: 'Team 2' });
    expect(projected.body).not.toHaveProperty('members');
  });

  it('PUT answers 200 with the resource and its ETag', async () => {
    const id = await createUser('hank');
    const reply = await scim('PUT', `/Users/${id}`, user('hank', { active: false }));
    expect(reply.status).toBe(200);
    expect(reply.headers.get('etag')).toBe('W/"2"');
    expect(reply.body).toMatchObject({ username: 'hank', active: false });
  });

  it('DELETE of a user really deletes it: gone from groups and state, a new POST gets a new id', async () => {
    const id = await createUser('kate', { externalId: 'kc-11' });
    const keep = await createUser('keep');
    const one = await createGroup('One', [id, keep]);
    const two = await createGroup('Two', [id]);
    const deleted = await scim('DELETE', `/Users/${id}`);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    expectScimError(await scim('GET', `/Users/${id}`), 404);
    expectScimError(await scim('DELETE', `/Users/${id}`), 404);
    expect(await groupMembers(one)).toEqual([keep]);
    expect(await groupMembers(two)).toEqual([]);
    const state = await control.state();
    expect(state.users.map((u) => u.userName)).toEqual(['keep']);
    expect(state.groups.map((g) => g.members)).toEqual([[keep], []]);

    const again = await createUser('kate');
    expect(again).not.toBe(id);
    expect(await groupMembers(one)).toEqual([keep]);
  });

  it('DELETE of a group answers 204, then 404', async () => {
    const id = await createGroup('Temp');
    expect((await scim('DELETE', `/Groups/${id}`)).status).toBe(204);
    expectScimError(await scim('GET', `/Groups/${id}`), 404);
  });
});

describe('userName filter', () => {
  it('compares userName case-exactly in filters, but uniqueness ignores case', async () => {
    const id = await createUser('Alice');
    const exact = list(await scim('GET', `/Users?${filterQuery('userName eq "Alice"')}`));
    expect(exact.resources.map((r) => r['id'])).toEqual([id]);
    const other = list(await scim('GET', `/Users?${filterQuery('userName eq "alice"')}`));
    expect(other).toMatchObject({ totalresults: 0, resources: [] });
    const search = list(
      await scim('POST', '/Users/.search', {
        schemas: [SEARCH_URN],
        filter: 'userName eq "ALICE"',
      }),
    );
    expect(search.totalresults).toBe(0);
    // The trap: the create is refused although the lookup found nothing.
    const detail = expectScimError(await scim('POST', '/Users', user('alice')), 409, 'uniqueness');
    expect(detail).toContain('alice');
    expectScimError(
      await scim('PATCH', `/Users/${await createUser('bob')}`, {
        schemas: [PATCH_URN],
        Operations: [{ op: 'replace', path: 'userName', value: 'ALICE' }],
      }),
      409,
      'uniqueness',
    );
  });

  it('still compares displayName case-insensitively', async () => {
    const id = await createGroup('Data Team');
    const found = list(await scim('GET', `/Groups?${filterQuery('displayName eq "data team"')}`));
    expect(found.resources.map((r) => r['id'])).toEqual([id]);
  });

  it('still finds by id', async () => {
    const id = await createUser('carl');
    const found = list(await scim('GET', `/Users?${filterQuery(`id eq "${id}"`)}`));
    expect(found.totalresults).toBe(1);
  });
});

describe('externalId', () => {
  it('is stored and returned, but a filter on it answers 400 invalidFilter', async () => {
    const id = await createUser('dora', { externalId: 'kc-1' });
    const groupId = await createGroup('G');
    await scim('PATCH', `/Groups/${groupId}`, patch({ op: 'add', path: 'externalId', value: 'x' }));
    expect((await scim('GET', `/Users/${id}`)).body).toMatchObject({ externalid: 'kc-1' });
    expect((await scim('GET', `/Groups/${groupId}`)).body).toMatchObject({ externalid: 'x' });
    for (const [path, filter] of [
      ['/Users', 'externalId eq "kc-1"'],
      ['/Users', 'userName eq "dora" and externalId eq "kc-1"'],
      ['/Users', `${USER_URN}:externalId eq "kc-1"`],
      ['/Groups', 'externalId eq "x"'],
      ['/Groups', 'displayName eq "G" and EXTERNALID eq "x"'],
    ] as const) {
      const detail = expectScimError(
        await scim('GET', `${path}?${filterQuery(filter)}`),
        400,
        'invalidFilter',
      );
      expect(detail).toContain('not supported');
    }
    for (const path of ['/Users/.search', '/Groups/.search']) {
      expectScimError(
        await scim('POST', path, { schemas: [SEARCH_URN], filter: 'externalId eq "x"' }),
        400,
        'invalidFilter',
      );
    }
  });
});

describe('extra attributes and PUT that replaces the whole user', () => {
  const extras = {
    title: 'CTO',
    nickName: 'al',
    displayName: 'Alice L.',
    phoneNumbers: [{ value: '+1 555 0100', type: 'work' }],
    addresses: [{ locality: 'Oxford', country: 'GB', type: 'work' }],
    name: { givenName: 'Alice', formatted: 'Alice Liddell' },
    [ENTERPRISE_URN]: { department: 'R&D', manager: { value: 'm-1' } },
  };

  it('stores and returns every attribute sent, and reports the extra ones in state', async () => {
    const id = await createUser('alice', extras);
    const reply = await scim('GET', `/Users/${id}`);
    expect(reply.body).toEqual({
      schemas: [USER_URN, ENTERPRISE_URN],
      id,
      username: 'alice',
      name: { formatted: 'Alice Liddell', givenname: 'Alice' },
      active: true,
      title: 'CTO',
      nickname: 'al',
      displayname: 'Alice L.',
      phonenumbers: [{ value: '+1 555 0100', type: 'work' }],
      addresses: [{ locality: 'Oxford', country: 'GB', type: 'work' }],
      [ENTERPRISE_URN]: { department: 'R&D', manager: { value: 'm-1' } },
      meta: expect.objectContaining({ version: 'W/"1"' }) as unknown,
    });
    const [stored] = (await control.state()).users;
    expect(stored).toMatchObject({ id, userName: 'alice', givenName: 'Alice' });
    expect(stored?.extra).toEqual({
      title: 'CTO',
      nickName: 'al',
      displayName: 'Alice L.',
      phoneNumbers: [{ value: '+1 555 0100', type: 'work' }],
      addresses: [{ locality: 'Oxford', country: 'GB', type: 'work' }],
      name: { formatted: 'Alice Liddell' },
      [ENTERPRISE_URN]: { department: 'R&D', manager: { value: 'm-1' } },
    });
    const projected = await scim('GET', `/Users/${id}?attributes=title,phoneNumbers`);
    expect(projected.body).toEqual({
      schemas: [USER_URN, ENTERPRISE_URN],
      id,
      title: 'CTO',
      phonenumbers: [{ value: '+1 555 0100', type: 'work' }],
    });
  });

  it('PUT clears every attribute it omits, extra ones included', async () => {
    const id = await createUser('alice', { ...extras, externalId: 'kc-1' });
    const reply = await scim('PUT', `/Users/${id}`, user('alice', { active: true }));
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      schemas: [USER_URN],
      id,
      username: 'alice',
      active: true,
      meta: expect.objectContaining({ version: 'W/"2"' }) as unknown,
    });
    expect((await control.state()).users[0]?.extra).toEqual({});
    const keep = await scim('PUT', `/Users/${id}`, user('alice', { title: 'CEO' }));
    expect(keep.body).toMatchObject({ title: 'CEO' });
  });

  it('PATCH changes only the attribute its path names', async () => {
    const id = await createUser('alice', extras);
    const reply = await scim(
      'PATCH',
      `/Users/${id}`,
      patch(
        { op: 'replace', path: 'title', value: 'CEO' },
        { op: 'add', path: 'phoneNumbers', value: [{ value: '+1 555 0199', type: 'home' }] },
        { op: 'remove', path: 'nickName' },
        { op: 'replace', path: 'name.formatted', value: 'A. Liddell' },
        { op: 'replace', path: 'name.familyName', value: 'Liddell' },
        { op: 'replace', path: `${ENTERPRISE_URN}:department`, value: 'Ops' },
      ),
    );
    expect(reply.status).toBe(200);
    const [stored] = (await control.state()).users;
    expect(stored).toMatchObject({ givenName: 'Alice', familyName: 'Liddell' });
    expect(stored?.extra).toEqual({
      title: 'CEO',
      displayName: 'Alice L.',
      phoneNumbers: [
        { value: '+1 555 0100', type: 'work' },
        { value: '+1 555 0199', type: 'home' },
      ],
      addresses: [{ locality: 'Oxford', country: 'GB', type: 'work' }],
      name: { formatted: 'A. Liddell' },
      [ENTERPRISE_URN]: { department: 'Ops', manager: { value: 'm-1' } },
    });
  });

  it('PATCH of a known attribute, or a no-path replace, keeps the extra ones', async () => {
    const id = await createUser('alice', extras);
    await scim('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'active', value: false }));
    await scim(
      'PATCH',
      `/Users/${id}`,
      patch({ op: 'replace', value: { emails: [{ value: 'a@x.org' }], title: 'CFO' } }),
    );
    const [stored] = (await control.state()).users;
    expect(stored).toMatchObject({ active: false, emails: [{ value: 'a@x.org' }] });
    expect(stored?.extra).toMatchObject({ title: 'CFO', nickName: 'al', displayName: 'Alice L.' });
  });

  it('refuses value filters on extra attributes and passwords, changing nothing', async () => {
    const id = await createUser('alice', extras);
    const before = await scim('GET', `/Users/${id}`);
    expectScimError(
      await scim(
        'PATCH',
        `/Users/${id}`,
        patch(
          { op: 'replace', path: 'title', value: 'CEO' },
          { op: 'replace', path: 'phoneNumbers[type eq "work"].value', value: '0' },
        ),
      ),
      400,
      'invalidPath',
    );
    expectScimError(
      await scim('POST', '/Users', user('eve', { ...extras, password: 'p' })),
      400,
      'invalidValue',
    );
    expectScimError(
      await scim('PUT', `/Users/${id}`, user('alice', { password: 'p' })),
      400,
      'invalidValue',
    );
    expect((await scim('GET', `/Users/${id}`)).body).toEqual(before.body);
  });

  it('seeds a user with extra attributes, visible over SCIM by default', async () => {
    const { id } = await control.seedUser({
      userName: 'seeded',
      givenName: 'Sid',
      extra: { title: 'CTO', phoneNumbers: [{ value: '1' }] },
    });
    expect((await scim('GET', `/Users/${id}`)).body).toMatchObject({
      username: 'seeded',
      name: { givenname: 'Sid' },
      title: 'CTO',
      phonenumbers: [{ value: '1' }],
    });
    const explicit = await control.seedUser({
      userName: 'explicit',
      tenantAccess: true,
      extra: { nickName: 'x' },
    });
    expect((await control.state()).users.find((u) => u.id === explicit.id)?.extra).toEqual({
      nickName: 'x',
    });
  });

  it('refuses a seed without tenant access, with a password or a known attribute in extra', async () => {
    for (const [seed, detail] of [
      [{ userName: 'a', tenantAccess: false }, 'no users without tenant access'],
      [{ userName: 'b', extra: { password: 'p' } }, 'never stores a password'],
      [{ userName: 'c', extra: { userName: 'x' } }, 'use its own field'],
    ] as const) {
      const error: unknown = await control.seedUser(seed).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect(String(error)).toContain('HTTP 400');
      expect(String(error)).toContain(detail);
    }
    expect((await control.state()).users).toEqual([]);
  });
});

describe('ETags', () => {
  it('gives every resource a version that changes on each write, in meta.version and ETag', async () => {
    const id = await createUser('alice');
    const first = await scim('GET', `/Users/${id}`);
    expect(first.headers.get('etag')).toMatch(WEAK_ETAG);
    expect(first.headers.get('etag')).toBe(resource(first).meta.version);
    await scim('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'title', value: 'x' }));
    const second = await scim('GET', `/Users/${id}`);
    expect(second.headers.get('etag')).not.toBe(first.headers.get('etag'));
    await scim('PUT', `/Users/${id}`, user('alice'));
    const third = await scim('GET', `/Users/${id}`);
    expect(new Set([first, second, third].map((r) => r.headers.get('etag'))).size).toBe(3);
    expect(list(await scim('GET', '/Users')).resources[0]).toMatchObject({
      meta: { version: third.headers.get('etag') },
    });
  });

  it('changes a group version when members change, also when a member is deleted', async () => {
    const a = await createUser('a');
    const groupId = await createGroup('Team');
    const etag = async (): Promise<string | null> =>
      (await scim('GET', `/Groups/${groupId}`)).headers.get('etag');
    const v1 = await etag();
    await scim('PATCH', `/Groups/${groupId}`, addMember(a));
    const v2 = await etag();
    await scim('DELETE', `/Users/${a}`);
    const v3 = await etag();
    expect(new Set([v1, v2, v3]).size).toBe(3);
  });

  it('answers 412 to PUT, PATCH and DELETE whose If-Match names another version, changing nothing', async () => {
    const id = await createUser('alice', { title: 'CTO' });
    const groupId = await createGroup('Team');
    const stale = { 'if-match': 'W/"7"' };
    for (const [method, path, body] of [
      ['PUT', `/Users/${id}`, user('alice')],
      ['PATCH', `/Users/${id}`, patch({ op: 'remove', path: 'title' })],
      ['DELETE', `/Users/${id}`, undefined],
      ['PUT', `/Groups/${groupId}`, { schemas: [GROUP_URN], displayName: 'X' }],
      ['PATCH', `/Groups/${groupId}`, patch({ op: 'replace', path: 'displayName', value: 'X' })],
      ['DELETE', `/Groups/${groupId}`, undefined],
    ] as const) {
      const detail = expectScimError(await scim(method, path, body, stale), 412);
      expect(detail).toContain('If-Match W/"7" does not match its version W/"1"');
    }
    const state = await control.state();
    expect(state.users).toMatchObject([{ id, extra: { title: 'CTO' } }]);
    expect(state.groups).toMatchObject([{ id: groupId, displayName: 'Team' }]);
  });

  it('applies writes whose If-Match names the current version, a list holding it, or *', async () => {
    const id = await createUser('alice');
    const current = (await scim('GET', `/Users/${id}`)).headers.get('etag') ?? '';
    const put = await scim('PUT', `/Users/${id}`, user('alice', { title: 'a' }), {
      'if-match': current,
    });
    expect(put.status).toBe(200);
    const next = put.headers.get('etag') ?? '';
    const patched = await scim(
      'PATCH',
      `/Users/${id}`,
      patch({ op: 'replace', path: 'title', value: 'b' }),
      { 'if-match': `W/"999", ${next}` },
    );
    expect(patched.status).toBe(200);
    const strong = (patched.headers.get('etag') ?? '').replace('W/', '');
    const again = await scim(
      'PATCH',
      `/Users/${id}`,
      patch({ op: 'replace', path: 'title', value: 'c' }),
      { 'if-match': strong },
    );
    expect(again.status).toBe(200);
    expect((await scim('DELETE', `/Users/${id}`, undefined, { 'if-match': '*' })).status).toBe(204);
  });

  it('answers 304 to a GET whose If-None-Match names the current version', async () => {
    const groupId = await createGroup('Team');
    const current = (await scim('GET', `/Groups/${groupId}`)).headers.get('etag') ?? '';
    const unchanged = await scim('GET', `/Groups/${groupId}`, undefined, {
      'if-none-match': current,
    });
    expect(unchanged.status).toBe(304);
    expect(unchanged.text).toBe('');
    expect(unchanged.headers.get('etag')).toBe(current);
    await scim(
      'PATCH',
      `/Groups/${groupId}`,
      patch({ op: 'replace', path: 'displayName', value: 'T' }),
    );
    const changed = await scim('GET', `/Groups/${groupId}`, undefined, {
      'if-none-match': current,
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ displayname: 'T' });
  });

  it('ignores If-Match on a server with the kestra profile, which advertises no ETags', async () => {
    const kestra = await startScimServer({ token: TOKEN });
    try {
      const created = await request(kestra, 'POST', '/Users', user('alice'));
      const id = z.object({ id: z.string() }).parse(created.body).id;
      const reply = await request(kestra, 'PUT', `/Users/${id}`, user('alice'), {
        'if-match': 'W/"7"',
      });
      expect(reply.status).toBe(200);
      expect(reply.body).not.toHaveProperty('meta.version');
    } finally {
      await kestra.close();
    }
  });
});

describe('PATCH without locking', () => {
  it('loses member adds when 12 PATCHes to one group run concurrently', async () => {
    const users = await Promise.all(
      Array.from({ length: 12 }, (_, i) => createUser(`c-${i}`, {}, slow)),
    );
    const groupId = await createGroup('Concurrent', [], slow);
    const replies = await Promise.all(
      users.map((id) => request(slow, 'PATCH', `/Groups/${groupId}`, addMember(id))),
    );
    // Every PATCH is told it succeeded...
    expect(replies.map((r) => r.status)).toEqual(users.map(() => 200));
    // ...yet each wrote back the member list it read before the others wrote.
    const members = await groupMembers(groupId, slow);
    expect(members.length).toBeGreaterThanOrEqual(1);
    expect(members.length).toBeLessThan(12);
    expect(users).toEqual(expect.arrayContaining(members));
  });

  it('keeps every member add when the same PATCHes run one after another', async () => {
    const users = await Promise.all(
      Array.from({ length: 12 }, (_, i) => createUser(`s-${i}`, {}, slow)),
    );
    const groupId = await createGroup('Sequential', [], slow);
    for (const id of users) {
      expect((await request(slow, 'PATCH', `/Groups/${groupId}`, addMember(id))).status).toBe(200);
    }
    expect(await groupMembers(groupId, slow)).toEqual(users);
  });

  it('loses a concurrent change to another attribute of the same user', async () => {
    const id = await createUser('alice', { title: 'CTO' }, slow);
    const replies = await Promise.all([
      request(slow, 'PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'title', value: 'CEO' })),
      request(
        slow,
        'PATCH',
        `/Users/${id}`,
        patch({ op: 'replace', path: 'active', value: false }),
      ),
    ]);
    expect(replies.map((r) => r.status)).toEqual([200, 200]);
    // Whichever PATCH wrote last put back the other attribute as it read it.
    const [stored] = (await slowControl.state()).users;
    const outcome = [stored?.active, stored?.extra['title']];
    expect([
      [false, 'CTO'],
      [true, 'CEO'],
    ]).toContainEqual(outcome);
  });

  it('lets If-Match prevent the lost update: the second write gets 412', async () => {
    const [a, b] = [await createUser('a', {}, slow), await createUser('b', {}, slow)];
    const groupId = await createGroup('Guarded', [], slow);
    const etag = (await request(slow, 'GET', `/Groups/${groupId}`)).headers.get('etag') ?? '';
    const replies = await Promise.all(
      [a, b].map((id) =>
        request(slow, 'PATCH', `/Groups/${groupId}`, addMember(id), { 'if-match': etag }),
      ),
    );
    expect(replies.map((r) => r.status).sort()).toEqual([200, 412]);
    expect(await groupMembers(groupId, slow)).toHaveLength(1);
  });

  it('waits patchDelayMs between the read and the write', async () => {
    const groupId = await createGroup('Slow', [], slow);
    const started = performance.now();
    const reply = await request(
      slow,
      'PATCH',
      `/Groups/${groupId}`,
      patch({ op: 'replace', path: 'displayName', value: 'Slower' }),
    );
    expect(reply.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(PATCH_DELAY_MS - 5);
  });

  it('does not write back a member deleted during the window, and 404s a group deleted in it', async () => {
    const [a, b] = [await createUser('a', {}, slow), await createUser('b', {}, slow)];
    const groupId = await createGroup('Team', [a], slow);
    const patched = request(slow, 'PATCH', `/Groups/${groupId}`, addMember(b));
    await new Promise((resolve) => setTimeout(resolve, PATCH_DELAY_MS / 3));
    expect((await request(slow, 'DELETE', `/Users/${a}`)).status).toBe(204);
    expect((await patched).status).toBe(200);
    expect(await groupMembers(groupId, slow)).toEqual([b]);

    const renamed = request(
      slow,
      'PATCH',
      `/Groups/${groupId}`,
      patch({ op: 'replace', path: 'displayName', value: 'Gone' }),
    );
    await new Promise((resolve) => setTimeout(resolve, PATCH_DELAY_MS / 3));
    expect((await request(slow, 'DELETE', `/Groups/${groupId}`)).status).toBe(204);
    expectScimError(await renamed, 404);
  });

  it('yields at least one macrotask even without a delay, so PATCHes interleave', async () => {
    const users = await Promise.all(Array.from({ length: 12 }, (_, i) => createUser(`i-${i}`)));
    const groupId = await createGroup('Interleaved');
    const replies = await Promise.all(
      users.map((id) => scim('PATCH', `/Groups/${groupId}`, addMember(id))),
    );
    expect(replies.every((r) => r.status === 200)).toBe(true);
    // Without a delay the loss depends on how requests arrive; the state stays consistent.
    const members = await groupMembers(groupId);
    expect(members.length).toBeGreaterThanOrEqual(1);
    expect(users).toEqual(expect.arrayContaining(members));
    const state = await control.state();
    expect(state.groups[0]?.members).toEqual(members);
  });
});

describe('the control API and the web page', () => {
  it('keeps reset, the request log, the integration switch and faults working', async () => {
    await createUser('alice');
    const log = await control.requests();
    expect(log.map((e) => [e.method, e.scimPath, e.status])).toEqual([['POST', '/Users', 201]]);
    await control.setEnabled(false);
    expectScimError(await scim('GET', '/Users'), 403);
    await control.setEnabled(true);
    await control.injectFaults({ status: 503, retryAfter: 2, pathPrefix: '/Groups' });
    const faulted = await scim('POST', '/Groups', { schemas: [GROUP_URN], displayName: 'G' });
    expect(faulted.status).toBe(503);
    expect(faulted.headers.get('retry-after')).toBe('2');
    await control.injectFaults({ status: 502, method: 'PATCH', phase: 'after' });
    const id = (await control.state()).users[0]?.id ?? '';
    const late = await scim(
      'PATCH',
      `/Users/${id}`,
      patch({ op: 'replace', path: 'title', value: 'x' }),
    );
    expect(late.status).toBe(502);
    expect((await control.state()).users[0]?.extra).toEqual({ title: 'x' });
    await control.reset();
    expect(await control.state()).toEqual({ integrationEnabled: true, users: [], groups: [] });
  });

  it('delays an unlocked PATCH with an injected latency before it reads', async () => {
    const groupId = await createGroup('Lagging');
    const user1 = await createUser('u1');
    await control.injectFaults({ latencyMs: 40, method: 'PATCH' });
    const started = performance.now();
    expect((await scim('PATCH', `/Groups/${groupId}`, addMember(user1))).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
  });

  it('serves the web page, named as a generic server', async () => {
    const web = await startScimServer({ token: TOKEN, web: true, profile: 'generic' });
    try {
      await request(web, 'POST', '/Users', user('alice', { title: 'CTO' }));
      const page = await fetch(`${web.origin}/`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('Generic RFC 7644 SCIM server: tenant main');
      expect(html).toContain('<h2>Users (1)</h2>');
      expect(html).not.toContain('without access to this tenant');
    } finally {
      await web.close();
    }
  });
});
