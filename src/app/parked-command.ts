import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { ConfigError, describeError } from '../errors.js';
import type { ParkedItem } from '../state/state-store.js';
import { RelayRunningError, commandLogger, openCommandEngine } from './command-engine.js';
import { OPERATOR_EXIT, OPERATOR_EXIT_TEXT } from './operator-exit-codes.js';
import {
  parkedListExitCode,
  parkedListJson,
  parkedListLines,
  retryExitCode,
  retryJson,
  retryLines,
  type RetryReport,
  type RetryResult,
} from './parked-format.js';
import { processOutput, type CommandOutput } from './resync-command.js';
import { readStateSummary } from './state-summary.js';

export const PARKED_USAGE = `Usage: keycloak-scim-relay parked list [--json]
       keycloak-scim-relay parked retry (KEY... | --all) [--json] [--timeout SECONDS]

Parked work is a change that failed for good (a name another entity keeps, a refusal of the
SCIM server), kept in the state with its reason; a running relay tries it again every 5 minutes.

  list     every parked item: key, kind, what, reason, attempts, first and last failure.
           Reads beside a running relay.
  retry    runs the parked work named by KEY (as \`parked list\` shows it), or all of it, now:
           reads each entity from Keycloak and makes SCIM match, as \`run\` does (same locks and
           ownership checks); what succeeds is unparked, what fails again stays parked with its
           new reason. Refused while a relay runs on the state: it retries by itself; to retry
           at once, stop it, retry, and start it again.

Options:
  --json             print one JSON document on stdout
  --all              retry every parked item
  --timeout SECONDS  stop retrying after this long (default 300); unfinished work stays parked

${OPERATOR_EXIT_TEXT}`;

/** What `parked` was asked to do. */
export type ParkedCommandOptions =
  | { readonly action: 'list'; readonly json: boolean }
  | {
      readonly action: 'retry';
      readonly json: boolean;
      /** Empty with `all`. */
      readonly keys: readonly string[];
      readonly all: boolean;
      readonly timeoutMs: number;
    };

/** The default bound of a writing command, in seconds. */
export const DEFAULT_TIMEOUT_S = 300;

/** Parses `parked`'s own arguments; every problem is a {@link ConfigError}. */
export function parseParkedArgs(argv: readonly string[]): ParkedCommandOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        json: { type: 'boolean' },
        all: { type: 'boolean' },
        timeout: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new ConfigError([describeError(error)]);
  }
  const { values, positionals } = parsed;
  const [action, ...keys] = positionals;
  const json = values.json === true;
  if (action === 'list') {
    const extra = [
      ...keys,
      ...(values.all === true ? ['--all'] : []),
      ...(values.timeout === undefined ? [] : ['--timeout']),
    ];
    if (extra.length > 0) {
      throw new ConfigError([`parked list takes only --json, not ${extra.join(' ')}`]);
    }
    return { action, json };
  }
  if (action === 'retry') {
    const all = values.all === true;
    if (all === keys.length > 0) {
      throw new ConfigError([
        all
          ? 'parked retry: give either keys or --all, not both'
          : 'parked retry: name the keys to retry (see `parked list`), or give --all',
      ]);
    }
    return { action, json, keys, all, timeoutMs: timeoutFlag(values.timeout) };
  }
  throw new ConfigError([
    action === undefined
      ? 'parked: say `list` or `retry`'
      : `parked: unknown action "${action}"; say \`list\` or \`retry\``,
  ]);
}

/** `--timeout SECONDS` of a writing command, in ms. */
export function timeoutFlag(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TIMEOUT_S * 1_000;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new ConfigError([`--timeout: expected a number of seconds above 0, got "${text}"`]);
  }
  return Math.round(n * 1_000);
}

/** `keycloak-scim-relay parked …`; returns the exit code. */
export async function parkedCommand(
  argv: readonly string[],
  config: Config,
  output: CommandOutput = processOutput(),
): Promise<number> {
  let options: ParkedCommandOptions;
  try {
    options = parseParkedArgs(argv);
  } catch (error) {
    output.err(`${describeError(error)}\n\n${PARKED_USAGE}`);
    return OPERATOR_EXIT.usage;
  }
  return options.action === 'list'
    ? listParked(config, options.json, output)
    : retryParked(config, options, output);
}

/** Prints that the command could not act, as JSON too with --json; returns 3. */
export function unavailable(output: CommandOutput, json: boolean, message: string): number {
  output.err(message);
  if (json) output.out(JSON.stringify({ error: message, exitCode: OPERATOR_EXIT.unavailable }));
  return OPERATOR_EXIT.unavailable;
}

async function listParked(config: Config, json: boolean, output: CommandOutput): Promise<number> {
  const { summary } = await readStateSummary(config, { parkedLimit: undefined });
  if (!summary.ok) {
    return unavailable(output, json, `cannot read the relay's state: ${summary.error}`);
  }
  const items = summary.value.parked;
  if (json) output.out(JSON.stringify(parkedListJson(items), null, 2));
  else for (const line of parkedListLines(items, Date.now())) output.out(line);
  return parkedListExitCode(items);
}

async function retryParked(
  config: Config,
  options: Extract<ParkedCommandOptions, { action: 'retry' }>,
  output: CommandOutput,
): Promise<number> {
  const logger = commandLogger(config);
  let engine;
  try {
    engine = await openCommandEngine(config, {
      command: 'parked retry',
      logger,
      timeoutMs: options.timeoutMs,
      whileRunning:
        'it retries parked work by itself every 5 minutes; to retry at once, stop it, run `parked retry`, and start it again',
    });
  } catch (error) {
    return unavailable(
      output,
      options.json,
      error instanceof RelayRunningError
        ? `refused: ${error.message}`
        : `parked retry cannot start: ${describeError(error)}`,
    );
  }
  try {
    const before = engine.store.parked();
    const unknown = options.keys.filter((key) => !before.some((item) => item.key === key));
    if (unknown.length > 0) {
      output.err(
        `nothing is parked under ${unknown.map((k) => `"${k}"`).join(', ')} (see \`parked list\`); nothing was retried`,
      );
      return OPERATOR_EXIT.usage;
    }
    const chosen = options.all ? before : before.filter((item) => options.keys.includes(item.key));
    const hintResults = await engine.run(chosen.map((item) => item.hint));
    const after = new Map(engine.store.parked().map((item) => [item.key, item]));
    const results = chosen.map((item, i): RetryResult => {
      const result = hintResults[i];
      const still = after.get(item.key);
      if (result?.outcome === 'cut') return { item, outcome: 'cut', reason: result.reason };
      if (still === undefined) return { item, outcome: 'applied' };
      return { item, outcome: 'parked', reason: still.reason, attempts: still.attempts };
    });
    const report: RetryReport = {
      results,
      alsoApplied: unchosenHealed(before, chosen, after),
    };
    if (options.json) output.out(JSON.stringify(retryJson(report), null, 2));
    else for (const line of retryLines(report)) output.out(line);
    return retryExitCode(report);
  } finally {
    await engine.close();
  }
}

/** Parked items not asked for that are no longer parked: healed by the retries on the way. */
function unchosenHealed(
  before: readonly ParkedItem[],
  chosen: readonly ParkedItem[],
  after: ReadonlyMap<string, ParkedItem>,
): string[] {
  const asked = new Set(chosen.map((item) => item.key));
  return before.filter((item) => !asked.has(item.key) && !after.has(item.key)).map((i) => i.key);
}
