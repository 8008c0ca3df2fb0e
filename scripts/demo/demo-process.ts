import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { logTail } from '../../test/support/keycloak-process.js';
import { spawnGroup, type GroupProcess } from '../../test/support/process-group.js';
import { REPO_ROOT } from '../../test/support/repo-paths.js';

/**
 * Runs one of the project's TypeScript entry points (e.g. `src/cli.ts run`) through tsx, as
 * `npm run relay` would, in a process group of its own with its output in `logFile`. Being
 * its own group, it does not receive the terminal's Ctrl-C: the demo stops it, in order.
 */
export function startTsProcess(
  entry: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; logFile: string },
): Promise<GroupProcess> {
  return spawnGroup(process.execPath, ['--import', 'tsx', join(REPO_ROOT, entry), ...args], {
    cwd: REPO_ROOT,
    env: options.env,
    logFile: options.logFile,
  });
}

/**
 * Waits until `url` answers 200, failing early (with the log's tail) when `child` exits, and
 * after `timeoutMs`, or when `signal` aborts.
 */
export async function waitForHttp200(
  url: string,
  options: {
    child: GroupProcess;
    logFile: string;
    name: string;
    timeoutMs: number;
    signal?: AbortSignal | undefined;
  },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    options.signal?.throwIfAborted();
    if (options.child.exited) {
      throw new Error(
        `${options.name} exited during start-up (log: ${options.logFile}):\n${await logTail(options.logFile)}`,
      );
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
      await response.body?.cancel();
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${options.name} did not answer 200 at ${url} within ${options.timeoutMs} ms (${last}; log: ${options.logFile}):\n${await logTail(options.logFile)}`,
      );
    }
    await sleep(250);
  }
}

/**
 * Follows a growing log file of JSON lines (pino) and hands `onLine` each line at `minLevel` or
 * above as `msg`, so the terminal shows what the relay does without its structured noise. Lines
 * that are not JSON are handed over as they are. Returns a function that stops following.
 */
export function followJsonLog(
  file: string,
  onLine: (line: string, level: number) => void,
  options: { minLevel?: number; intervalMs?: number } = {},
): () => Promise<void> {
  const minLevel = options.minLevel ?? 30;
  let offset = 0;
  let partial = '';
  // An object, not a let: it is set from the returned function.
  const state = { stopped: false };
  const readNew = async (): Promise<void> => {
    let handle;
    try {
      handle = await open(file, 'r');
    } catch {
      return;
    }
    try {
      const buffer = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
        partial += buffer.subarray(0, bytesRead).toString('utf8');
      }
    } finally {
      await handle.close();
    }
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      const parsed = parseLogLine(line);
      if (parsed === undefined) onLine(line, 30);
      else if (parsed.level >= minLevel) onLine(parsed.msg, parsed.level);
    }
  };
  const loop = (async () => {
    while (!state.stopped) {
      await readNew();
      await sleep(options.intervalMs ?? 300);
    }
    await readNew();
  })();
  return async () => {
    state.stopped = true;
    await loop;
  };
}

/** pino's level numbers, for logs written with level labels (`"level":"info"`). */
const LEVELS: Readonly<Record<string, number>> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
};

/** `level` (as pino's number) and `msg` of a pino line, or `undefined` when it is not one. */
export function parseLogLine(line: string): { level: number; msg: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const label: unknown = Reflect.get(parsed, 'level');
  const msg: unknown = Reflect.get(parsed, 'msg');
  const level = typeof label === 'string' ? LEVELS[label] : label;
  if (typeof level !== 'number' || typeof msg !== 'string') return undefined;
  return { level, msg };
}

/** A level number as a word for the terminal (`warn`), or empty for info and below. */
export function levelWord(level: number): string {
  if (level >= 60) return 'FATAL';
  if (level >= 50) return 'ERROR';
  if (level >= 40) return 'WARN';
  return '';
}
