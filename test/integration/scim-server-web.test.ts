import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ScimServerControl } from '../../packages/scim-server/src/control-client.js';
import { startScimServer, type RunningScimServer } from '../../packages/scim-server/src/server.js';

const TOKEN = `web-token-${process.pid}-${Date.now()}`;
const MAIN = join(import.meta.dirname, '../../packages/scim-server/src/main.ts');
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';

const servers: RunningScimServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(
  options: { web?: boolean; testApi?: boolean } = {},
): Promise<RunningScimServer> {
  const server = await startScimServer({ token: TOKEN, tenant: 'acme', ...options });
  servers.push(server);
  return server;
}

async function scim(
  server: RunningScimServer,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ id: string }> {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/scim+json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  return text === '' ? { id: '' } : (JSON.parse(text) as { id: string });
}

async function createUser(
  server: RunningScimServer,
  user: Record<string, unknown>,
): Promise<{ id: string }> {
  return scim(server, 'POST', '/Users', { schemas: [USER_SCHEMA], ...user });
}

/** The text of the page's cells, row by row, for one table (`Users` or `Groups`). */
function tableRows(html: string, heading: 'Users' | 'Groups'): string[][] {
  const section = html.split(`<h2>${heading} (`)[1]?.split('<h2>')[0] ?? '';
  const body = section.split('<tbody>')[1]?.split('</tbody>')[0] ?? '';
  return body
    .split('</tr>')
    .filter((row) => row.includes('<td'))
    .map((row) =>
      [...row.matchAll(/<td[^>]*>(.*?)<\/td>/gs)].map((m) =>
        (m[1] ?? '').replace(/<span class="member">(.*?)<\/span>/g, '[$1]'),
      ),
    );
}

describe('SCIM server demo page', () => {
  it('lists the users and groups with their members, sorted, as the SCIM side holds them', async () => {
    const server = await start({ web: true });
    const alice = await createUser(server, {
      userName: 'alice',
      externalId: 'kc-alice',
      name: { givenName: 'Alice', familyName: 'Liddell' },
      emails: [
        { value: 'alice@work.example', type: 'work' },
        { value: 'alice@example.org', primary: true },
      ],
      active: true,
    });
    const bob = await createUser(server, { userName: 'Bob', active: false });
    await createUser(server, { userName: 'carol' });
    await scim(server, 'POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: '/eng/backend',
      externalId: 'kc-backend',
      members: [{ value: bob.id }, { value: alice.id }],
    });
    await scim(server, 'POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: '/empty' });

    const response = await fetch(`${server.origin}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await response.text();
    expect(html).toMatch(/<meta http-equiv="refresh" content="\d+">/);
    expect(html).toContain('<h2>Users (3)</h2>');
    expect(html).toContain('<h2>Groups (2)</h2>');
    expect(html).toContain('/api/v1/acme/integrations/demo/scim/v2');
    expect(tableRows(html, 'Users')).toEqual([
      ['alice', 'Alice Liddell', 'alice@example.org', 'yes', 'kc-alice'],
      ['Bob', '-', '-', 'no', '-'],
      ['carol', '-', '-', 'yes', '-'],
    ]);
    expect(tableRows(html, 'Groups')).toEqual([
      ['/empty', '-', 'no members'],
      ['/eng/backend', 'kc-backend', '[alice] [Bob]'],
    ]);
  });

  it('shows each change on the next load: a rename, a removed member, a deleted user', async () => {
    const server = await start({ web: true });
    const dave = await createUser(server, { userName: 'dave' });
    const erin = await createUser(server, { userName: 'erin' });
    await scim(server, 'POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: 'ops',
      members: [{ value: dave.id }, { value: erin.id }],
    });
    await scim(server, 'PATCH', `/Users/${dave.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'userName', value: 'david' }],
    });
    await scim(server, 'DELETE', `/Users/${erin.id}`);

    const html = await (await fetch(`${server.origin}/`)).text();
    expect(tableRows(html, 'Users').map((row) => row[0])).toEqual(['david']);
    expect(tableRows(html, 'Groups')).toEqual([['ops', '-', '[david]']]);
    expect(html).toContain('1 more user(s) exist globally without access to this tenant');
  });

  it('escapes HTML in every value, so a hostile userName shows as text', async () => {
    const server = await start({ web: true });
    const hostile = await createUser(server, {
      userName: '<script>alert("x")</script>',
      name: { givenName: '<b>Eve</b>', familyName: "O'Hara & co" },
      externalId: '"><img src=x onerror=alert(1)>',
    });
    await scim(server, 'POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: '</table><script>bad()</script>',
      members: [{ value: hostile.id }],
    });
    const html = await (await fetch(`${server.origin}/`)).text();
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>Eve');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('&lt;b&gt;Eve&lt;/b&gt; O&#39;Hara &amp; co');
    expect(html).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('&lt;/table&gt;&lt;script&gt;bad()&lt;/script&gt;');
    expect(tableRows(html, 'Groups')[0]?.[2]).toBe(
      '[&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;]',
    );
  });

  it('says when the integration is switched off, and stays out of the request log', async () => {
    const server = await start({ web: true, testApi: true });
    const control = new ScimServerControl(server.origin);
    await control.setEnabled(false);
    const html = await (await fetch(`${server.origin}/`)).text();
    expect(html).toContain('The integration is switched off');
    expect(html).toContain('No users yet.');
    expect(html).toContain('No groups yet.');
    expect(await control.requests()).toEqual([]);
  });

  it('is not served without the web option: / is then a SCIM 404', async () => {
    const server = await start();
    const response = await fetch(`${server.origin}/`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toContain('application/scim+json');
    expect(await response.text()).not.toContain('<html');
  });

  it('is switched on by --web on the command line', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', MAIN, '--port', '0', '--token', TOKEN, '--web'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      let output = '';
      const origin = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no base URL printed: ${output}`));
        }, 30_000);
        const read = (chunk: Buffer): void => {
          output += chunk.toString();
          const match = /listening on (http:\/\/[\d.]+:\d+)\//.exec(output);
          if (match?.[1] !== undefined) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        };
        child.stdout.on('data', read);
        child.stderr.on('data', read);
        child.once('exit', () => {
          clearTimeout(timer);
          reject(new Error(`exited: ${output}`));
        });
      });
      const response = await fetch(`${origin}/`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('<h2>Users (0)</h2>');
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
