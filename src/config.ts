/**
 * The relay's configuration: the only reader of `process.env` and of config files. Settings
 * are defined once, in `config/settings.ts`; this module loads, validates and shapes them.
 */
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { createSecretRedactor, maskUrlPasswords, REDACTED } from './logger.js';
import {
  type KnownValues,
  type PlacedSetting,
  type Setting,
  type ValuesOf,
  buildTree,
  flattenSettings,
} from './config/setting.js';
import { crossFieldRules, settings, type SettingsByEnv } from './config/settings.js';
import { type RawValue, readSources } from './config/sources.js';

type SettingValues = ValuesOf<typeof settings>;

/**
 * The loaded configuration: typed, nested by topic, every default applied. Each field's TSDoc
 * (shown by editors) gives its environment variable's meaning and default. When `source` is
 * `amqp`, `amqp.url` is known to be set.
 */
export type Config = (
  | (SettingValues & { readonly source: 'poll' })
  | (SettingValues & { readonly source: 'amqp'; readonly amqp: { readonly url: string } })
) &
  SecretFiles;

/**
 * Where a secret was read from when it came from its `<NAME>_FILE` (resolved path), so that
 * the file can be read again when the secret is rotated; undefined when it was given directly.
 */
interface SecretFiles {
  readonly keycloak: { readonly clientSecretFile?: string };
  readonly scim: { readonly tokenFile?: string };
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** A config file to read instead of the one `CONFIG_FILE` names (e.g. from a `--config` flag). */
  readonly configFile?: string;
}

/** Every setting with its place in the configuration, in definition order. */
export const allSettings: readonly PlacedSetting[] = flattenSettings(settings);

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
  const defs = allSettings.map((placed) => placed.setting);
  const sources = readSources(env, defs, configFile);
  const issues = [...sources.fileIssues];
  const values = new Map<string, unknown>();
  const invalid = new Set<string>();

  for (const setting of defs) {
    const sourceIssue = sources.settingIssues.get(setting.env);
    const verdict =
      sourceIssue === undefined
        ? parseSetting(setting, sources.values.get(setting.env), values)
        : { problem: sourceIssue };
    if (verdict !== 'valid') invalid.add(setting.env);
    if (typeof verdict === 'object') issues.push(verdict.problem);
  }

  const valid = Object.fromEntries(values) as SettingsByEnv;
  for (const rule of crossFieldRules) {
    if (rule.reads.some((env) => invalid.has(env))) continue;
    const problem = rule.check(valid);
    if (problem !== undefined) issues.push(`${rule.env}: ${problem}`);
  }

  if (issues.length > 0) {
    // Belt and braces: a secret pasted into a non-secret setting is still not echoed.
    const redact = createSecretRedactor(secretsAmong(sources.values));
    throw new ConfigError(issues.map(redact));
  }
  const config = shapeConfig(values);
  const clientSecretFile = sources.values.get('KEYCLOAK_CLIENT_SECRET')?.file;
  const tokenFile = sources.values.get('SCIM_TOKEN')?.file;
  return {
    ...config,
    keycloak: {
      ...config.keycloak,
      ...(clientSecretFile === undefined ? {} : { clientSecretFile }),
    },
    scim: { ...config.scim, ...(tokenFile === undefined ? {} : { tokenFile }) },
  };
}

/**
 * How one setting fared: `undecidable` when its default derives from a setting that is
 * itself invalid (only that one is reported).
 */
type Verdict = 'valid' | 'undecidable' | { readonly problem: string };

/** Parses one setting, storing its value in `values` when it is valid. */
function parseSetting(
  setting: Setting,
  given: RawValue | undefined,
  values: Map<string, unknown>,
): Verdict {
  const { fallback } = setting;
  let raw: unknown = given?.value;
  if (raw === undefined) {
    if (fallback.kind === 'required') {
      return { problem: `${setting.env}: is required; expected ${setting.kind.expected}` };
    }
    if (fallback.kind === 'none') return 'valid';
    raw = fallback.kind === 'value' ? fallback.raw : fallback.derive(values);
    if (raw === undefined) return 'undecidable';
  }
  const result = setting.kind.schema.safeParse(raw);
  if (result.success) {
    values.set(setting.env, result.data);
    return 'valid';
  }
  const what = describeIssues(result.error);
  const shown = setting.secret ? '' : ` (got ${quoteRaw(raw)})`;
  const origin =
    given === undefined
      ? ', from the default'
      : given.origin === 'environment'
        ? ''
        : `, from the ${given.origin}`;
  return { problem: `${setting.env}: ${what}${shown}${origin}; expected ${setting.kind.expected}` };
}

function describeIssues(error: z.ZodError): string {
  return [...new Set(error.issues.map((issue) => issue.message))].join(', ');
}

function quoteRaw(raw: unknown): string {
  const text = maskUrlPasswords(typeof raw === 'string' ? raw : JSON.stringify(raw));
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text);
}

function secretsAmong(raw: ReadonlyMap<string, RawValue>): string[] {
  return allSettings.flatMap(({ setting }) => {
    const value = raw.get(setting.env)?.value;
    return setting.secret && typeof value === 'string' ? secretForms(value) : [];
  });
}

/** A secret and, when it is a URL with a password, that password alone (as written and decoded). */
function secretForms(value: string): string[] {
  if (!URL.canParse(value)) return [value];
  const { password } = new URL(value);
  if (password === '') return [value];
  return [value, password, safeDecode(password)];
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function shapeConfig(values: KnownValues): Config {
  // buildTree walks the same tree that SettingValues is computed from; every setting was
  // parsed by its own schema above, so the shape and the types agree.
  const tree = buildTree(settings, values) as SettingValues;
  if (tree.source === 'amqp') {
    const { url } = tree.amqp;
    if (url === undefined) {
      // The cross-field rule above already refused this; kept so the type follows from a check.
      throw new ConfigError(['AMQP_URL: is required when SOURCE=amqp']);
    }
    return { ...tree, source: 'amqp', amqp: { ...tree.amqp, url } };
  }
  return { ...tree, source: 'poll' };
}

/**
 * Every secret value in a configuration, to hand to `createLogger` so none of them is ever
 * logged. A URL secret also yields its password on its own.
 */
export function secretValues(config: Config): string[] {
  const flat = flatValues(config);
  return allSettings.flatMap(({ setting }) => {
    const value = flat.get(setting.env);
    return setting.secret && typeof value === 'string' ? secretForms(value) : [];
  });
}

/**
 * The configuration as it may be shown (logs, `check` output): secrets become `[REDACTED]`,
 * unset optional settings stay undefined.
 */
export function redactConfig(config: Config): Record<string, unknown> {
  const flat = flatValues(config);
  const shown = new Map<string, unknown>(
    allSettings.map(({ setting }) => {
      const value = flat.get(setting.env);
      return [setting.env, setting.secret && value !== undefined ? REDACTED : value];
    }),
  );
  return buildTree(settings, shown);
}

function flatValues(config: Config): Map<string, unknown> {
  return new Map(
    allSettings.map(({ path, setting }) => {
      let node: unknown = config;
      for (const key of path) {
        node =
          typeof node === 'object' && node !== null
            ? (node as Record<string, unknown>)[key]
            : undefined;
      }
      return [setting.env, node];
    }),
  );
}

/** How {@link exitOnConfigError} reaches the outside world; tests substitute it. */
export interface ExitIo {
  readonly writeStderr: (text: string) => void;
  readonly exit: (code: number) => never;
}

const processIo: ExitIo = {
  writeStderr: (text) => {
    process.stderr.write(text);
  },
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
