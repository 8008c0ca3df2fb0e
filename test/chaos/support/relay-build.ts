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
 * Compiles `src/` and the SCIM server package once per run into a private directory under
 * `node_modules/.cache`, so that the relay runs as plain `node` (as in the image: its peak RSS is
 * the relay's, not a TypeScript loader's) and a parallel `npm run build` into `dist/` cannot swap
 * files under a running relay. Packages still resolve: the directory sits inside the
 * repository's `node_modules`, where the workspace's dependencies are hoisted.
 */
export async function buildRelay(): Promise<RelayBuild> {
  const outDir = join(REPO_ROOT, 'node_modules', '.cache', 'chaos-relay');
  await rm(outDir, { recursive: true, force: true });
  const tsc = join(REPO_ROOT, 'node_modules', '.bin', 'tsc');
  const options = { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 };
  await run(
    tsc,
    ['-p', 'tsconfig.build.json', '--outDir', outDir, '--sourceMap', 'false'],
    options,
  );
  // The SCIM server is a workspace package of its own, compiled beside the relay.
  const scimServerDir = join(outDir, 'scim-server');
  await run(
    tsc,
    [
      '-p',
      join('packages', 'scim-server', 'tsconfig.build.json'),
      '--outDir',
      scimServerDir,
      '--sourceMap',
      'false',
    ],
    options,
  );
  return {
    relayEntry: join(outDir, 'src', 'cli.js'),
    scimServerEntry: join(scimServerDir, 'main.js'),
  };
}
