import { USER_SCHEMA, type ExtraAttributes } from './records.js';
import { isJsonObject, type JsonObject } from './resource-input.js';
import { scimError } from './scim-response.js';

/**
 * The user attributes that `UserAttributes` holds or that no client may set, lower-cased: every
 * other attribute of a POST or PUT body is an extra one for the generic profile.
 */
const KEPT_ELSEWHERE = new Set([
  'schemas',
  'id',
  'meta',
  'externalid',
  'username',
  'emails',
  'active',
  'password',
  'groups',
]);
/** The sub-attributes of `name` that `UserAttributes` holds. */
const NAME_KEPT_ELSEWHERE = new Set(['givenname', 'familyname']);

const CORE_PREFIX = `${USER_SCHEMA.toLowerCase()}:`;

/** A PATCH operation's name (`PatchOpName` in patch.ts, which imports this module). */
type ExtraOp = 'add' | 'remove' | 'replace';

/** The key of `object` that spells `name` in any case: attribute names are case-insensitive. */
function keyOf(object: JsonObject, name: string): string | undefined {
  const lower = name.toLowerCase();
  return Object.keys(object).find((key) => key.toLowerCase() === lower);
}

/** `object` without `name`, whatever its spelling. */
function without(object: JsonObject, name: string): Record<string, unknown> {
  const lower = name.toLowerCase();
  return Object.fromEntries(Object.entries(object).filter(([key]) => key.toLowerCase() !== lower));
}

/** `object` with `key` set, and any other spelling of it dropped: one attribute, one key. */
function withValue(object: JsonObject, key: string, value: unknown): Record<string, unknown> {
  return { ...without(object, key), [key]: value };
}

/** The sub-attributes of a `name` value that `UserAttributes` does not hold, if any. */
function nameRemainder(value: unknown): JsonObject | undefined {
  if (!isJsonObject(value)) return undefined;
  const rest = Object.entries(value).filter(
    ([key, sub]) => !NAME_KEPT_ELSEWHERE.has(key.toLowerCase()) && sub !== null,
  );
  return rest.length === 0 ? undefined : Object.fromEntries(rest);
}

/**
 * The extra attributes of a user POST or PUT body, for the generic profile: every attribute
 * the known parser leaves, with `name`'s other sub-attributes under `name`. The caller has
 * already refused a password.
 */
export function extraAttributesOf(body: JsonObject): ExtraAttributes {
  let extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    // null means no value (RFC 7643 §2.5); a core-schema container is not an extension.
    if (value === null || value === undefined || `${key.toLowerCase()}:` === CORE_PREFIX) continue;
    const name = key.toLowerCase().startsWith(CORE_PREFIX) ? key.slice(CORE_PREFIX.length) : key;
    if (KEPT_ELSEWHERE.has(name.toLowerCase())) continue;
    if (name.toLowerCase() === 'name') {
      const rest = nameRemainder(value);
      if (rest !== undefined) extra = withValue(extra, 'name', rest);
      continue;
    }
    extra = withValue(extra, name, value);
  }
  return extra;
}

/** Whether an attribute name is one a seed's `extra` may not carry (see `KEPT_ELSEWHERE`). */
export function isKeptElsewhere(name: string): boolean {
  const lower = name.toLowerCase();
  return KEPT_ELSEWHERE.has(
    lower.startsWith(CORE_PREFIX) ? lower.slice(CORE_PREFIX.length) : lower,
  );
}

/** A PATCH path that targets an extra attribute, with names spelled as the client sent them. */
export interface ExtraPath {
  /** The extension schema URN of a qualified path; `undefined` for the core User schema. */
  readonly schema: string | undefined;
  readonly name: string;
  readonly filter: string | undefined;
  readonly subName: string | undefined;
  /** The path as sent, for error details. */
  readonly text: string;
}

/** Merges sub-attributes into a complex value; a null sub-attribute clears it. */
function merge(base: JsonObject, update: JsonObject): JsonObject {
  let merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(update)) {
    merged =
      value === null ? without(merged, key) : withValue(merged, keyOf(merged, key) ?? key, value);
  }
  return merged;
}

/** RFC 7644 §3.5.2.1: `add` to a multi-valued attribute appends the values not already there. */
function append(existing: readonly unknown[], value: unknown): unknown[] {
  const seen = new Set(existing.map((item) => JSON.stringify(item)));
  const values: readonly unknown[] = Array.isArray(value) ? value : [value];
  return [...existing, ...values.filter((item) => !seen.has(JSON.stringify(item)))];
}

function unsupportedPath(label: string, path: ExtraPath, why: string): Error {
  return scimError(
    400,
    `${label}: the path "${path.text}" is not supported (${why})`,
    'invalidPath',
  );
}

/** `target` with one attribute, or one sub-attribute of a complex attribute, changed. */
function applyTo(
  target: JsonObject,
  op: ExtraOp,
  path: ExtraPath,
  value: unknown,
  label: string,
): JsonObject {
  const key = keyOf(target, path.name) ?? path.name;
  const existing: unknown = target[key];
  if (path.subName === undefined) {
    if (op === 'remove') return without(target, key);
    if (op === 'add' && Array.isArray(existing)) {
      return withValue(target, key, append(existing, value));
    }
    // RFC 7644 §3.5.2.1 and §3.5.2.3: sub-attributes the value leaves out stay unchanged.
    if (isJsonObject(existing) && isJsonObject(value)) {
      return withValue(target, key, merge(existing, value));
    }
    return withValue(target, key, value);
  }
  if (Array.isArray(existing)) {
    throw unsupportedPath(label, path, `"${path.name}" is multi-valued`);
  }
  if (existing !== undefined && !isJsonObject(existing)) {
    throw unsupportedPath(label, path, `"${path.name}" is not a complex attribute`);
  }
  const inner = existing ?? {};
  const subKey = keyOf(inner, path.subName) ?? path.subName;
  const changed = op === 'remove' ? without(inner, subKey) : withValue(inner, subKey, value);
  return Object.keys(changed).length === 0 ? without(target, key) : withValue(target, key, changed);
}

/**
 * PATCH operations on a user's extra attributes (generic profile), recorded on a copy so the
 * caller stores them only when the whole PATCH succeeded. Simple paths and `attr.sub` paths
 * work, in the core schema and in extension containers; value filters (`attr[type eq "x"]`)
 * are refused with `invalidPath` rather than half-applied.
 */
export class ExtraDraft {
  #root: JsonObject;

  constructor(base: ExtraAttributes) {
    this.#root = base;
  }

  apply(op: ExtraOp, path: ExtraPath, value: unknown, label: string): void {
    if (path.filter !== undefined) throw unsupportedPath(label, path, 'value filters');
    if (path.schema === undefined) {
      // `renderUser` reads the rest of `name` under exactly this key.
      const core = path.name.toLowerCase() === 'name' ? { ...path, name: 'name' } : path;
      this.#root = applyTo(this.#root, op, core, value, label);
      return;
    }
    const key = keyOf(this.#root, path.schema) ?? path.schema;
    const current = this.#root[key];
    const container = applyTo(isJsonObject(current) ? current : {}, op, path, value, label);
    this.#root =
      Object.keys(container).length === 0
        ? without(this.#root, key)
        : withValue(this.#root, key, container);
  }

  result(): ExtraAttributes {
    return this.#root;
  }
}
