import { carriesPassword, passwordRefused } from './password-guard.js';
import {
  GROUP_SCHEMA,
  USER_SCHEMA,
  type Email,
  type GroupAttributes,
  type MemberInput,
  type UserAttributes,
} from './records.js';
import { scimError } from './scim-response.js';

/** A parsed JSON object whose values are still unchecked. */
export type JsonObject = Readonly<Record<string, unknown>>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalidValue(detail: string): Error {
  return scimError(400, detail, 'invalidValue');
}

/** The request body as an object, or a 400 that says what the client must send instead. */
export function requireBodyObject(body: unknown): JsonObject {
  if (!isJsonObject(body)) {
    throw scimError(
      400,
      'the request body must be a JSON object sent as application/scim+json or application/json',
      'invalidSyntax',
    );
  }
  return body;
}

/** RFC 7643 §3: every request resource names its schemas. */
export function requireSchema(body: JsonObject, urn: string): void {
  const schemas = body['schemas'];
  if (!Array.isArray(schemas) || !schemas.includes(urn)) {
    throw scimError(400, `"schemas" must include "${urn}"`, 'invalidSyntax');
  }
}

/**
 * Reads an attribute the way RFC 7643 §2.1 names it: case-insensitively, and also in its
 * URN-qualified form. JSON null means "no value" (RFC 7643 §2.5).
 */
export function attributeOf(body: JsonObject, name: string, schemaUrn: string): unknown {
  const plain = name.toLowerCase();
  const qualified = `${schemaUrn}:${name}`.toLowerCase();
  for (const [key, value] of Object.entries(body)) {
    const lower = key.toLowerCase();
    if (lower === plain || lower === qualified) return value ?? undefined;
  }
  return undefined;
}

/** A required, non-blank string attribute. */
export function parseRequiredString(value: unknown, field: string): string {
  if (value === undefined || value === null) throw invalidValue(`${field} is required`);
  if (typeof value !== 'string') throw invalidValue(`${field} must be a string`);
  if (value.trim() === '') throw invalidValue(`${field} must not be blank`);
  return value;
}

/** An optional string attribute: absent or null gives `undefined`. */
export function parseOptionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidValue(`${field} must be a string`);
  return value;
}

/** A boolean attribute. Strings such as "true" are refused: RFC 7643 §2.3.2 says boolean. */
export function parseBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw invalidValue(`${field} must be true or false`);
  return value;
}

function asList(value: unknown, field: string): readonly unknown[] {
  if (Array.isArray(value)) return value;
  if (isJsonObject(value)) return [value];
  throw invalidValue(`${field} must be a list of objects`);
}

/** A user's `emails`: `value` required, `type` and `primary` optional, at most one primary. */
export function parseEmails(value: unknown, field = 'emails'): Email[] {
  if (value === undefined || value === null) return [];
  const emails = asList(value, field).map((item, index): Email => {
    const at = `${field}[${index}]`;
    if (!isJsonObject(item)) throw invalidValue(`${at} must be an object`);
    const type = parseOptionalString(attributeOf(item, 'type', ''), `${at}.type`);
    const primary = attributeOf(item, 'primary', '');
    return {
      value: parseRequiredString(attributeOf(item, 'value', ''), `${at}.value`),
      ...(type === undefined ? {} : { type }),
      ...(primary === undefined ? {} : { primary: parseBoolean(primary, `${at}.primary`) }),
    };
  });
  if (emails.filter((email) => email.primary === true).length > 1) {
    throw invalidValue(`${field}: at most one entry may be primary`);
  }
  return emails;
}

/**
 * The sub-attributes of `name` that a client sent: a key is present when it was sent, and its
 * value is `undefined` when it was sent as null (to clear it).
 */
export interface NameInput {
  readonly givenName?: string | undefined;
  readonly familyName?: string | undefined;
}

export function parseName(value: unknown, field = 'name'): NameInput {
  if (value === undefined || value === null) return {};
  if (!isJsonObject(value)) throw invalidValue(`${field} must be an object`);
  const result: { givenName?: string | undefined; familyName?: string | undefined } = {};
  for (const sub of ['givenName', 'familyName'] as const) {
    const present = Object.keys(value).some((key) => key.toLowerCase() === sub.toLowerCase());
    if (present) result[sub] = parseOptionalString(attributeOf(value, sub, ''), `${field}.${sub}`);
  }
  return result;
}

/** Group members: each must name a SCIM user id in `value`; repeated ids count once. */
export function parseMembers(value: unknown, field = 'members'): MemberInput[] {
  if (value === undefined || value === null) return [];
  const seen = new Set<string>();
  const members: MemberInput[] = [];
  asList(value, field).forEach((item, index) => {
    const at = `${field}[${index}]`;
    if (!isJsonObject(item)) throw invalidValue(`${at} must be an object`);
    const id = parseRequiredString(attributeOf(item, 'value', ''), `${at}.value`);
    const display = parseOptionalString(attributeOf(item, 'display', ''), `${at}.display`);
    if (seen.has(id)) return;
    seen.add(id);
    members.push({ value: id, display });
  });
  return members;
}

/**
 * The user a POST or PUT body describes. Attributes Kestra does not keep are ignored, as
 * SCIMple does; `active` defaults to true.
 */
export function parseUserBody(body: unknown): UserAttributes {
  const object = requireBodyObject(body);
  requireSchema(object, USER_SCHEMA);
  if (carriesPassword(object)) throw passwordRefused();
  const name = parseName(attributeOf(object, 'name', USER_SCHEMA));
  const active = attributeOf(object, 'active', USER_SCHEMA);
  return {
    userName: parseRequiredString(attributeOf(object, 'userName', USER_SCHEMA), 'userName'),
    externalId: parseOptionalString(attributeOf(object, 'externalId', USER_SCHEMA), 'externalId'),
    givenName: name.givenName,
    familyName: name.familyName,
    emails: parseEmails(attributeOf(object, 'emails', USER_SCHEMA)),
    active: active === undefined ? true : parseBoolean(active, 'active'),
  };
}

/** The group a POST or PUT body describes, with the members it asks for. */
export function parseGroupBody(body: unknown): {
  attributes: GroupAttributes;
  members: MemberInput[];
} {
  const object = requireBodyObject(body);
  requireSchema(object, GROUP_SCHEMA);
  if (carriesPassword(object)) throw passwordRefused();
  return {
    attributes: {
      displayName: parseRequiredString(
        attributeOf(object, 'displayName', GROUP_SCHEMA),
        'displayName',
      ),
      externalId: parseOptionalString(
        attributeOf(object, 'externalId', GROUP_SCHEMA),
        'externalId',
      ),
    },
    members: parseMembers(attributeOf(object, 'members', GROUP_SCHEMA)),
  };
}
