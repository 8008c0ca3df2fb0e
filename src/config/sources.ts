import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { secretInFile } from '../security/secret-file.js';
import type { Setting } from './settings.js';
import { fileErrorCode } from './value-kinds.js';

/** A value as a source gave it, before parsing, and where it came from (named in messages). */
export interface RawValue {
  readonly value: unknown;
  /** `environment`, `config file` or the `<NAME>_FILE` variable the value was read through. */
  readonly origin: string;
  /** The resolved path of the `<NAME>_FILE` the value was read from, if it was. */
  readonly file?: string;
}

/** What the sources say, merged by precedence: environment, then config file. */
export interface RawSources {
  /** The raw value of each setting that a source sets, by environment name. */
  readonly values: ReadonlyMap<string, RawValue>;
  /** Problems that stop a setting from having a value at all, by environment name. */
  readonly settingIssues: ReadonlyMap<string, string>;
  /** Problems with the config file itself, each naming `CONFIG_FILE`. */
  readonly fileIssues: readonly string[];
}

/** Suffix of the variable that names a file holding a secret's value. */
export const FILE_SUFFIX = '_FILE';

type Origin = 'environment' | 'config file';
type Lookup = (key: string) => unknown;

/**
 * Reads the environment and the optional config file. Only the files they name are read:
 * the config file and the `<NAME>_FILE` of secrets.
 */
export function readSources(
  env: NodeJS.ProcessEnv,
  settings: readonly Setting[],
  configFile: string | undefined,
): RawSources {
  const fileIssues: string[] = [];
  const settingIssues = new Map<string, string>();
  const values = new Map<string, RawValue>();
  const keys = settings.flatMap((s) => (s.secret ? [s.env, s.env + FILE_SUFFIX] : [s.env]));
  const entries =
    configFile === undefined ? new Map() : readConfigFile(configFile, new Set(keys), fileIssues);
  // An empty variable counts as unset: orchestrators often pass `NAME=` for "not given".
  const fromEnv: Lookup = (key) => (env[key] === '' ? undefined : env[key]);
  // JSON null means "not set here", so a file can list a key without a value.
  const fromFile: Lookup = (key) => entries.get(key) ?? undefined;
  for (const setting of settings) {
    const found =
      readFrom(setting, 'environment', fromEnv) ?? readFrom(setting, 'config file', fromFile);
    if (typeof found === 'string') settingIssues.set(setting.env, found);
    else if (found !== undefined) values.set(setting.env, found);
  }
  return { values, settingIssues, fileIssues };
}

/** The setting's value in one source, a problem that keeps it from having one, or undefined. */
function readFrom(setting: Setting, name: Origin, get: Lookup): RawValue | string | undefined {
  const direct = get(setting.env);
  const fileVar = setting.env + FILE_SUFFIX;
  const path = setting.secret ? get(fileVar) : undefined;
  const where = name === 'environment' ? '' : ` in the ${name}`;
  if (path === undefined) return direct === undefined ? undefined : { value: direct, origin: name };
  if (direct !== undefined) {
    return `${setting.env} and ${fileVar} are both set${where}; expected only one of them`;
  }
  if (typeof path !== 'string' || path.trim() === '') {
    return `${fileVar}: is not a file path${where}; expected a readable file`;
  }
  const file = resolve(path);
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    return `${fileVar}: cannot read "${path}" (${fileErrorCode(error)}); expected a readable file`;
  }
  const value = secretInFile(content);
  if (value === '') return `${fileVar}: "${path}" is empty; expected a file holding the secret`;
  return { value, origin: fileVar, file };
}

/**
 * Reads the config file: a JSON object whose keys are environment names. Problems go to
 * `issues`; the content never appears in them, since the file may hold secrets.
 */
function readConfigFile(
  path: string,
  allowed: ReadonlySet<string>,
  issues: string[],
): ReadonlyMap<string, unknown> {
  let content: string;
  let parsed: unknown;
  try {
    content = readFileSync(resolve(path), 'utf8');
  } catch (error) {
    issues.push(`CONFIG_FILE: cannot read "${path}" (${fileErrorCode(error)})`);
    return new Map();
  }
  try {
    parsed = JSON.parse(content);
  } catch (error) {
    // V8's message may quote the text around the error, which can be a secret: keep only
    // the position.
    issues.push(`CONFIG_FILE: "${path}" is not valid JSON${jsonErrorPlace(content, error)}`);
    return new Map();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    issues.push(
      `CONFIG_FILE: "${path}" does not hold a JSON object; expected {"NAME": value, ...}`,
    );
    return new Map();
  }
  const entries = new Map(Object.entries(parsed));
  for (const key of entries.keys()) {
    if (allowed.has(key)) continue;
    issues.push(`CONFIG_FILE: "${path}" sets unknown setting "${key}"`);
    entries.delete(key);
  }
  return entries;
}

function jsonErrorPlace(content: string, error: unknown): string {
  const match = error instanceof Error ? /position (\d+)/.exec(error.message) : null;
  if (match?.[1] === undefined) return '';
  const before = content.slice(0, Number(match[1]));
  const column = before.length - before.lastIndexOf('\n');
  return ` (line ${before.split('\n').length}, column ${column})`;
}
