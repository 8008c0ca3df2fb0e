import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PermanentError } from '../../packages/scim-server/src/errors.js';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';

const TOKEN = `fault-token-${process.pid}-${Date.now()}`;
const USER_URN = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_URN = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_URN = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

let server: RunningScimServer;
let control: ScimServerControl;

async function scim(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

const newUser = (userName: string): unknown => ({ schemas: [USER_URN], userName });

beforeAll(async () => {
  server = await startScimServer({ token: TOKEN, testApi: true });
  control = new ScimServerControl(server.origin);
});

afterAll(async () => {
  await server.close();
});

beforeEach(async () => {
  await control.reset();
});

describe('fault injection', () => {
  it('answers the next N requests with a status, a SCIM error and Retry-After in seconds', async () => {
    await control.injectFaults({ status: 503, retryAfter: 7, count: 2 });
    for (let i = 0; i < 2; i++) {
      const response = await scim('GET', '/Users');
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('7');
      expect(await response.json()).toEqual({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
        status: '503',
        detail: 'injected fault: HTTP 503',
      });
    }
    expect((await scim('GET', '/Users')).status).toBe(200);
  });

  it('sends Retry-After as an HTTP date and a custom body', async () => {
    const date = new Date(Date.now() + 30_000).toUTCString();
    const body = {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '429',
      detail: 'slow down',
    };
    await control.injectFaults({ status: 429, retryAfter: date, body });
    const response = await scim('POST', '/Users', newUser('a'));
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe(date);
    expect(await response.json()).toEqual(body);
    expect((await control.state()).users).toEqual([]);
  });

  it('hits only requests matching the method and path prefix', async () => {
    await control.injectFaults({ status: 500, method: 'post', pathPrefix: '/Groups' });
    expect((await scim('GET', '/Groups')).status).toBe(200);
    expect((await scim('POST', '/Users', newUser('a'))).status).toBe(201);
    const group = { schemas: [GROUP_URN], displayName: 'G' };
    expect((await scim('POST', '/Groups', group)).status).toBe(500);
    expect((await scim('POST', '/Groups', group)).status).toBe(201);
  });

  it('adds latency before handling the request normally', async () => {
    await control.injectFaults({ latencyMs: 300 });
    const started = performance.now();
    const response = await scim('POST', '/Users', newUser('slow'));
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(response.status).toBe(201);
  });

  it('drops the connection before processing: no answer and nothing stored', async () => {
    await control.injectFaults({ drop: true });
    await expect(scim('POST', '/Users', newUser('lost'))).rejects.toThrow();
    expect((await control.state()).users).toEqual([]);
    expect((await scim('POST', '/Users', newUser('lost'))).status).toBe(201);
  });

  it('drops the connection after processing: stored, but the client never learns it', async () => {
    await control.injectFaults({ drop: true, phase: 'after', method: 'POST' });
    await expect(scim('POST', '/Users', newUser('ghost'))).rejects.toThrow();
    expect((await control.state()).users).toMatchObject([{ userName: 'ghost' }]);
    expect((await scim('POST', '/Users', newUser('ghost'))).status).toBe(409);
  });

  it('answers a status after processing, like a proxy failing after the backend committed', async () => {
    const created = await scim('POST', '/Users', newUser('pat'));
    const { id } = z.object({ id: z.string() }).parse(await created.json());
    await control.injectFaults({ status: 502, phase: 'after' });
    const patched = await scim('PATCH', `/Users/${id}`, {
      schemas: [PATCH_URN],
      Operations: [{ op: 'replace', path: 'active', value: false }],
    });
    expect(patched.status).toBe(502);
    expect((await control.state()).users).toMatchObject([{ id, active: false }]);
  });

  it('lists pending faults and clears them', async () => {
    await control.injectFaults({ status: 500, count: 3 });
    await scim('GET', '/Users');
    const pending = await fetch(`${server.origin}/_test/faults`);
    expect(await pending.json()).toMatchObject({
      faults: [{ remaining: 2, spec: { status: 500 } }],
    });
    await control.clearFaults();
    expect((await scim('GET', '/Users')).status).toBe(200);
  });

  it('refuses a fault spec that does nothing or contradicts itself', async () => {
    await expect(control.injectFaults({ count: 2 })).rejects.toThrow(PermanentError);
    await expect(control.injectFaults({ status: 500, drop: true })).rejects.toThrow(/HTTP 400/);
    await expect(control.injectFaults({ status: 99 })).rejects.toThrow(/HTTP 400/);
  });
});

describe('request log', () => {
  it('records method, paths, query, status, body and fault of every SCIM request', async () => {
    await scim('POST', '/Users', newUser('logged'));
    await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "logged"')}&count=3`);
    await control.injectFaults({ status: 503 });
    await scim('DELETE', '/Users/x');
    await control.injectFaults({ drop: true });
    await scim('GET', '/Groups').catch(() => undefined);

    const entries = await control.requests();
    expect(entries.map((e) => [e.method, e.scimPath, e.status])).toEqual([
      ['POST', '/Users', 201],
      ['GET', '/Users', 200],
      ['DELETE', '/Users/x', 503],
      ['GET', '/Groups', null],
    ]);
    expect(entries[0]).toMatchObject({
      path: '/api/v1/main/integrations/demo/scim/v2/Users',
      body: { userName: 'logged' },
    });
    expect(entries[1]?.query).toEqual({ filter: 'userName eq "logged"', count: '3' });
    expect(entries[2]?.fault).toBe('status 503 (before)');
    expect(entries[3]?.fault).toBe('drop (before)');
    expect(entries.filter((e) => e.method !== 'GET')).toHaveLength(2);
  });

  it('reads entries after a seq, and keeps counting across clears', async () => {
    await scim('GET', '/Users');
    const [first] = await control.requests();
    await scim('GET', '/Groups');
    const newer = await control.requests({ since: first?.seq ?? 0 });
    expect(newer.map((e) => e.scimPath)).toEqual(['/Groups']);
    await control.clearRequests();
    expect(await control.requests()).toEqual([]);
    await scim('GET', '/Users');
    const [afterClear] = await control.requests();
    expect(afterClear?.seq).toBeGreaterThan(newer[0]?.seq ?? Infinity);
  });

  it('does not log the test API itself', async () => {
    await control.state();
    await control.setEnabled(true);
    expect(await control.requests()).toEqual([]);
  });
});

describe('reset', () => {
  it('clears users, groups, the log and faults, and enables the integration', async () => {
    await scim('POST', '/Users', newUser('a'));
    await scim('POST', '/Groups', { schemas: [GROUP_URN], displayName: 'G' });
    await control.injectFaults({ status: 500, count: 5, pathPrefix: '/Nothing' });
    await control.setEnabled(false);
    await control.reset();
    expect(await control.state()).toEqual({ integrationEnabled: true, users: [], groups: [] });
    expect(await control.requests()).toEqual([]);
    expect(await (await fetch(`${server.origin}/_test/faults`)).json()).toEqual({ faults: [] });
    expect((await scim('GET', '/Users')).status).toBe(200);
  });
});

describe('a second server in the same process', () => {
  it('keeps its own state and base path, and serves no test API unless asked', async () => {
    const other = await startScimServer({
      token: TOKEN,
      tenant: 'acme',
      integrationId: 'kc',
      maxPageSize: 2,
    });
    try {
      expect(other.baseUrl).toBe(`${other.origin}/api/v1/acme/integrations/kc/scim/v2`);
      const created = await fetch(`${other.baseUrl}/Users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify(newUser('only-here')),
      });
      expect(created.status).toBe(201);
      expect(created.headers.get('location')).toContain(
        '/api/v1/acme/integrations/kc/scim/v2/Users/',
      );
      expect((await control.state()).users).toEqual([]);
      expect((await fetch(`${other.origin}/_test/state`)).status).toBe(404);
    } finally {
      await other.close();
    }
    await other.close();
  });

  it('refuses bad options, naming each', async () => {
    await expect(startScimServer({ token: ' ', tenant: 'a/b', maxPageSize: 0 })).rejects.toThrow(
      /token.*\n.*tenant.*\n.*maxPageSize/s,
    );
  });
});
