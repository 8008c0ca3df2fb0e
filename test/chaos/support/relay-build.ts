import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../support/repo-paths.js';

const run = promisify(execFile);

/** The compiled relay and SCIM server the scenarios run as child processes. */
export interface RelayBuild {
  /** `node <relayEntry> run` is the container's entrypoint. */
  readonly relayEntry: string;
  readonly scimServerEntry: string;
}

/**
 * Compiles `src/` once per run into a private directory under `node_modules/.cache`, so that
 * the relay runs as plain `node` (as in the image: its peak RSS is the relay's, not a TypeScript
 * loader's) and a parallel `npm run build` into `dist/` cannot swap files under a running
 * relay. Packages still resolve: the directory sits inside the repository's `node_modules`.
 */
export async function buildRelay(): Promise<RelayBuild> {
  const outDir = join(REPO_ROOT, 'node_modules', '.cache', 'chaos-relay');
  await rm(outDir, { recursive: true, force: true });
  await run(
    join(REPO_ROOT, 'node_modules', '.bin', 'tsc'),
    ['-p', 'tsconfig.build.json', '--outDir', outDir, '--sourceMap', 'false'],
    { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 },
  );
  return {
    relayEntry: join(outDir, 'src', 'cli.js'),
    scimServerEntry: join(outDir, 'src', 'scim-server', 'main.js'),
  };
}
