import { setTimeout as sleep } from 'node:timers/promises';
import { ScimServerControl } from '../../../packages/scim-server/src/control-client.js';
import { freePort } from '../../support/free-port.js';
import { REPO_ROOT } from '../../support/repo-paths.js';
import { spawnNode, type NodeChild } from './node-child.js';

/**
 * The project's Kestra-compatible SCIM server as a child process on a fixed port, with its test
 * and fault API, so that a scenario can kill it and start an empty one where the relay expects
 * its target (Kestra restored from a backup, an integration re-created).
 */
export class ScimProcess {
  #child: NodeChild | undefined;
  readonly control: ScimServerControl;

  private constructor(
    private readonly options: {
      readonly entry: string;
      readonly port: number;
      readonly token: string;
      readonly logFile: string;
    },
  ) {
    this.control = new ScimServerControl(this.origin);
  }

  /** Starts a server on a free port. */
  static async start(options: {
    entry: string;
    token: string;
    logFile: string;
  }): Promise<ScimProcess> {
    const server = new ScimProcess({ ...options, port: await freePort() });
    await server.start();
    return server;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.options.port}`;
  }

  /** The base URL the relay's `SCIM_URL` names (the server's default tenant and integration). */
  get baseUrl(): string {
    return `${this.origin}/api/v1/main/integrations/demo/scim/v2`;
  }

  get token(): string {
    return this.options.token;
  }

  /** Spawns the server and waits until its test API answers. */
  async start(): Promise<void> {
    if (this.#child !== undefined && this.#child.exited === undefined) {
      throw new Error('the SCIM server is running already');
    }
    const child = await spawnNode(
      this.options.entry,
      // `--token=…`: a random token may start with a dash, which would read as an option.
      ['--port', String(this.options.port), `--token=${this.options.token}`, '--test-api'],
      { cwd: REPO_ROOT, env: { ...process.env }, logFile: this.options.logFile },
    );
    this.#child = child;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exited !== undefined) {
        throw new Error(`the SCIM server exited at start (see ${this.options.logFile})`);
      }
      try {
        await this.control.info();
        return;
      } catch {
        if (Date.now() > deadline) {
          throw new Error(`the SCIM server did not answer within 30 s (${this.options.logFile})`);
        }
        await sleep(100);
      }
    }
  }

  /** SIGKILL: everything it held is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exited !== undefined) return;
    child.signal('SIGKILL');
    await child.exit;
  }

  /** Kills the server and starts an empty one on the same port. */
  async restartEmpty(): Promise<void> {
    await this.kill();
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.kill();
  }
}
