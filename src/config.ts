/**
 * The relay's configuration: the only reader of `process.env` and of config files. Settings
 * are defined once, as one zod schema in `config/settings.ts`; this module feeds it the sources
 * and turns its issues into one error that names each environment variable.
 */
import { unescape } from 'node:querystring';
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { createSecretRedactor, maskUrlPasswords, REDACTED } from './logger.js';
import {
  allSettings,
  configSchema,
  CROSS_FIELD,
  type PlacedSetting,
  type Setting,
  settingAt,
} from './config/settings.js';
import { type RawSources, type RawValue, readSources } from './config/sources.js';

export { allSettings } from './config/settings.js';

/**
 * The loaded configuration: typed, nested by topic, every default applied. The README's
 * configuration table gives each setting's meaning. When `source` is `amqp`, `amqp.url` is set.
 */
export type Config = z.output<typeof configSchema> & SecretFiles;

/**
 * Where a secret was read from when it came from its `<NAME>_FILE` (resolved path), so that
 * the file can be read again when the secret is rotated; absent when it was given directly.
 */
type SecretFiles = {
  readonly keycloak: { readonly clientSecretFile?: string };
  readonly scim: { readonly tokenFile?: string };
};

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** A config file to read instead of the one `CONFIG_FILE` names (e.g. from a `--config` flag). */
  readonly configFile?: string;
}

const settings = allSettings.map(({ setting }) => setting);

/** Stands in for a setting whose source failed: every schema refuses it, so rules skip it. */
const UNREADABLE = Symbol('unreadable');

/**
 * Loads the configuration from, in order of precedence: environment variables (and the
 * `<NAME>_FILE` of secrets), the JSON file named by `CONFIG_FILE` (same keys), then defaults.
 * Reads no other files than those named. Throws one {@link ConfigError} listing every problem,
 * by environment name, without ever quoting a secret.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  options: LoadConfigOptions = {},
): Config {
  const configFile = options.configFile ?? (env.CONFIG_FILE === '' ? undefined : env.CONFIG_FILE);
  const sources = readSources(env, settings, configFile);
  const input: Record<string, unknown> = {};
  for (const { path, setting } of allSettings) {
    const unreadable = sources.settingIssues.has(setting.env);
    setAt(input, path, unreadable ? UNREADABLE : sources.values.get(setting.env)?.value);
  }
  const result = configSchema.safeParse(input);
  const issues = [...sources.fileIssues, ...(result.error ? problems(result.error, sources) : [])];
  if (!result.success || issues.length > 0) {
    // Belt and braces: a secret pasted into a non-secret setting is still not echoed.
    const redact = createSecretRedactor(
      secretsIn(({ setting }) => sources.values.get(setting.env)?.value),
    );
    throw new ConfigError(issues.map(redact));
  }
  const clientSecretFile = sources.values.get('KEYCLOAK_CLIENT_SECRET')?.file;
  const tokenFile = sources.values.get('SCIM_TOKEN')?.file;
  const { keycloak, scim } = result.data;
  return {
    ...result.data,
    keycloak: { ...keycloak, ...(clientSecretFile === undefined ? {} : { clientSecretFile }) },
    scim: { ...scim, ...(tokenFile === undefined ? {} : { tokenFile }) },
  };
}

/**
 * One line per failing setting, in definition order, then one per broken cross-field rule: the
 * variable's name, what is wrong, the value unless it is secret, where it came from, and what
 * is expected.
 */
function problems(error: z.ZodError, sources: RawSources): string[] {
  const fields = new Map<Setting, Set<string>>();
  const rules: string[] = [];
  for (const issue of error.issues) {
    const setting = settingAt(issue.path);
    if (setting === undefined)
      throw new Error(`configuration issue outside any setting: ${issue.message}`);
    if (issue.code === 'custom' && issue.params?.[CROSS_FIELD] === true) {
      rules.push(`${setting.env}: ${issue.message}`);
    } else {
      fields.set(setting, (fields.get(setting) ?? new Set()).add(issue.message));
    }
  }
  const lines = [...fields].map(
    ([setting, messages]) =>
      sources.settingIssues.get(setting.env) ??
      fieldProblem(setting, [...messages].join(', '), sources.values.get(setting.env)),
  );
  return [...lines, ...rules];
}

function fieldProblem(setting: Setting, what: string, given: RawValue | undefined): string {
  const { env, fallback, kind } = setting;
  if (given === undefined && fallback.kind !== 'value') {
    return `${env}: is required; expected ${kind.expected}`;
  }
  const raw = given === undefined && fallback.kind === 'value' ? fallback.raw : given?.value;
  const shown = setting.secret ? '' : ` (got ${quoteRaw(raw)})`;
  const origin = given?.origin ?? 'default';
  const from = origin === 'environment' ? '' : `, from the ${origin}`;
  return `${env}: ${what}${shown}${from}; expected ${kind.expected}`;
}

function quoteRaw(raw: unknown): string {
  const text = maskUrlPasswords(typeof raw === 'string' ? raw : JSON.stringify(raw));
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text);
}

/** Each secret setting's text as `read` finds it, with the password of a URL on its own. */
function secretsIn(read: (placed: PlacedSetting) => unknown): string[] {
  return allSettings.flatMap((placed) => {
    const value = read(placed);
    return placed.setting.secret && typeof value === 'string' ? secretForms(value) : [];
  });
}

/**
 * A secret and, when it is a URL with a password, that password alone, as written and decoded
 * (querystring's `unescape`, unlike `decodeURIComponent`, leaves a stray `%` be).
 */
function secretForms(value: string): string[] {
  const password = URL.parse(value)?.password ?? '';
  return password === '' ? [value] : [...new Set([value, password, unescape(password)])];
}

function setAt(tree: Record<string, unknown>, path: readonly string[], value: unknown): void {
  const [key, ...rest] = path;
  if (key === undefined) return;
  if (rest.length === 0) tree[key] = value;
  else setAt((tree[key] ??= {}) as Record<string, unknown>, rest, value);
}

/** The value at a setting's path; every path leads through objects, as the schema nests them. */
const getAt = (config: Config, path: readonly string[]): unknown =>
  path.reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], config);

/**
 * Every secret value in a configuration, to hand to `createLogger` so none of them is ever
 * logged. A URL secret also yields its password on its own.
 */
export function secretValues(config: Config): string[] {
  return secretsIn(({ path }) => getAt(config, path));
}

/**
 * The configuration as it may be shown (logs, `check` output): secrets become `[REDACTED]`,
 * unset optional settings stay undefined.
 */
export function redactConfig(config: Config): Record<string, unknown> {
  const shown: Record<string, unknown> = structuredClone(config);
  for (const { path, setting } of allSettings) {
    if (setting.secret && getAt(config, path) !== undefined) setAt(shown, path, REDACTED);
  }
  return shown;
}

/** How {@link exitOnConfigError} reaches the outside world; tests substitute it. */
export interface ExitIo {
  readonly writeStderr: (text: string) => void;
  readonly exit: (code: number) => never;
}

const processIo: ExitIo = {
  writeStderr: (text) => void process.stderr.write(text),
  exit: (code) => process.exit(code),
};

/** Exit code for an invalid configuration, distinct from a crash (1). */
export const CONFIG_ERROR_EXIT_CODE = 2;

/**
 * For the CLI: prints a {@link ConfigError}'s message to stderr and exits with code 2.
 * Any other error is rethrown untouched.
 */
export function exitOnConfigError(error: unknown, io: ExitIo = processIo): never {
  if (!(error instanceof ConfigError)) throw error;
  io.writeStderr(`${error.message}\n`);
  return io.exit(CONFIG_ERROR_EXIT_CODE);
}

/**
 * {@link loadConfig}, but an invalid configuration prints the list of problems and exits
 * with code 2.
 */
export function loadConfigOrExit(
  env: NodeJS.ProcessEnv = process.env,
  options: LoadConfigOptions = {},
  io: ExitIo = processIo,
): Config {
  try {
    return loadConfig(env, options);
  } catch (error) {
    return exitOnConfigError(error, io);
  }
}
