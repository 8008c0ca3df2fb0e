import { access, constants, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** What to do when no Chromium is found; the browser test fails with it. */
export const CHROMIUM_HELP =
  "no Chromium found: install Debian's with `apt-get update && apt-get install -y chromium` " +
  '(the browser test drives it through playwright-core, which downloads no browser), or set ' +
  'CHROMIUM_PATH to a Chromium or Chrome executable';

/** Names a Chromium executable goes by on PATH: Debian's `chromium`, Ubuntu's older one. */
const NAMES = ['chromium', 'chromium-browser'];

/**
 * The Chromium the browser test launches: `CHROMIUM_PATH` when set (which must then be
 * executable), else the first `chromium` or `chromium-browser` on `PATH`, as `which` finds it.
 * Fails with {@link CHROMIUM_HELP} when there is none.
 */
export async function findChromium(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const configured = env.CHROMIUM_PATH;
  if (configured !== undefined && configured !== '') {
    if (await isExecutable(configured)) return configured;
    throw new Error(`CHROMIUM_PATH=${configured} is not an executable file; ${CHROMIUM_HELP}`);
  }
  const dirs = (env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  for (const name of NAMES) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      if (await isExecutable(candidate)) return candidate;
    }
  }
  throw new Error(CHROMIUM_HELP);
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
