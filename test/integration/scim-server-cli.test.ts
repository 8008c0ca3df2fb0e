import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const TOKEN = `cli-token-${process.pid}-${Date.now()}`;
const MAIN = join(import.meta.dirname, '../../packages/scim-server/src/main.ts');

let dir: string;

interface Run {
  readonly child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function run(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, output: () => output, exited };
}

async function firstLine(started: Run): Promise<string> {
  const deadline = Date.now() + 30_000;
  while (!started.output().includes('\n')) {
    if (Date.now() > deadline) throw new Error(`no output: ${started.output()}`);
    if (started.child.exitCode !== null) throw new Error(`exited: ${started.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return started.output().split('\n', 1)[0] ?? '';
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scim-server-cli-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm run scim-server', () => {
  it('prints its base URL on one line, serves, never prints the token, and stops on SIGTERM', async () => {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`);
    const started = run(['--port', '0', '--token-file', tokenFile, '--tenant', 't1', '--test-api']);
    try {
      const line = await firstLine(started);
      const match =
        /^SCIM server listening on (http:\/\/127\.0\.0\.1:\d+\/api\/v1\/t1\/integrations\/demo\/scim\/v2)$/.exec(
          line,
        );
      expect(match).not.toBeNull();
      const baseUrl = match?.[1] ?? '';
      const response = await fetch(`${baseUrl}/Users`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(response.status).toBe(200);
      const origin = new URL(baseUrl).origin;
      expect((await fetch(`${origin}/_test/state`)).status).toBe(200);
    } finally {
      started.child.kill('SIGTERM');
    }
    expect(await started.exited).toBe(0);
    expect(started.output()).not.toContain(TOKEN);
  });

  it('exits 2 with every problem named and the usage when arguments are wrong', async () => {
    const started = run(['--port', 'eighty', '--token', TOKEN, '--token-file', join(dir, 'x')]);
    expect(await started.exited).toBe(2);
    const output = started.output();
    expect(output).toContain('--port: "eighty" is not a whole number');
    expect(output).toContain('--token and --token-file: give only one of them');
    expect(output).toContain('Usage: npm run scim-server');
    expect(output).not.toContain(TOKEN);
  });

  it('exits 1 when the port is taken', async () => {
    const first = run(['--token', TOKEN]);
    try {
      const port = new URL((await firstLine(first)).replace('SCIM server listening on ', '')).port;
      const second = run(['--port', port, '--token', TOKEN]);
      expect(await second.exited).toBe(1);
      expect(second.output()).toContain('EADDRINUSE');
    } finally {
      first.child.kill('SIGTERM');
    }
    expect(await first.exited).toBe(0);
  });

  it('starts the generic profile with --profile generic --patch-delay-ms, and says so', async () => {
    const started = run([
      '--token',
      TOKEN,
      '--profile',
      'generic',
      '--patch-delay-ms',
      '50',
      '--test-api',
      '--web',
    ]);
    try {
      const baseUrl = (await firstLine(started)).replace('SCIM server listening on ', '');
      const origin = new URL(baseUrl).origin;
      const deadline = Date.now() + 30_000;
      while (started.output().split('\n').length < 3 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(started.output().split('\n')[1]).toBe(
        'profile generic: a plain RFC 7644 server (PATCH waits 50 ms between read and write)',
      );
      expect(await (await fetch(`${origin}/_test/info`)).json()).toEqual({
        profile: 'generic',
        patchDelayMs: 50,
      });
      const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/scim+json' };
      const config = await fetch(`${baseUrl}/ServiceProviderConfig`, { headers });
      expect(await config.json()).toMatchObject({ etag: { supported: true } });
      const created = await fetch(`${baseUrl}/Users`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          userName: 'a',
        }),
      });
      expect(created.status).toBe(201);
      expect(await created.text()).toBe('');
      expect(created.headers.get('etag')).toBe('W/"1"');
      expect(await (await fetch(`${origin}/`)).text()).toContain('Generic RFC 7644 SCIM server');
    } finally {
      started.child.kill('SIGTERM');
    }
    expect(await started.exited).toBe(0);
  });

  it('exits 2 on an unknown profile or a PATCH delay without the generic profile', async () => {
    const started = run(['--token', TOKEN, '--profile', 'okta', '--patch-delay-ms', '5']);
    expect(await started.exited).toBe(2);
    expect(started.output()).toContain('--profile: "okta" is not one of kestra, generic');
    expect(started.output()).toContain('--patch-delay-ms: only applies with --profile generic');
    const tooLong = run(['--token', TOKEN, '--profile', 'generic', '--patch-delay-ms', '60001']);
    expect(await tooLong.exited).toBe(2);
    expect(tooLong.output()).toContain(
      'patchDelayMs: 60001 must be a whole number from 0 to 60000',
    );
  });
});
