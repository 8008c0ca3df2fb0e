import { execFile } from 'node:child_process';
import { z } from 'zod';
import { REPO_ROOT } from '../../support/repo-paths.js';

/** What `resync --dry-run --prune --json` prints on stdout (the part the check reads). */
const dryRunReportSchema = z.object({
  dryRun: z.literal(true),
  changes: z.array(
    z.object({
      action: z.string(),
      kind: z.string(),
      name: z.string(),
      id: z.string(),
      group: z.string().optional(),
    }),
  ),
  failures: z.array(z.unknown()),
  guard: z.object({ blocked: z.boolean(), reason: z.string().optional() }),
});

/** The outcome of one dry run. */
export interface DryRunResult {
  readonly exitCode: number | null;
  /** One line per planned change, as `+ create user ada`, empty when SCIM matches. */
  readonly changes: readonly string[];
  readonly failures: number;
  /** Whether the prune guard held deletions back (they are then not listed as changes). */
  readonly guardBlocked: boolean;
  /** stderr, for the failure message. */
  readonly stderr: string;
}

/**
 * The second closing check: the relay's own `resync --dry-run` (the CLI, as a child process,
 * with the scenario relay's settings and state directory) must plan nothing. `--prune` makes it
 * also list managed SCIM resources that Keycloak no longer has.
 */
export async function resyncDryRun(entry: string, env: NodeJS.ProcessEnv): Promise<DryRunResult> {
  const { code, stdout, stderr } = await new Promise<{
    code: number | null;
    stdout: string;
    stderr: string;
  }>((resolve) => {
    execFile(
      process.execPath,
      [entry, 'resync', '--dry-run', '--prune', '--json'],
      { cwd: REPO_ROOT, env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (error, out, err) => {
        const status: unknown = error === null ? 0 : Reflect.get(error, 'code');
        resolve({ code: typeof status === 'number' ? status : null, stdout: out, stderr: err });
      },
    );
  });
  let report;
  try {
    report = dryRunReportSchema.parse(JSON.parse(stdout));
  } catch (error) {
    throw new Error(
      `resync --dry-run printed no readable plan (exit ${code}): ${String(error)}\nstdout: ${stdout.slice(0, 2_000)}\nstderr: ${stderr.slice(-2_000)}`,
      { cause: error },
    );
  }
  return {
    exitCode: code,
    changes: report.changes.map(
      (change) =>
        `${change.action} ${change.kind} ${change.name}${change.group === undefined ? '' : ` (group ${change.group})`} [${change.id}]`,
    ),
    failures: report.failures.length,
    guardBlocked: report.guard.blocked,
    stderr,
  };
}
