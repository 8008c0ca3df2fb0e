import { expect } from 'vitest';
import { reconcilerView } from '../../src/app/keycloak-adapter.js';
import {
  parseResyncArgs,
  resyncRunOptions,
  runResync,
  type CommandOutput,
} from '../../src/app/resync-command.js';
import { resync, type ResyncReport } from '../../src/sync/resync.js';
import { plannedWrites } from './parity.js';
import type { RelayHarness } from './relay-harness.js';

/**
 * `resync` with a harness relay's own parts, as the command would build them: its Keycloak
 * reader goes through `reconcilerView`, which gives each group its ancestors' names.
 */
export function resyncWith(harness: RelayHarness, args: string[] = []): Promise<ResyncReport> {
  const { keycloak, scim, store, config, engine } = harness.relay;
  return resync(
    { keycloak: reconcilerView(keycloak), scim, store, reconciler: engine.reconciler },
    resyncRunOptions(config, parseResyncArgs(args)),
  );
}

/** The resync command's printing path with a harness relay's parts, and what it wrote. */
export async function resyncCommandWith(
  harness: RelayHarness,
  args: string[],
): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const output: CommandOutput = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const { keycloak, scim, store, config } = harness.relay;
  const code = await runResync(
    { keycloak: reconcilerView(keycloak), scim, store },
    config,
    parseResyncArgs(args),
    output,
  );
  return { code, out, err };
}

/** SCIM already matches Keycloak: a dry run with `--prune` plans no write and sees no problem. */
export async function expectResyncPlansNothing(harness: RelayHarness): Promise<void> {
  const report = await resyncWith(harness, ['--dry-run', '--prune']);
  expect(plannedWrites(report)).toEqual([]);
  expect(report.plan.problems).toEqual([]);
  expect(report.failures).toEqual([]);
}
