import type { AttributeCase } from './attribute-case.js';
import {
  GROUP_FILTER_ATTRIBUTES,
  KESTRA_STORE_RULES,
  USER_FILTER_ATTRIBUTES,
  type GroupFilterAttribute,
  type StoreRules,
  type UserFilterAttribute,
} from './store.js';

/** The behaviours the server can take on; `kestra` is the default. */
export const PROFILE_NAMES = ['kestra', 'generic'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** The longest `patchDelayMs` accepted: long enough for any race, short enough to close fast. */
export const MAX_PATCH_DELAY_MS = 60_000;

/**
 * Everything that differs between the two profiles, read in a few places (store, routes,
 * discovery, test API) instead of `if (generic)` spread through the server.
 *
 * `kestra` reproduces Kestra's endpoint as documented (see /work/shared/notes/kestra-scim.md).
 * `generic` is a plain RFC 7644 server written by someone else: every freedom the RFCs leave
 * is taken in the direction that hurts a client relying on Kestra's habits.
 */
export interface ServerProfile extends StoreRules {
  readonly name: ProfileName;
  /**
   * `atomic`: a PATCH is applied to the current resource in one step (Kestra). `unlocked`:
   * read, wait `patchDelayMs` (at least one macrotask), apply to what was read and write the
   * whole resource back, so concurrent PATCHes to one resource can lose each other's changes.
   */
  readonly patch: 'atomic' | 'unlocked';
  readonly patchDelayMs: number;
  /** Attributes `filter` accepts; the generic profile refuses `externalId` (it is OPTIONAL). */
  readonly userFilterAttributes: readonly UserFilterAttribute[];
  readonly groupFilterAttributes: readonly GroupFilterAttribute[];
  /** Keep user attributes Kestra ignores (`title`, `phoneNumbers`...), so PUT can clear them. */
  readonly keepsExtraAttributes: boolean;
  /** `meta.version`, `ETag`, `If-Match` (412) and `If-None-Match` (304), advertised in discovery. */
  readonly etags: boolean;
  /** POST answers 201 with the resource, or with only `Location` (and `ETag`). */
  readonly createAnswersResource: boolean;
  /** PATCH answers 200 with the resource, or 204 with no body (Kestra). */
  readonly patchAnswersResource: boolean;
  /** Spelling of attribute names in resources and list responses; see `AttributeCase`. */
  readonly attributeCase: AttributeCase;
}

export const KESTRA_PROFILE: ServerProfile = {
  ...KESTRA_STORE_RULES,
  name: 'kestra',
  patch: 'atomic',
  patchDelayMs: 0,
  userFilterAttributes: USER_FILTER_ATTRIBUTES,
  groupFilterAttributes: GROUP_FILTER_ATTRIBUTES,
  keepsExtraAttributes: false,
  etags: false,
  createAnswersResource: true,
  patchAnswersResource: false,
  attributeCase: 'canonical',
};

/** The generic profile, with the window between a PATCH's read and its write. */
export function genericProfile(patchDelayMs = 0): ServerProfile {
  return {
    name: 'generic',
    userDelete: 'delete',
    userNameFilter: 'case-exact',
    patch: 'unlocked',
    patchDelayMs,
    userFilterAttributes: ['id', 'userName'],
    groupFilterAttributes: ['id', 'displayName'],
    keepsExtraAttributes: true,
    etags: true,
    createAnswersResource: false,
    patchAnswersResource: true,
    attributeCase: 'lower',
  };
}

/** The profile a name and delay describe; the caller has validated both. */
export function serverProfile(name: ProfileName, patchDelayMs?: number): ServerProfile {
  return name === 'generic' ? genericProfile(patchDelayMs) : KESTRA_PROFILE;
}
