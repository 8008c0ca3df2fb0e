import { ExtraDraft, type ExtraPath } from './extra-attributes.js';
import { parseFilter } from './filter.js';
import { MemberDraft, type MemberChange } from './member-draft.js';
import { carriesPassword, isPasswordPath, passwordRefused } from './password-guard.js';
import {
  GROUP_SCHEMA,
  USER_SCHEMA,
  type Email,
  type ExtraAttributes,
  type GroupAttributes,
  type UserAttributes,
} from './records.js';
import {
  attributeOf,
  isJsonObject,
  parseBoolean,
  parseEmails,
  parseMembers,
  parseName,
  parseOptionalString,
  parseRequiredString,
  requireBodyObject,
  requireSchema,
} from './resource-input.js';
import { PATCH_OP_SCHEMA, scimError } from './scim-response.js';

/** The three PATCH operations of RFC 7644 §3.5.2. */
export type PatchOpName = 'add' | 'remove' | 'replace';

/** One validated entry of a PatchOp request's `Operations`. */
export interface PatchOperation {
  readonly op: PatchOpName;
  readonly path: string | undefined;
  readonly value: unknown;
  /** Names the operation in error details, e.g. `Operations[2]`. */
  readonly label: string;
}

const OP_NAMES: readonly PatchOpName[] = ['add', 'remove', 'replace'];

/**
 * Checks the PatchOp envelope. Op names are case-insensitive (`Replace` from Entra ID works),
 * as in SCIMple; a password anywhere in a path or value refuses the whole request.
 */
export function parsePatchRequest(body: unknown): PatchOperation[] {
  const object = requireBodyObject(body);
  requireSchema(object, PATCH_OP_SCHEMA);
  const operations = attributeOf(object, 'Operations', PATCH_OP_SCHEMA);
  if (!Array.isArray(operations) || operations.length === 0) {
    throw scimError(400, '"Operations" must be a non-empty list', 'invalidSyntax');
  }
  return operations.map((item: unknown, index): PatchOperation => {
    const label = `Operations[${index}]`;
    if (!isJsonObject(item)) throw scimError(400, `${label} must be an object`, 'invalidSyntax');
    const opName = attributeOf(item, 'op', '');
    const op = OP_NAMES.find((name) => typeof opName === 'string' && opName.toLowerCase() === name);
    if (op === undefined) {
      throw scimError(400, `${label}.op must be "add", "remove" or "replace"`, 'invalidSyntax');
    }
    const path = attributeOf(item, 'path', '');
    if (path !== undefined && typeof path !== 'string') {
      throw scimError(400, `${label}.path must be a string`, 'invalidPath');
    }
    const value = attributeOf(item, 'value', '');
    if ((path !== undefined && isPasswordPath(path)) || carriesPassword(value)) {
      throw passwordRefused();
    }
    if (op === 'remove' && path === undefined) {
      throw scimError(400, `${label}: "remove" needs a path`, 'noTarget');
    }
    if (op !== 'remove' && value === undefined) {
      throw scimError(400, `${label}: "${op}" needs a value`, 'invalidValue');
    }
    return { op, path, value, label };
  });
}

/**
 * A PATCH path split into `attribute[filter].sub`. `attribute` and `sub` are lower-cased for
 * matching; `name` and `subName` keep the client's spelling, which the generic profile stores.
 */
interface ParsedPath extends ExtraPath {
  readonly attribute: string;
  readonly sub: string | undefined;
}

const PATH = /^([A-Za-z][\w$-]*)(?:\[(.*)\])?(?:\.([A-Za-z][\w$-]*))?$/s;

/**
 * Splits `urn:...:Schema:attr[...].sub` into the extension URN and the rest: the URN ends at
 * the last colon before any value filter, whose text may hold colons of its own.
 */
function splitExtension(path: string): { schema: string; rest: string } {
  const bracket = path.indexOf('[');
  const head = bracket < 0 ? path : path.slice(0, bracket);
  const colon = head.lastIndexOf(':');
  return { schema: path.slice(0, colon), rest: path.slice(colon + 1) };
}

/**
 * Parses a path. A path in another schema's namespace (an extension) carries that `schema`;
 * Kestra ignores it, so one that does not even parse is ignored too (`undefined`).
 */
function parsePath(text: string, schemaUrn: string, label: string): ParsedPath | undefined {
  let rest = text.trim();
  let schema: string | undefined;
  const prefix = `${schemaUrn.toLowerCase()}:`;
  if (rest.toLowerCase().startsWith(prefix)) rest = rest.slice(prefix.length);
  else if (rest.toLowerCase().startsWith('urn:')) ({ schema, rest } = splitExtension(rest));
  const match = PATH.exec(rest);
  const attribute = match?.[1];
  if (match === null || attribute === undefined) {
    if (schema !== undefined) return undefined;
    throw scimError(400, `${label}: "${text}" is not a valid attribute path`, 'invalidPath');
  }
  return {
    schema,
    attribute: attribute.toLowerCase(),
    name: attribute,
    filter: match[2],
    sub: match[3]?.toLowerCase(),
    subName: match[3],
    text,
  };
}

const READ_ONLY_KEYS = new Set(['id', 'meta', 'schemas']);

/** Calls `apply` for each attribute an operation targets: its path, or each key of its value. */
function forEachTarget(
  operation: PatchOperation,
  schemaUrn: string,
  apply: (path: ParsedPath, value: unknown) => void,
): void {
  if (operation.path !== undefined) {
    const path = parsePath(operation.path, schemaUrn, operation.label);
    if (path !== undefined) apply(path, operation.value);
    return;
  }
  if (!isJsonObject(operation.value)) {
    throw scimError(
      400,
      `${operation.label}.value must be an object when there is no path`,
      'invalidValue',
    );
  }
  for (const [key, value] of Object.entries(operation.value)) {
    // Entra ID puts the resource's own `id` beside the new values; read-only keys in a
    // no-path value are skipped, while an explicit read-only path is refused.
    if (READ_ONLY_KEYS.has(key.toLowerCase())) continue;
    if (key.toLowerCase() === schemaUrn.toLowerCase() && isJsonObject(value)) {
      forEachTarget({ ...operation, value }, schemaUrn, apply);
      continue;
    }
    if (key.toLowerCase().startsWith('urn:') && isJsonObject(value)) {
      // An extension's container: each of its keys is an attribute of that schema.
      for (const [inner, innerValue] of Object.entries(value)) {
        const path = parsePath(`${key}:${inner}`, schemaUrn, operation.label);
        if (path !== undefined) apply(path, innerValue ?? undefined);
      }
      continue;
    }
    const path = parsePath(key, schemaUrn, operation.label);
    if (path !== undefined) apply(path, value ?? undefined);
  }
}

function unsupportedSelector(path: ParsedPath, label: string): Error {
  return scimError(400, `${label}: the path "${path.text}" is not supported`, 'invalidPath');
}

function requirePlain(path: ParsedPath, label: string): void {
  if (path.filter !== undefined || path.sub !== undefined) throw unsupportedSelector(path, label);
}

function cannotRemove(path: ParsedPath, label: string): Error {
  return scimError(
    400,
    `${label}: "${path.text}" is required and cannot be removed`,
    'invalidValue',
  );
}

function readOnly(path: ParsedPath, label: string): Error {
  return scimError(400, `${label}: "${path.text}" is read-only`, 'mutability');
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * What becomes of an attribute `UserAttributes` does not hold: Kestra ignores it, as SCIMple
 * does; the generic profile keeps it (`ExtraDraft`).
 */
type UnknownAttribute = (op: PatchOpName, path: ParsedPath, value: unknown) => void;

const IGNORE: UnknownAttribute = () => undefined;

function sameEmail(a: Email, b: Email): boolean {
  return a.value.toLowerCase() === b.value.toLowerCase();
}

function applyEmails(draft: Mutable<UserAttributes>, op: PatchOpName, value: unknown): void {
  if (op === 'replace') {
    draft.emails = parseEmails(value);
  } else if (op === 'remove') {
    const removed = parseEmails(value);
    draft.emails =
      value === undefined ? [] : draft.emails.filter((e) => !removed.some((r) => sameEmail(e, r)));
  } else {
    for (const added of parseEmails(value)) {
      // RFC 7644 §3.5.2.1: a new primary value demotes the old one.
      const kept = draft.emails.filter((existing) => !sameEmail(existing, added));
      draft.emails = [
        ...(added.primary === true ? kept.map((e) => ({ ...e, primary: false })) : kept),
        added,
      ];
    }
  }
}

function applyName(
  draft: Mutable<UserAttributes>,
  op: PatchOpName,
  path: ParsedPath,
  value: unknown,
  unknown: UnknownAttribute,
): void {
  if (path.sub === 'givenname' || path.sub === 'familyname') {
    const field = path.sub === 'givenname' ? 'givenName' : 'familyName';
    draft[field] = op === 'remove' ? undefined : parseOptionalString(value, `name.${field}`);
  } else if (path.sub === undefined) {
    if (op === 'remove') {
      draft.givenName = undefined;
      draft.familyName = undefined;
      unknown(op, path, value);
      return;
    }
    // RFC 7644 §3.5.2.3: sub-attributes not in the value are left unchanged.
    const name = parseName(value);
    if ('givenName' in name) draft.givenName = name.givenName;
    if ('familyName' in name) draft.familyName = name.familyName;
    if (isJsonObject(value)) {
      const rest = Object.entries(value).filter(
        ([key]) => !['givenname', 'familyname'].includes(key.toLowerCase()),
      );
      if (rest.length > 0) unknown(op, path, Object.fromEntries(rest));
    }
  } else {
    unknown(op, path, value);
  }
}

function applyToUser(
  draft: Mutable<UserAttributes>,
  op: PatchOpName,
  path: ParsedPath,
  value: unknown,
  label: string,
  unknown: UnknownAttribute,
): void {
  if (path.schema !== undefined) {
    unknown(op, path, value);
    return;
  }
  switch (path.attribute) {
    case 'username':
      requirePlain(path, label);
      if (op === 'remove') throw cannotRemove(path, label);
      draft.userName = parseRequiredString(value, 'userName');
      return;
    case 'externalid':
      requirePlain(path, label);
      draft.externalId = op === 'remove' ? undefined : parseOptionalString(value, 'externalId');
      return;
    case 'active':
      requirePlain(path, label);
      if (op === 'remove') throw cannotRemove(path, label);
      draft.active = parseBoolean(value, 'active');
      return;
    case 'name':
      if (path.filter !== undefined) throw unsupportedSelector(path, label);
      applyName(draft, op, path, value, unknown);
      return;
    case 'emails':
      requirePlain(path, label);
      applyEmails(draft, op, value);
      return;
    case 'password':
      throw passwordRefused();
    case 'id':
    case 'meta':
    case 'schemas':
    case 'groups':
      throw readOnly(path, label);
    default:
      unknown(op, path, value);
      return;
  }
}

function patchUser(
  current: UserAttributes,
  operations: readonly PatchOperation[],
  unknown: (label: string) => UnknownAttribute,
): UserAttributes {
  const draft: Mutable<UserAttributes> = { ...current };
  for (const operation of operations) {
    forEachTarget(operation, USER_SCHEMA, (path, value) => {
      applyToUser(draft, operation.op, path, value, operation.label, unknown(operation.label));
    });
  }
  return draft;
}

/**
 * Applies PATCH operations to a user, in order, on a copy: the caller stores the result only
 * when every operation succeeded, which is what makes the PATCH atomic. Attributes Kestra
 * does not keep are ignored.
 */
export function applyUserPatch(
  current: UserAttributes,
  operations: readonly PatchOperation[],
): UserAttributes {
  return patchUser(current, operations, () => IGNORE);
}

/** A user PATCH's outcome on a server that keeps every attribute (the generic profile). */
export interface UserPatchResult {
  readonly attributes: UserAttributes;
  readonly extra: ExtraAttributes;
}

/**
 * `applyUserPatch` for the generic profile: the attributes Kestra keeps go through the same
 * rules, every other one is added, replaced or removed in `extra`.
 */
export function applyUserPatchKeepingExtras(
  current: UserAttributes,
  extra: ExtraAttributes,
  operations: readonly PatchOperation[],
): UserPatchResult {
  const extraDraft = new ExtraDraft(extra);
  const attributes = patchUser(current, operations, (label) => (op, path, value) => {
    extraDraft.apply(op, path, value, label);
  });
  return { attributes, extra: extraDraft.result() };
}

/** `applyUserPatchKeepingExtras`, or `applyUserPatch` with `extra` left as it is. */
export function applyUserPatchTo(
  current: UserAttributes,
  extra: ExtraAttributes,
  operations: readonly PatchOperation[],
  keepExtras: boolean,
): UserPatchResult {
  return keepExtras
    ? applyUserPatchKeepingExtras(current, extra, operations)
    : { attributes: applyUserPatch(current, operations), extra };
}

function applyToMembers(
  members: MemberDraft,
  op: PatchOpName,
  path: ParsedPath,
  value: unknown,
  label: string,
): void {
  if (path.sub !== undefined) throw unsupportedSelector(path, label);
  if (path.filter !== undefined) {
    if (op !== 'remove') {
      throw scimError(
        400,
        `${label}: only "remove" accepts a members[value eq "..."] path`,
        'invalidPath',
      );
    }
    const [first, ...rest] = parseFilter(path.filter, ['value'] as const);
    if (first !== undefined && rest.every((term) => term.value === first.value)) {
      members.remove(first.value);
    }
    return;
  }
  if (op === 'remove') {
    if (value === undefined) members.clear();
    else for (const member of parseMembers(value)) members.remove(member.value);
    return;
  }
  if (op === 'replace') members.clear();
  for (const member of parseMembers(value)) members.add(member.value, member.display);
}

function applyToGroup(
  draft: Mutable<GroupAttributes>,
  members: MemberDraft,
  op: PatchOpName,
  path: ParsedPath,
  value: unknown,
  label: string,
): void {
  // Extension attributes of a group are ignored, as SCIMple does, in both profiles.
  if (path.schema !== undefined) return;
  switch (path.attribute) {
    case 'displayname':
      requirePlain(path, label);
      if (op === 'remove') throw cannotRemove(path, label);
      draft.displayName = parseRequiredString(value, 'displayName');
      return;
    case 'externalid':
      requirePlain(path, label);
      draft.externalId = op === 'remove' ? undefined : parseOptionalString(value, 'externalId');
      return;
    case 'members':
      applyToMembers(members, op, path, value, label);
      return;
    case 'password':
      throw passwordRefused();
    case 'id':
    case 'meta':
    case 'schemas':
      throw readOnly(path, label);
    default:
      return;
  }
}

/** The outcome of a group PATCH: new attributes and a member delta, both still to be stored. */
export interface GroupPatchResult {
  readonly attributes: GroupAttributes;
  readonly members: MemberChange;
}

/** Applies PATCH operations to a group, in order, without touching the stored group. */
export function applyGroupPatch(
  current: GroupAttributes,
  members: ReadonlyMap<string, string | undefined>,
  operations: readonly PatchOperation[],
): GroupPatchResult {
  const draft: Mutable<GroupAttributes> = { ...current };
  const memberDraft = new MemberDraft(members);
  for (const operation of operations) {
    forEachTarget(operation, GROUP_SCHEMA, (path, value) => {
      applyToGroup(draft, memberDraft, operation.op, path, value, operation.label);
    });
  }
  return { attributes: draft, members: memberDraft.change() };
}
