import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { ScimServerControl } from '../packages/scim-server/src/control-client.js';
import { collect, spawnTs, stopChild } from './resync-child.js';

/** The project's SCIM server in a process of its own, so its data never counts in the relay's RSS. */
export interface ResyncScimServer {
  readonly baseUrl: string;
  readonly token: string;
  readonly control: ScimServerControl;
  stop(): Promise<void>;
}

/** Starts `packages/scim-server/src/main.ts` on a free port with the test API, and waits for its URL. */
export async function startScimServerProcess(): Promise<ResyncScimServer> {
  const token = `bench-${randomBytes(12).toString('hex')}`;
  const child = spawnTs(
    'packages/scim-server/src/main.ts',
    ['--port', '0', '--token', token, '--test-api'],
    {},
  );
  const stderr = collect(child.stderr);
  const baseUrl = await firstUrl(child, stderr);
  return {
    baseUrl,
    token,
    control: new ScimServerControl(new URL(baseUrl).origin),
    stop: () => stopChild(child),
  };
}

/** The URL the server prints on its first line (scripts parse it, see main.ts). */
async function firstUrl(child: ChildProcess, stderr: { text: () => string }): Promise<string> {
  let buffered = '';
  child.stdout?.setEncoding('utf8');
  const url = new Promise<string>((resolve) => {
    child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      const match = /listening on (\S+)/.exec(buffered);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
  });
  const exited = once(child, 'exit').then(() => {
    throw new Error(`the SCIM server exited before listening: ${stderr.text()}`);
  });
  // Handled here too: once the server listens, its later exit is no error.
  exited.catch(() => undefined);
  return Promise.race([url, exited]);
}
