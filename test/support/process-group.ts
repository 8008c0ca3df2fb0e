import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A server the tests started in a process group of its own (`detached`), so that a signal
 * reaches the wrapper script and every process it started: kc.sh and java, rabbitmq-server and
 * beam.smp with its helpers.
 */
export interface GroupProcess {
  readonly pid: number;
  /** Whether the group's leader has exited. */
  readonly exited: boolean;
  /** Settles once the leader has exited (or could not be spawned). */
  readonly exit: Promise<void>;
  /** Sends `signal` to the whole group; a group that is gone already is not an error. */
  signal(signal: NodeJS.Signals): void;
  /**
   * SIGTERM, up to `graceMs` for the leader to exit, then SIGKILL; the group gets a SIGKILL at
   * the end either way, for helpers that outlive their leader.
   */
  stop(graceMs: number): Promise<void>;
  /** SIGKILL to the group, as a crash or an OOM killer would, and the leader's exit awaited. */
  kill(): Promise<void>;
}

/** Spawns `command` in a new process group, its stdout and stderr appended to `logFile`. */
export async function spawnGroup(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string },
): Promise<GroupProcess> {
  const log = await open(options.logFile, 'a');
  let child;
  try {
    child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
    });
  } finally {
    await log.close();
  }
  const pid = child.pid;
  // An object, not a let: it is set from event callbacks.
  const state = { exited: false };
  const exit = new Promise<void>((resolve) => {
    const done = (): void => {
      state.exited = true;
      resolve();
    };
    child.once('exit', done);
    // A spawn failure (no such file, not executable) emits 'error' and never 'exit'.
    child.once('error', done);
  });
  if (pid === undefined) {
    await exit;
    throw new Error(`could not spawn ${command} (see ${options.logFile})`);
  }
  const signal = (name: NodeJS.Signals): void => {
    try {
      process.kill(-pid, name);
    } catch {
      // Already gone.
    }
  };
  // Last line of defence against orphans when the test runner exits without its teardown.
  const onExit = (): void => {
    signal('SIGKILL');
  };
  // Kept until stop() or kill(): helpers can outlive a leader that died on its own.
  process.once('exit', onExit);

  return {
    pid,
    get exited() {
      return state.exited;
    },
    exit,
    signal,
    async stop(graceMs) {
      if (!state.exited) {
        signal('SIGTERM');
        const gone = await Promise.race([
          exit.then(() => true),
          sleep(graceMs, false, { ref: false }),
        ]);
        if (!gone) signal('SIGKILL');
        await exit;
      }
      signal('SIGKILL');
      process.removeListener('exit', onExit);
    },
    async kill() {
      signal('SIGKILL');
      await exit;
      process.removeListener('exit', onExit);
    },
  };
}
