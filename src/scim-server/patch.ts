import { parseFilter } from './filter.js';
import { MemberDraft, type MemberChange } from './member-draft.js';
import { carriesPassword, isPasswordPath, passwordRefused } from './password-guard.js';
import {
  GROUP_SCHEMA,
  USER_SCHEMA,
  type Email,
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

/** A PATCH path split into `attribute[filter].sub`; attribute and sub are lower-cased. */
interface ParsedPath {
  readonly attribute: string;
  readonly filter: string | undefined;
  readonly sub: string | undefined;
  readonly text: string;
}

const PATH = /^([A-Za-z][\w$-]*)(?:\[(.*)\])?(?:\.([A-Za-z][\w$-]*))?$/s;

/** `undefined` for a path in another schema's namespace (an extension this server ignores). */
function parsePath(text: string, schemaUrn: string, label: string): ParsedPath | undefined {
  let rest = text.trim();
  const prefix = `${schemaUrn.toLowerCase()}:`;
  if (rest.toLowerCase().startsWith(prefix)) rest = rest.slice(prefix.length);
  else if (rest.toLowerCase().startsWith('urn:')) return undefined;
  const match = PATH.exec(rest);
  const attribute = match?.[1];
  if (match === null || attribute === undefined) {
    throw scimError(400, `${label}: "${text}" is not a valid attribute path`, 'invalidPath');
  }
  return {
    attribute: attribute.toLowerCase(),
    filter: match[2],
    sub: match[3]?.toLowerCase(),
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
): void {
  if (path.sub === 'givenname' || path.sub === 'familyname') {
    const field = path.sub === 'givenname' ? 'givenName' : 'familyName';
    draft[field] = op === 'remove' ? undefined : parseOptionalString(value, `name.${field}`);
  } else if (path.sub === undefined) {
    if (op === 'remove') {
      draft.givenName = undefined;
      draft.familyName = undefined;
      return;
    }
    // RFC 7644 §3.5.2.3: sub-attributes not in the value are left unchanged.
    const name = parseName(value);
    if ('givenName' in name) draft.givenName = name.givenName;
    if ('familyName' in name) draft.familyName = name.familyName;
  }
}

function applyToUser(
  draft: Mutable<UserAttributes>,
  op: PatchOpName,
  path: ParsedPath,
  value: unknown,
  label: string,
): void {
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
      applyName(draft, op, path, value);
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
      // Attributes Kestra does not keep are ignored, as SCIMple does.
      return;
  }
}

/**
 * Applies PATCH operations to a user, in order, on a copy: the caller stores the result only
 * when every operation succeeded, which is what makes the PATCH atomic.
 */
export function applyUserPatch(
  current: UserAttributes,
  operations: readonly PatchOperation[],
): UserAttributes {
  const draft: Mutable<UserAttributes> = { ...current };
  for (const operation of operations) {
    forEachTarget(operation, USER_SCHEMA, (path, value) => {
      applyToUser(draft, operation.op, path, value, operation.label);
    });
  }
  return draft;
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
