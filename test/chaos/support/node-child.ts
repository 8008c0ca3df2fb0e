import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';

/** How a child process ended. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A `node` child of the test, its output appended to a log file. */
export interface NodeChild {
  readonly pid: number;
  /** Undefined while it runs. */
  readonly exited: ChildExit | undefined;
  /** Settles when it has exited (or could not be spawned). */
  readonly exit: Promise<ChildExit>;
  signal(signal: NodeJS.Signals): void;
}

/**
 * Spawns `node script ...args` directly (no npx or shell in between, so a signal reaches the
 * program itself), with stdout and stderr appended to `logFile`.
 */
export async function spawnNode(
  script: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string },
): Promise<NodeChild> {
  const log = await open(options.logFile, 'a');
  let child;
  try {
    child = spawn(process.execPath, [script, ...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', log.fd, log.fd],
    });
  } finally {
    await log.close();
  }
  const state: { exited: ChildExit | undefined } = { exited: undefined };
  const exit = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => {
      state.exited = { code, signal };
      resolve(state.exited);
    });
    child.once('error', () => {
      state.exited ??= { code: null, signal: null };
      resolve(state.exited);
    });
  });
  const pid = child.pid;
  if (pid === undefined) {
    await exit;
    throw new Error(`could not spawn node ${script} (see ${options.logFile})`);
  }
  // A test runner that dies without its teardown must not leave relays or servers behind.
  const onExit = (): void => {
    if (state.exited === undefined) child.kill('SIGKILL');
  };
  process.once('exit', onExit);
  void exit.then(() => process.removeListener('exit', onExit));
  return {
    pid,
    get exited() {
      return state.exited;
    },
    exit,
    signal(signal) {
      if (state.exited === undefined) child.kill(signal);
    },
  };
}
