import type { ValueKind } from './value-kinds.js';

/** Whether a setting always has a value once the configuration is valid. */
export type Presence = 'always' | 'optional';

/** Valid values of settings read so far, by environment name: what a derived default reads. */
export type KnownValues = ReadonlyMap<string, unknown>;

/** What a setting falls back to when no source sets it. */
export type Fallback =
  | { readonly kind: 'required' }
  | { readonly kind: 'none' }
  /** A raw value, parsed like any other source so a bad default cannot slip through. */
  | { readonly kind: 'value'; readonly raw: string | number }
  /**
   * A raw value computed from settings defined earlier; `undefined` when those are invalid,
   * in which case only they are reported. `text` shows the rule in the README.
   */
  | {
      readonly kind: 'derived';
      readonly text: string;
      readonly derive: (known: KnownValues) => string | number | undefined;
    };

/**
 * One setting: its environment name (also its key in the config file), how its value is
 * parsed, what it falls back to, whether it is secret, and a one-line description.
 */
export interface Setting<T = unknown, E extends string = string, P extends Presence = Presence> {
  readonly env: E;
  readonly kind: ValueKind<T>;
  readonly presence: P;
  readonly fallback: Fallback;
  /** Secret values may also come from `<env>_FILE` and never appear in messages or logs. */
  readonly secret: boolean;
  readonly description: string;
}

/** Per-setting flags beyond the essentials. */
export interface SettingOptions {
  /** See {@link Setting.secret}. Defaults to false. */
  readonly secret?: boolean;
}

/** A setting that must be set by the environment or the config file. */
export function required<T, E extends string>(
  env: E,
  kind: ValueKind<T>,
  description: string,
  options: SettingOptions = {},
): Setting<T, E, 'always'> {
  const secret = options.secret ?? false;
  return { env, kind, presence: 'always', fallback: { kind: 'required' }, secret, description };
}

/** A setting that may stay unset; the configuration then holds `undefined`. */
export function optional<T, E extends string>(
  env: E,
  kind: ValueKind<T>,
  description: string,
  options: SettingOptions = {},
): Setting<T, E, 'optional'> {
  const secret = options.secret ?? false;
  return { env, kind, presence: 'optional', fallback: { kind: 'none' }, secret, description };
}

/** A setting with a default: a raw value, or one derived from settings defined before it. */
export function withDefault<T, E extends string>(
  env: E,
  kind: ValueKind<T>,
  fallback: string | number | Extract<Fallback, { kind: 'derived' }>,
  description: string,
  options: SettingOptions = {},
): Setting<T, E, 'always'> {
  const secret = options.secret ?? false;
  const resolved: Fallback =
    typeof fallback === 'object' ? fallback : { kind: 'value', raw: fallback };
  return { env, kind, presence: 'always', fallback: resolved, secret, description };
}

/** Settings grouped by topic; the shape of the loaded configuration follows this tree. */
export interface SettingTree {
  readonly [key: string]: Setting | SettingTree;
}

/** The value a setting contributes to the configuration. */
export type ValueOf<S> =
  S extends Setting<infer T, string, infer P> ? (P extends 'optional' ? T | undefined : T) : never;

/**
 * The configuration shape of a tree. The mapping is homomorphic, so editors show each field
 * with the TSDoc written on its setting.
 */
export type ValuesOf<T extends SettingTree> = {
  readonly [K in keyof T]: T[K] extends Setting
    ? ValueOf<T[K]>
    : T[K] extends SettingTree
      ? ValuesOf<T[K]>
      : never;
};

type Leaves<T> = {
  [K in keyof T]: T[K] extends Setting ? T[K] : T[K] extends SettingTree ? Leaves<T[K]> : never;
}[keyof T];

/**
 * Valid values keyed by environment name, absent when unset or invalid: what cross-field
 * rules read.
 */
export type ValuesByEnv<T extends SettingTree> = {
  readonly [S in Leaves<T> as EnvOf<S>]?: ValueOf<S>;
};

type EnvOf<S> = S extends Setting<unknown, infer E> ? E : never;

/**
 * A rule that spans settings. It runs only when every setting it reads is valid, so a bad
 * value is reported once, and its problem is reported under `env` like a field's own.
 */
export interface CrossFieldRule<V> {
  readonly env: keyof V & string;
  readonly reads: readonly (keyof V & string)[];
  /** Returns what is wrong and what is expected, or undefined when the rule holds. */
  readonly check: (values: V) => string | undefined;
}

/** A setting together with where it sits in the tree. */
export interface PlacedSetting {
  readonly path: readonly string[];
  readonly setting: Setting;
}

function isSetting(node: Setting | SettingTree): node is Setting {
  return typeof node.env === 'string' && 'kind' in node && 'presence' in node;
}

/** Every setting of a tree, in definition order. */
export function flattenSettings(
  tree: SettingTree,
  prefix: readonly string[] = [],
): PlacedSetting[] {
  return Object.entries(tree).flatMap(([key, node]) => {
    const path = [...prefix, key];
    return isSetting(node) ? [{ path, setting: node }] : flattenSettings(node, path);
  });
}

/**
 * Builds the nested configuration object from values keyed by environment name. The caller
 * types the result: a tree walk cannot be followed by the compiler, and `ValuesOf` states it.
 */
export function buildTree(tree: SettingTree, values: KnownValues): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(tree).map(([key, node]) => [
      key,
      isSetting(node) ? values.get(node.env) : buildTree(node, values),
    ]),
  );
}
