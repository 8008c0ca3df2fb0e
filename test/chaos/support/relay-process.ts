import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../../support/repo-paths.js';
import { spawnNode, type ChildExit, type NodeChild } from './node-child.js';

/** How often the relay's peak RSS is read while it runs. */
const RSS_SAMPLE_MS = 250;

/** What a SIGTERM cost: how the process ended and how long it took. */
export interface TerminateResult extends ChildExit {
  readonly ms: number;
}

/**
 * The relay as a child process (`node cli.js run`), started, SIGKILLed and SIGTERMed by a
 * scenario, with its output appended to one log file across restarts and its peak RSS (VmHWM)
 * sampled from /proc: the maximum over all its runs.
 */
export class RelayProcess {
  #child: NodeChild | undefined;
  #sampler: NodeJS.Timeout | undefined;
  #peakKb = 0;
  #starts = 0;

  constructor(
    private readonly options: {
      readonly entry: string;
      readonly env: () => NodeJS.ProcessEnv;
      readonly logFile: string;
      readonly httpPort: number;
    },
  ) {}

  get logFile(): string {
    return this.options.logFile;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exited === undefined;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** How many times the relay was started. */
  get starts(): number {
    return this.#starts;
  }

  /** The highest VmHWM seen in any run, in kB. */
  get peakRssKb(): number {
    return this.#peakKb;
  }

  /** The child of the current (or last) run. */
  get child(): NodeChild | undefined {
    return this.#child;
  }

  /** Starts `run`; `overrides` replace settings for this run only (a wrong token, say). */
  async start(overrides: Readonly<Record<string, string>> = {}): Promise<void> {
    if (this.running) throw new Error('the relay is running already');
    const child = await spawnNode(this.options.entry, ['run'], {
      cwd: REPO_ROOT,
      env: { ...this.options.env(), ...overrides },
      logFile: this.options.logFile,
    });
    this.#child = child;
    this.#starts += 1;
    this.#sampler = setInterval(() => {
      void this.#sample(child.pid);
    }, RSS_SAMPLE_MS);
    this.#sampler.unref();
    void child.exit.then(() => {
      clearInterval(this.#sampler);
    });
  }

  /** SIGKILL, as a crash or the OOM killer would; resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exited !== undefined) return;
    await this.#sample(child.pid);
    child.signal('SIGKILL');
    await child.exit;
  }

  /** SIGTERM, then waits up to `timeoutMs` for the exit; SIGKILL after that (and says so). */
  async terminate(timeoutMs = 60_000): Promise<TerminateResult & { killed: boolean }> {
    const child = this.#child;
    if (child === undefined || child.exited !== undefined) {
      return { code: child?.exited?.code ?? null, signal: null, ms: 0, killed: false };
    }
    await this.#sample(child.pid);
    const began = performance.now();
    child.signal('SIGTERM');
    const ended = await Promise.race([child.exit, sleep(timeoutMs, undefined, { ref: false })]);
    if (ended === undefined) {
      child.signal('SIGKILL');
      const exit = await child.exit;
      return { ...exit, ms: performance.now() - began, killed: true };
    }
    return { ...ended, ms: performance.now() - began, killed: false };
  }

  /** Stops the relay at the end of a scenario, whatever state it is in. */
  async dispose(): Promise<void> {
    if (this.running) await this.terminate(35_000);
    clearInterval(this.#sampler);
  }

  /** `/readyz`'s status, or undefined when nothing answers. */
  async readyStatus(): Promise<number | undefined> {
    try {
      const response = await fetch(`${this.#origin()}/readyz`, {
        signal: AbortSignal.timeout(5_000),
      });
      await response.body?.cancel();
      return response.status;
    } catch {
      return undefined;
    }
  }

  /** Waits until `/readyz` answers `status`; returns how long that took. */
  async waitReady(status = 200, timeoutMs = 60_000): Promise<number> {
    const began = performance.now();
    for (;;) {
      if (!this.running) {
        throw new Error(`the relay exited (${JSON.stringify(this.#child?.exited)}) before /readyz`);
      }
      if ((await this.readyStatus()) === status) return performance.now() - began;
      if (performance.now() - began > timeoutMs) {
        throw new Error(`/readyz did not answer ${status} within ${timeoutMs} ms`);
      }
      await sleep(100);
    }
  }

  /** The value of one metric sample of `/metrics` (e.g. `scim_relay_scim_lost_total`). */
  async metric(sample: string): Promise<number> {
    const response = await fetch(`${this.#origin()}/metrics`, {
      signal: AbortSignal.timeout(5_000),
    });
    const text = await response.text();
    for (const line of text.split('\n')) {
      if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
    }
    throw new Error(`/metrics has no sample ${sample}`);
  }

  /** The relay's log size now, to read only what a later step wrote. */
  async logOffset(): Promise<number> {
    try {
      return (await stat(this.options.logFile)).size;
    } catch {
      return 0;
    }
  }

  /** The relay's JSON log lines from `offset` on (other lines are skipped). */
  async logLines(offset = 0): Promise<LogLine[]> {
    const text = (await readFile(this.options.logFile)).subarray(offset).toString('utf8');
    const lines: LogLine[] = [];
    for (const raw of text.split('\n')) {
      if (!raw.startsWith('{')) continue;
      try {
        const parsed: unknown = JSON.parse(raw);
        if (typeof parsed === 'object' && parsed !== null) {
          const level: unknown = Reflect.get(parsed, 'level');
          const msg: unknown = Reflect.get(parsed, 'msg');
          lines.push({
            level: typeof level === 'string' ? level : String(level),
            msg: typeof msg === 'string' ? msg : '',
            raw,
          });
        }
      } catch {
        // Half a line, written as the process was killed.
      }
    }
    return lines;
  }

  #origin(): string {
    return `http://127.0.0.1:${this.options.httpPort}`;
  }

  async #sample(pid: number): Promise<void> {
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
      if (match?.[1] !== undefined) this.#peakKb = Math.max(this.#peakKb, Number(match[1]));
    } catch {
      // Gone between two samples; the previous sample stands.
    }
  }
}

/** One line of the relay's pino log. */
export interface LogLine {
  /** The label: `info`, `warn`, `error`, `fatal`... */
  readonly level: string;
  readonly msg: string;
  readonly raw: string;
}
