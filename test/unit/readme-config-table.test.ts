import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allSettings } from '../../src/config.js';
import {
  configBlockIsCurrent,
  extractConfigBlock,
  REGENERATE_COMMAND,
  TABLE_END,
  TABLE_START,
} from '../../src/config/config-table.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README.md configuration table', () => {
  it('has the generated block between its markers', () => {
    expect(
      extractConfigBlock(readme),
      `README.md needs ${TABLE_START} and ${TABLE_END}; then run \`${REGENERATE_COMMAND}\``,
    ).toBeDefined();
  });

  it('matches the setting definitions', () => {
    expect(
      configBlockIsCurrent(
        readme,
        allSettings.map(({ setting }) => setting),
      ),
      `README.md's configuration table differs from src/config/settings.ts: run \`${REGENERATE_COMMAND}\``,
    ).toBe(true);
  });
});
