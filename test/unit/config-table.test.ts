import { describe, expect, it } from 'vitest';
import { allSettings } from '../../src/config.js';
import {
  configBlockIsCurrent,
  extractConfigBlock,
  renderConfigBlock,
  replaceConfigBlock,
  TABLE_END,
  TABLE_START,
} from '../../src/config/config-table.js';

const defs = allSettings.map(({ setting }) => setting);
const block = renderConfigBlock(defs);
const rows = block.split('\n').filter((line) => line.startsWith('| `'));

function rowFor(name: string): string {
  const row = rows.find((line) => line.startsWith(`| \`${name}\``));
  expect(row, name).toBeDefined();
  return row ?? '';
}

describe('renderConfigBlock', () => {
  it('has one row per setting, in definition order', () => {
    expect(rows.map((row) => /^\| `([A-Z0-9_]+)`/.exec(row)?.[1])).toEqual(
      defs.map((setting) => setting.env),
    );
  });

  it('shows the default, the accepted values and the description', () => {
    expect(rowFor('SCIM_TIMEOUT_MS')).toBe(
      '| `SCIM_TIMEOUT_MS` | `30000` | a whole number from 1000 to 600000 milliseconds | Timeout per SCIM request, for headers and for body |',
    );
    expect(rowFor('KEYCLOAK_URL')).toContain('| **required** |');
    expect(rowFor('KEYCLOAK_CA_FILE')).toContain('| none |');
    expect(rowFor('AMQP_QUEUE')).toContain('| `keycloak-scim-relay.<KEYCLOAK_REALM>` |');
  });

  it('marks exactly the secrets', () => {
    const marked = rows.filter((row) => row.includes('` (secret) |'));
    expect(marked.map((row) => /`([A-Z_]+)`/.exec(row)?.[1])).toEqual(
      defs.filter((setting) => setting.secret).map((setting) => setting.env),
    );
    expect(marked.map((row) => /`([A-Z_]+)`/.exec(row)?.[1])).toEqual([
      'KEYCLOAK_CLIENT_SECRET',
      'SCIM_TOKEN',
      'AMQP_URL',
      'STATE_URL',
    ]);
  });

  it('escapes angle brackets outside code spans, where markdown would read a tag', () => {
    expect(rowFor('SCIM_URL')).toContain('integrations/&lt;id&gt;/scim/v2 |');
    expect(rowFor('SCIM_URL')).toContain(
      '`https://<kestra>/api/v1/<tenant>/integrations/<id>/scim/v2`',
    );
  });
});

describe('README block', () => {
  const readme = (inner: string): string =>
    `# Relay\n\n## Configuration\n\n${TABLE_START}\n${inner}\n${TABLE_END}\n\n## Next\n`;

  it('replaces only what lies between the markers', () => {
    const updated = replaceConfigBlock(readme('old table'), block);
    expect(updated.startsWith(`# Relay\n\n## Configuration\n\n${TABLE_START}\n\n`)).toBe(true);
    expect(updated.endsWith(`\n\n${TABLE_END}\n\n## Next\n`)).toBe(true);
    expect(extractConfigBlock(updated)).toBe(block);
    expect(configBlockIsCurrent(updated, defs)).toBe(true);
  });

  it('refuses a README without the markers', () => {
    expect(() => replaceConfigBlock('# Relay\n', block)).toThrow(TABLE_START);
    expect(configBlockIsCurrent('# Relay\n', defs)).toBe(false);
  });

  it('ignores layout: cell padding, separator width and wrapped prose', () => {
    const realigned = block
      .split('\n')
      .map((line) =>
        line.startsWith('|')
          ? line.replace(/ \| /g, '   |   ').replace(/\| --- /g, '| ------ ')
          : line.replace(/ then /g, '\nthen '),
      )
      .join('\n');
    expect(realigned).not.toBe(block);
    expect(configBlockIsCurrent(readme(realigned), defs)).toBe(true);
  });

  it.each([
    ['a changed default', block.replace('| `30000` |', '| `20000` |')],
    ['a missing row', block.replace(`${rows[0] ?? ''}\n`, '')],
    ['a changed description', block.replace('Least severe level that is logged', 'Log level')],
    ['a secret no longer marked', block.replace('`SCIM_TOKEN` (secret)', '`SCIM_TOKEN`')],
  ])('notices %s', (_change, changed) => {
    expect(changed).not.toBe(block);
    expect(configBlockIsCurrent(readme(changed), defs)).toBe(false);
  });
});
