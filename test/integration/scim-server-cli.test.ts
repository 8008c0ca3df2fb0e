import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const TOKEN = `cli-token-${process.pid}-${Date.now()}`;
const MAIN = join(import.meta.dirname, '../../src/scim-server/main.ts');

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
});
