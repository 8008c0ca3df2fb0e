import type { Setting } from './settings.js';
import { FILE_SUFFIX } from './sources.js';

/** Marks the start of the generated block in README.md. */
export const TABLE_START = '<!-- config-table:start -->';
/** Marks the end of the generated block in README.md. */
export const TABLE_END = '<!-- config-table:end -->';

/** The command that regenerates the block, named wherever drift is reported. */
export const REGENERATE_COMMAND = 'npm run docs:config';

/**
 * The markdown that goes between the README markers: how settings are read, then one row per
 * setting (name, default, accepted values, description), secrets marked.
 */
export function renderConfigBlock(settings: readonly Setting[]): string {
  const header = [
    `<!-- Generated from src/config/settings.ts by \`${REGENERATE_COMMAND}\`; do not edit by hand. -->`,
    '',
    'Settings come from environment variables, then from the JSON file named by `CONFIG_FILE`',
    '(same names as keys), then from the defaults below. A secret can also be read from the file',
    `named by \`<NAME>${FILE_SUFFIX}\` (trailing newlines are dropped); setting both \`NAME\` and`,
    `\`NAME${FILE_SUFFIX}\` is an error. Every problem is reported at once, and the relay exits with code 2.`,
    '',
    '| Variable | Default | Values | Description |',
    '| --- | --- | --- | --- |',
  ];
  const rows = settings.map((setting) => {
    const name = `\`${setting.env}\`${setting.secret ? ' (secret)' : ''}`;
    const values = cell(setting.kind.expected);
    return `| ${name} | ${describeDefault(setting)} | ${values} | ${cell(setting.description)} |`;
  });
  return [...header, ...rows].join('\n');
}

function describeDefault({ fallback }: Setting): string {
  if (fallback.kind === 'required') return '**required**';
  if (fallback.kind === 'none') return 'none';
  return `\`${fallback.kind === 'value' ? String(fallback.raw) : fallback.text}\``;
}

const ENTITIES: Readonly<Record<string, string>> = { '<': '&lt;', '>': '&gt;' };

/**
 * Escapes a table cell: pipes everywhere, and `<` `>` outside code spans, where markdown
 * would read a tag. A code span is matched whole, so the brackets inside it stay as written.
 */
function cell(text: string): string {
  return text.replace(/`[^`]*`|[<>]/g, (match) => ENTITIES[match] ?? match).replace(/\|/g, '\\|');
}

/** The README around the block and the block itself, or undefined when a marker is missing. */
function splitReadme(readme: string): [before: string, block: string, after: string] | undefined {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start === -1 || end < start) return undefined;
  const from = start + TABLE_START.length;
  return [readme.slice(0, from), readme.slice(from, end), readme.slice(end)];
}

/** The text between the markers, or undefined when either marker is missing. */
export function extractConfigBlock(readme: string): string | undefined {
  return splitReadme(readme)?.[1].trim();
}

/** README text with the block between the markers replaced; throws when a marker is missing. */
export function replaceConfigBlock(readme: string, block: string): string {
  const parts = splitReadme(readme);
  if (parts === undefined) {
    throw new Error(`README.md lacks the markers ${TABLE_START} and ${TABLE_END}`);
  }
  return `${parts[0]}\n\n${block}\n\n${parts[2]}`;
}

/**
 * A form of the block that ignores layout only (cell padding, separator width, line wrapping
 * of prose), so a formatter may realign the table without it counting as drift.
 */
export function normalizeConfigBlock(block: string): string {
  const lines = block.split('\n').map((line) => line.trim());
  const rows = lines.map((line) =>
    line.startsWith('|') ? line.replace(/ *(?<!\\)\| */g, '|').replace(/\|-+(?=\|)/g, '|-') : line,
  );
  // A prose line that follows another prose line continues it.
  return rows
    .join('\n')
    .replace(/([^|\n])\n(?=[^|\n])/g, '$1 ')
    .replace(/ +/g, ' ');
}

/** Whether a README's block matches the settings, layout aside. */
export function configBlockIsCurrent(readme: string, settings: readonly Setting[]): boolean {
  const block = extractConfigBlock(readme);
  return (
    block !== undefined &&
    normalizeConfigBlock(block) === normalizeConfigBlock(renderConfigBlock(settings))
  );
}
