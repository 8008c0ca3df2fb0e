import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../test/support/repo-paths.js';

/**
 * Where the bench compiles the relay: inside node_modules, so the compiled files resolve the
 * project's packages, and apart from `dist/`, which other tools build and use.
 */
const BUILD_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'bench-resync-dist');

/**
 * Compiles the relay with the project's build settings and returns its CLI. The relay is
 * measured from JavaScript, as it ships: run through tsx, its transpiler alone holds about
 * 40 MB more, which would be counted as the relay's. A type error elsewhere in the tree does
 * not stop the bench (tsc still emits), it is reported.
 */
export async function buildRelay(report: (line: string) => void): Promise<string> {
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await promisify(execFile)(
      process.execPath,
      [tsc, '-p', 'tsconfig.build.json', '--outDir', BUILD_DIR],
      {
        cwd: REPO_ROOT,
        maxBuffer: 16 * 2 ** 20,
      },
    );
  } catch (error) {
    const out = error instanceof Error && 'stdout' in error ? String(error.stdout) : String(error);
    report(`tsc reported errors (the emitted build is used anyway):\n${out.slice(0, 2000)}`);
  }
  const cli = join(BUILD_DIR, 'src', 'cli.js');
  if (!existsSync(cli)) throw new Error(`the relay build left no ${cli}`);
  return cli;
}

/** The compiled relay's CLI (see {@link buildRelay}) with `args`, in a child process. */
export function spawnRelay(
  cli: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): ChildProcess {
  // BENCH_RELAY_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`: where a resync's time goes.
  const nodeArgs = (process.env.BENCH_RELAY_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  return spawn(process.execPath, [...nodeArgs, cli, ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A TypeScript entry point of the repository run by node itself (no tsx wrapper process). */
export function spawnTs(
  entry: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: REPO_ROOT,
    // Only what the child needs: a relay configured by stray variables would measure another run.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Resident and peak resident memory of a live process, in MB, from /proc (Linux). */
export async function memoryOf(pid: number): Promise<{ rssMb: number; hwmMb: number } | undefined> {
  let status: string;
  try {
    status = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rssMb: Math.round(kb('VmRSS') / 1024), hwmMb: Math.round(kb('VmHWM') / 1024) };
}

/**
 * Samples a child's memory every `everyMs` until it exits. The kernel's own high-water mark
 * (VmHWM) is read too, so a spike between two samples still counts; only the last interval
 * before exit can escape.
 */
export class MemorySampler {
  peakMb = 0;
  lastRssMb = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    everyMs = 100,
  ) {
    this.#timer = setInterval(() => void this.sample(), everyMs);
  }

  async sample(): Promise<void> {
    const memory = await memoryOf(this.pid);
    if (memory === undefined) return;
    this.lastRssMb = memory.rssMb;
    this.peakMb = Math.max(this.peakMb, memory.hwmMb, memory.rssMb);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Collects a stream into a string (a child's stdout or stderr). */
export function collect(stream: NodeJS.ReadableStream | null): { text: () => string } {
  const chunks: string[] = [];
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => chunks.push(chunk));
  return { text: () => chunks.join('') };
}

/** Runs a child to its end, sampling its memory; rejects on a signal, not on an exit code. */
export async function runMeasured(
  child: ChildProcess,
): Promise<{ code: number; stdout: string; stderr: string; seconds: number; peakRssMb: number }> {
  const started = performance.now();
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  if (child.pid === undefined) throw new Error('the child process did not start');
  const sampler = new MemorySampler(child.pid);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  sampler.stop();
  if (code === null) throw new Error(`child killed by ${signal ?? 'a signal'}: ${stderr.text()}`);
  return {
    code,
    stdout: stdout.text(),
    stderr: stderr.text(),
    seconds: Math.round(performance.now() - started) / 1000,
    peakRssMb: sampler.peakMb,
  };
}

/** Stops a child with SIGTERM and waits for it (SIGKILL after `graceMs`). */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
