import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { ScimServerControl } from '../packages/scim-server/src/control-client.js';
import { REPO_ROOT } from '../test/support/repo-paths.js';

/**
 * The project's SCIM server in a process of its own, as Kestra would be: the bench's figures
 * then count the relay's work only, not the server's requests handled on the relay's event loop.
 */
export interface ScimServerProcess {
  /** The base URL the relay's `SCIM_URL` names. */
  readonly baseUrl: string;
  readonly token: string;
  readonly control: ScimServerControl;
  stop(): Promise<void>;
}

const MAIN = 'packages/scim-server/src/main.ts';

/** Starts the server with its test API on a free port and waits for the URL it prints. */
export async function startScimServerProcess(token: string): Promise<ScimServerProcess> {
  // tsx as a loader of this Node, not its CLI: one process, whose id is the one to stop.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', MAIN, '--port', '0', '--token', token, '--test-api'],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const baseUrl = await firstUrl(child);
  const origin = new URL(baseUrl).origin;
  return {
    baseUrl,
    token,
    control: new ScimServerControl(origin),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function firstUrl(child: ChildProcess): Promise<string> {
  const stdout = child.stdout;
  if (stdout === null) throw new Error('the SCIM server has no stdout');
  const lines = createInterface({ input: stdout });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the SCIM server exited at start (code ${String(code)})`);
  });
  const listening = (async () => {
    for await (const line of lines) {
      const match = /listening on (\S+)/.exec(line);
      if (match?.[1] !== undefined) return match[1];
    }
    throw new Error('the SCIM server printed no URL');
  })();
  return Promise.race([listening, exited]);
}
