import type {
  ScimEmail,
  ScimGroupInput,
  ScimName,
  ScimPatchOperation,
  ScimUserInput,
} from '../scim/scim-types.js';
import { groupPathName } from './group-name.js';
import type { KeycloakGroup, KeycloakUser } from './keycloak-model.js';

/** How Keycloak entities become SCIM resources. Compiled from the configuration. */
export interface MappingOptions {
  /** Which Keycloak field becomes SCIM `userName`. */
  readonly usernameSource: 'username' | 'email';
  /**
   * `path` keeps same-named groups under different parents apart (the names of the group and
   * its ancestors, a `/` inside a name escaped: see `group-name.ts`); `name` is shorter.
   */
  readonly groupNameSource: 'path' | 'name';
}

/** The outcome of mapping a user: the resource, or why it cannot be provisioned. */
export type UserMapping =
  | { readonly ok: true; readonly resource: ScimUserInput }
  | { readonly ok: false; readonly reason: string };

/**
 * A Keycloak user as Kestra's SCIM reads it: userName, name, primary email, active, and the
 * Keycloak id as externalId, which is how the relay recognises what it manages.
 */
export function toScimUser(user: KeycloakUser, options: MappingOptions): UserMapping {
  const email = nonEmpty(user.email);
  const userName = options.usernameSource === 'email' ? email : nonEmpty(user.username);
  if (userName === undefined) {
    return {
      ok: false,
      reason: `user ${user.id} (${user.username}) has no ${options.usernameSource === 'email' ? 'email' : 'username'}, which USERNAME_SOURCE=${options.usernameSource} needs for the SCIM userName`,
    };
  }
  const givenName = nonEmpty(user.firstName);
  const familyName = nonEmpty(user.lastName);
  return {
    ok: true,
    resource: {
      userName,
      externalId: user.id,
      ...(givenName === undefined && familyName === undefined
        ? {}
        : {
            name: {
              ...(givenName === undefined ? {} : { givenName }),
              ...(familyName === undefined ? {} : { familyName }),
            },
          }),
      ...(email === undefined ? {} : { emails: [{ value: email, type: 'work', primary: true }] }),
      active: user.enabled,
    },
  };
}

/**
 * A Keycloak group as a SCIM group: its displayName from its chain of names (never from
 * Keycloak's `path`, which a `/` inside a name makes ambiguous), or its own name alone.
 */
export function toScimGroup(
  group: Pick<KeycloakGroup, 'id' | 'name' | 'names'>,
  options: MappingOptions,
): ScimGroupInput {
  return {
    displayName: options.groupNameSource === 'path' ? groupPathName(group.names) : group.name,
    externalId: group.id,
  };
}

/** A user as the relay compares it: the attributes it owns, as the server returned them. */
export interface UserAttributesView {
  readonly userName: string;
  readonly externalId?: string | undefined;
  readonly name?: ScimName | undefined;
  readonly emails?: readonly ScimEmail[] | undefined;
  readonly active?: boolean | undefined;
}

/** A group as the relay compares it. */
export interface GroupAttributesView {
  readonly displayName: string;
  readonly externalId?: string | undefined;
}

/**
 * The PATCH operations that make the SCIM user say what `desired` says, on the attributes the
 * relay owns (`userName`, `name.givenName`, `name.familyName`, `emails`, `active`,
 * `externalId`) and nothing else: a PUT would clear what other systems set (RFC 7644 §3.5.1).
 * Empty when nothing differs, which keeps a resync from rewriting every user on every run.
 */
export function userChanges(
  current: UserAttributesView,
  desired: ScimUserInput,
): ScimPatchOperation[] {
  const changes: ScimPatchOperation[] = [];
  const set = (path: string, value: unknown): void => {
    changes.push({ op: 'replace', path, value });
  };
  if (current.userName !== desired.userName) set('userName', desired.userName);
  for (const field of ['givenName', 'familyName'] as const) {
    const now = nonEmpty(current.name?.[field]);
    const wanted = desired.name?.[field];
    if (now === wanted) continue;
    if (wanted === undefined) changes.push({ op: 'remove', path: `name.${field}` });
    else set(`name.${field}`, wanted);
  }
  const primary = (emails: readonly ScimEmail[] | undefined): string | undefined =>
    (emails?.find((e) => e.primary === true) ?? emails?.[0])?.value.toLowerCase();
  if (primary(current.emails) !== primary(desired.emails)) {
    if (desired.emails === undefined) changes.push({ op: 'remove', path: 'emails' });
    else set('emails', desired.emails);
  }
  if ((current.active ?? true) !== desired.active) set('active', desired.active);
  if (current.externalId !== desired.externalId) set('externalId', desired.externalId);
  return changes;
}

/** Whether the SCIM user already says what `desired` says, on the attributes the relay owns. */
export function userMatches(current: UserAttributesView, desired: ScimUserInput): boolean {
  return userChanges(current, desired).length === 0;
}

/**
 * The PATCH operations that make the SCIM group carry `desired`'s name and `externalId`.
 * PATCH, not PUT: a PUT without `members` would empty the group.
 */
export function groupChanges(
  current: GroupAttributesView,
  desired: ScimGroupInput,
): ScimPatchOperation[] {
  const changes: ScimPatchOperation[] = [];
  if (current.displayName !== desired.displayName) {
    changes.push({ op: 'replace', path: 'displayName', value: desired.displayName });
  }
  if (current.externalId !== desired.externalId) {
    changes.push({ op: 'replace', path: 'externalId', value: desired.externalId });
  }
  return changes;
}

export function groupMatches(current: GroupAttributesView, desired: ScimGroupInput): boolean {
  return groupChanges(current, desired).length === 0;
}

/** The attribute names a list of PATCH operations changes, for the audit log. */
export function changedAttributes(changes: readonly ScimPatchOperation[]): string[] {
  return changes.map((change) => change.path ?? '(value)');
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
