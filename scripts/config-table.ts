/**
 * Prints the README's configuration block, generated from the setting definitions; with
 * `--write`, puts it between the markers in README.md (run as `npm run docs:config`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { allSettings } from '../src/config.js';
import { renderConfigBlock, replaceConfigBlock } from '../src/config/config-table.js';

const readmePath = fileURLToPath(new URL('../README.md', import.meta.url));
const block = renderConfigBlock(allSettings.map(({ setting }) => setting));

if (process.argv.includes('--write')) {
  const updated = replaceConfigBlock(readFileSync(readmePath, 'utf8'), block);
  // Formatted as `prettier --check` expects, so the generated table passes the format check.
  const options = (await prettier.resolveConfig(readmePath)) ?? {};
  writeFileSync(readmePath, await prettier.format(updated, { ...options, filepath: readmePath }));
  console.log(`Updated the configuration table in ${readmePath}`);
} else {
  process.stdout.write(`${block}\n`);
}
