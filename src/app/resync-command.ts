import { parseArgs } from 'node:util';
import pino from 'pino';
import type { Config } from '../config.js';
import { secretValues } from '../config.js';
import {
  DEFAULT_DELETION_GUARD,
  type DeletionGuard,
  type ResyncPlan,
} from '../domain/resync-plan.js';
import { ConfigError, describeError } from '../errors.js';
import { createLogger } from '../logger.js';
import { recordFullReconcile } from '../sync/full-reconcile-record.js';
import { Reconciler } from '../sync/reconciler.js';
import {
  resync,
  type KindSummary,
  type ResyncDeps,
  type ResyncProgress,
  type ResyncReport,
  type ResyncRunOptions,
} from '../sync/resync.js';
import { openCommandState, type CommandState } from './command-state.js';
import { keycloakReaderFrom, provisionScopeOf, scimClientFrom } from './clients.js';
import { reconcilerView } from './keycloak-adapter.js';

/** The command line options of `resync`, for `node:util` `parseArgs`. */
export const resyncArgOptions = {
  'dry-run': { type: 'boolean' },
  users: { type: 'boolean' },
  groups: { type: 'boolean' },
  prune: { type: 'boolean' },
  yes: { type: 'boolean' },
  concurrency: { type: 'string' },
  json: { type: 'boolean' },
  'max-deletes': { type: 'string' },
  'max-delete-share': { type: 'string' },
} as const;

export const RESYNC_USAGE = `Usage: keycloak-scim-relay resync [options]

Makes Kestra's SCIM side match Keycloak: reads every user, group and membership, computes the
difference and writes only that.

Options:
  --dry-run               print the plan (counts, one line per change), write nothing
  --users | --groups      only users, or only groups and memberships
  --prune                 remove managed SCIM resources (with an externalId) gone from Keycloak
  --yes                   let --prune delete more than the guard allows
  --max-deletes N         guard: most deletions without --yes (default ${DEFAULT_DELETION_GUARD.maxDeletes})
  --max-delete-share F    guard: largest share 0..1 of managed resources (default ${DEFAULT_DELETION_GUARD.maxDeleteShare})
  --concurrency N         SCIM writes in flight at once (default: CONCURRENCY)
  --json                  print the plan or the report as JSON

Exit codes: 0 done, 1 something failed (listed), 2 bad usage, 3 deletions held back by the guard.`;

/** The `resync` command's options, parsed and checked. */
export interface ResyncCommandOptions {
  readonly dryRun: boolean;
  readonly scope: 'all' | 'users' | 'groups';
  readonly prune: boolean;
  readonly yes: boolean;
  readonly json: boolean;
  /** Undefined: the configuration's `CONCURRENCY`. */
  readonly concurrency: number | undefined;
  readonly guard: DeletionGuard;
}

/** Parsed values of {@link resyncArgOptions}, as `parseArgs` returns them. */
export interface ResyncArgValues {
  readonly 'dry-run'?: boolean | undefined;
  readonly users?: boolean | undefined;
  readonly groups?: boolean | undefined;
  readonly prune?: boolean | undefined;
  readonly yes?: boolean | undefined;
  readonly concurrency?: string | undefined;
  readonly json?: boolean | undefined;
  readonly 'max-deletes'?: string | undefined;
  readonly 'max-delete-share'?: string | undefined;
}

/** Checks parsed flags; every problem in one {@link ConfigError}, by flag name. */
export function resyncCommandOptions(values: ResyncArgValues): ResyncCommandOptions {
  const problems: string[] = [];
  if (values.users === true && values.groups === true) {
    problems.push('--users and --groups exclude each other; give neither to resync both');
  }
  const whole = (flag: string, text: string | undefined, min: number): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) {
      problems.push(`--${flag}: expected a whole number of at least ${min}, got "${text}"`);
      return undefined;
    }
    return n;
  };
  const concurrency = whole('concurrency', values.concurrency, 1);
  const maxDeletes = whole('max-deletes', values['max-deletes'], 0);
  let maxDeleteShare: number | undefined;
  const shareText = values['max-delete-share'];
  if (shareText !== undefined) {
    const n = Number(shareText);
    if (shareText.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
      problems.push(`--max-delete-share: expected a number from 0 to 1, got "${shareText}"`);
    } else {
      maxDeleteShare = n;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    dryRun: values['dry-run'] === true,
    scope: values.users === true ? 'users' : values.groups === true ? 'groups' : 'all',
    prune: values.prune === true,
    yes: values.yes === true,
    json: values.json === true,
    concurrency,
    guard: {
      maxDeletes: maxDeletes ?? DEFAULT_DELETION_GUARD.maxDeletes,
      maxDeleteShare: maxDeleteShare ?? DEFAULT_DELETION_GUARD.maxDeleteShare,
    },
  };
}

/** Parses `resync`'s own arguments (those after the command name). */
export function parseResyncArgs(argv: readonly string[]): ResyncCommandOptions {
  try {
    const { values } = parseArgs({ args: [...argv], options: resyncArgOptions, strict: true });
    return resyncCommandOptions(values);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError([describeError(error)]);
  }
}

/** The resync's options from the configuration and the command line. */
export function resyncRunOptions(
  config: Config,
  command: ResyncCommandOptions,
  onProgress?: (progress: ResyncProgress) => void,
): ResyncRunOptions {
  return {
    mapping: config.mapping,
    userDeleteMode: config.mapping.userDeleteMode,
    membershipMode: config.mapping.membershipMode,
    scope: command.scope,
    prune: command.prune,
    guard: command.guard,
    confirmed: command.yes,
    dryRun: command.dryRun,
    concurrency: command.concurrency ?? config.sync.concurrency,
    onProgress,
    provisionScope: provisionScopeOf(config),
  };
}

/** Where the command writes: results to `out`, progress to `err`. */
export interface CommandOutput {
  out(line: string): void;
  err(line: string): void;
  /** Rewrites the current line of `err` (a progress bar); only given on a terminal. */
  status?: ((line: string) => void) | undefined;
}

/** The process's stdout and stderr, with a progress line when stderr is a terminal. */
export function processOutput(): CommandOutput {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    status: process.stderr.isTTY ? (line) => process.stderr.write(`\r\u001b[2K${line}`) : undefined,
  };
}

/**
 * `keycloak-scim-relay resync`, wired from the configuration: builds its own Keycloak reader,
 * SCIM client and state store, runs {@link runResync} and closes them. Returns the exit code.
 */
export async function resyncCommand(
  argv: readonly string[],
  config: Config,
  output: CommandOutput = processOutput(),
): Promise<number> {
  let command: ResyncCommandOptions;
  try {
    command = parseResyncArgs(argv);
  } catch (error) {
    output.err(`${describeError(error)}\n\n${RESYNC_USAGE}`);
    return 2;
  }
  // Logs go to stderr, so stdout carries only the plan or the report (and `--json` stays JSON).
  const logger = createLogger({
    level: config.log.level,
    secrets: secretValues(config),
    destination: pino.destination({ dest: 2, sync: true }),
  });
  let state: CommandState;
  try {
    state = await openCommandState(config, { readOnly: command.dryRun, logger });
  } catch (error) {
    output.err(`resync cannot open the relay's state: ${describeError(error)}`);
    return 1;
  }
  const store = state.store;
  const scim = scimClientFrom(
    config,
    { logger },
    { maxConnections: Math.max(config.scim.maxConnections, command.concurrency ?? 0) },
  );
  try {
    const keycloak = await keycloakReaderFrom(config);
    try {
      return await runResync(
        { keycloak: reconcilerView(keycloak), scim, store, logger },
        config,
        command,
        output,
      );
    } finally {
      await keycloak.close();
    }
  } catch (error) {
    output.err(`resync failed: ${describeError(error)}`);
    return 1;
  } finally {
    await scim.close();
    await state.close();
  }
}

/**
 * Runs one resync with `deps` and prints its plan (dry run) or report. Returns the exit code:
 * 0 done, 1 something failed, 3 deletions held back by the guard.
 */
export async function runResync(
  deps: Omit<ResyncDeps, 'reconciler'>,
  config: Config,
  command: ResyncCommandOptions,
  output: CommandOutput,
): Promise<number> {
  const progress = progressPrinter(output, command.json);
  // The same reconciler as `run`'s, with locks of its own: nothing else writes in this process.
  const reconciler = new Reconciler(deps.keycloak, deps.scim, deps.store, {
    mapping: config.mapping,
    userDeleteMode: config.mapping.userDeleteMode,
    membershipMode: config.mapping.membershipMode,
    scope: provisionScopeOf(config),
    logger: deps.logger,
  });
  const startedAt = Date.now();
  const report = await resync(
    { ...deps, reconciler },
    resyncRunOptions(config, command, progress.update),
  );
  progress.end();
  if (!command.dryRun && command.scope === 'all') {
    recordFullReconcile(deps.store, {
      reason: 'resync',
      startedAt,
      endedAt: Date.now(),
      failures: report.failures.length,
      aborted: report.aborted,
    });
  }
  if (command.json) {
    output.out(JSON.stringify(reportJson(report), null, 2));
  } else {
    for (const line of reportLines(report)) output.out(line);
  }
  if (report.failures.length > 0 || report.aborted !== undefined) return 1;
  return report.guard.blocked && !report.dryRun ? 3 : 0;
}

/** One change as the dry run and `--json` list it. */
export interface ChangeLine {
  readonly action:
    'create' | 'update' | 'rename' | 'adopt' | 'add' | 'remove' | 'delete' | 'deactivate' | 'wait';
  readonly kind: 'user' | 'group' | 'member';
  readonly name: string;
  /** Keycloak id (SCIM id for a prune or a removed member). */
  readonly id: string;
  /** For members, the group. */
  readonly group?: string;
  /** For a group update or adoption that renames it, the name the SCIM group has now. */
  readonly from?: string;
  readonly reason?: string;
}

/** Every change of the plan, one entry each, in the order they are applied. */
export function planChanges(plan: ResyncPlan): ChangeLine[] {
  const changes: ChangeLine[] = [];
  for (const step of plan.groups) {
    const renamedFrom = step.op === 'update' ? step.renamedFrom : undefined;
    changes.push({
      action:
        step.op === 'create'
          ? 'create'
          : step.adopted !== undefined
            ? 'adopt'
            : renamedFrom === undefined
              ? 'update'
              : 'rename',
      kind: 'group',
      name: step.desired.displayName,
      id: step.keycloakId,
      ...(renamedFrom === undefined ? {} : { from: renamedFrom }),
    });
  }
  for (const step of plan.users) {
    changes.push({
      action: step.op === 'create' ? 'create' : step.adopted ? 'adopt' : 'update',
      kind: 'user',
      name: step.desired.userName,
      id: step.keycloakId,
    });
  }
  for (const link of plan.links) {
    changes.push({ action: 'adopt', kind: link.kind, name: link.name, id: link.keycloakId });
  }
  for (const step of plan.members) {
    for (const id of step.add) {
      const name = plan.userNames.keycloak.get(id) ?? id;
      changes.push({ action: 'add', kind: 'member', name, id, group: step.displayName });
    }
    for (const id of step.remove) {
      const name = plan.userNames.scim.get(id) ?? id;
      changes.push({ action: 'remove', kind: 'member', name, id, group: step.displayName });
    }
  }
  if (!plan.guard.blocked) {
    for (const step of plan.prune) {
      changes.push({
        action: step.op,
        kind: step.kind,
        name: step.name,
        id: step.scimId,
        reason: step.reason,
      });
    }
  }
  // Last, once the entity holding the name has moved away: e.g. the child b of a group a,
  // whose `/a/b` the twin of a group named `a/b` holds until its rename to `/a~/b`.
  for (const step of plan.waits) {
    changes.push({
      action: 'wait',
      kind: step.kind,
      name: step.kind === 'user' ? step.userName : step.displayName,
      id: step.keycloakId,
      reason: `its name is held by the SCIM ${step.kind} of Keycloak ${step.kind} ${step.owner}, which changes first`,
    });
  }
  return changes;
}

const SIGN: Record<ChangeLine['action'], string> = {
  create: '+',
  adopt: '=',
  update: '~',
  rename: '~',
  add: '+',
  remove: '-',
  delete: '-',
  deactivate: '-',
  wait: '…',
};

function changeText(change: ChangeLine): string {
  const what =
    change.kind === 'member'
      ? `member ${change.name} ${change.action === 'add' ? 'to' : 'from'} group ${change.group ?? ''}`
      : change.from === undefined
        ? `${change.kind} ${change.name}`
        : `${change.kind} ${change.from} → ${change.name}`;
  const why = change.reason === undefined ? '' : ` (${change.reason})`;
  return `${SIGN[change.action]} ${change.action} ${what} [${change.id}]${why}`;
}

function kindText(summary: KindSummary): string {
  return (
    `created ${summary.created}, updated ${summary.updated} (adopted ${summary.adopted}), ` +
    `deactivated ${summary.deactivated}, deleted ${summary.deleted}, ` +
    `unchanged ${summary.unchanged}, failed ${summary.failed}`
  );
}

/** The human report: the changes (dry run only), the summary, the guard, the failures. */
export function reportLines(report: ResyncReport): string[] {
  const lines: string[] = [];
  if (report.dryRun) {
    lines.push('Dry run: nothing was written. Planned changes:');
    const changes = planChanges(report.plan);
    for (const change of changes) lines.push(`  ${changeText(change)}`);
    if (changes.length === 0) lines.push('  (none: SCIM already matches Keycloak)');
  }
  const m = report.memberships;
  lines.push(
    `users:       ${kindText(report.users)}`,
    `groups:      ${kindText(report.groups)}`,
    `memberships: added ${m.added}, removed ${m.removed}, skipped ${m.skipped}, failed ${m.failed}`,
    `time:        ${(report.durationMs / 1000).toFixed(2)} s`,
  );
  if (report.guard.reason !== undefined) {
    lines.push(`${report.guard.blocked ? 'prune held back' : 'prune'}: ${report.guard.reason}`);
  }
  if (report.aborted !== undefined) lines.push(`aborted: ${report.aborted}`);
  if (report.failures.length > 0) {
    lines.push(`failures (${report.failures.length}):`);
    for (const f of report.failures) lines.push(`  ✗ ${f.kind} ${f.name} [${f.id}]: ${f.reason}`);
  }
  return lines;
}

/** The machine report; with a dry run, every planned change. */
export function reportJson(report: ResyncReport): Record<string, unknown> {
  return {
    dryRun: report.dryRun,
    users: report.users,
    groups: report.groups,
    memberships: report.memberships,
    guard: report.guard,
    failures: report.failures,
    aborted: report.aborted ?? null,
    durationMs: report.durationMs,
    ...(report.dryRun ? { changes: planChanges(report.plan) } : {}),
  };
}

/**
 * Progress: an updating line with counts and rate on a terminal, otherwise one plain line as
 * each phase starts and ends. Nothing with `--json` unless on a terminal (stderr stays quiet).
 */
function progressPrinter(
  output: CommandOutput,
  json: boolean,
): { update: (progress: ResyncProgress) => void; end: () => void } {
  let phase: ResyncProgress['phase'] | undefined;
  let phaseStart = 0;
  let lastDraw = 0;
  const status = output.status;
  return {
    update(progress) {
      const now = performance.now();
      if (progress.phase !== phase) {
        phase = progress.phase;
        phaseStart = now;
        if (status === undefined && !json) {
          output.err(
            progress.phase === 'read'
              ? 'reading Keycloak and SCIM'
              : `${progress.phase}: ${progress.total} to write`,
          );
        }
      }
      if (status === undefined || now - lastDraw < 100) return;
      lastDraw = now;
      const rate = progress.done / Math.max((now - phaseStart) / 1000, 0.001);
      const width = 24;
      const filled =
        progress.total === 0 ? 0 : Math.round((progress.done / progress.total) * width);
      status(
        progress.phase === 'read'
          ? 'reading Keycloak and SCIM…'
          : `${progress.phase.padEnd(7)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` +
              `${progress.done}/${progress.total} ${rate.toFixed(0)}/s`,
      );
    },
    end() {
      status?.('');
    },
  };
}
