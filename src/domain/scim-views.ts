import type { ScimEmail, ScimName } from '../scim/scim-types.js';

/** A SCIM user reduced to what the relay decides on; `version` is its ETag, when sent. */
export interface ScimUserView {
  readonly id: string;
  readonly userName: string;
  readonly externalId?: string | undefined;
  readonly name?: ScimName | undefined;
  readonly emails?: readonly ScimEmail[] | undefined;
  /** A server may leave it out, which means active. */
  readonly active?: boolean | undefined;
  readonly version?: string | undefined;
}

/** A SCIM group reduced to what the relay decides on; members are read separately. */
export interface ScimGroupView {
  readonly id: string;
  readonly displayName: string;
  readonly externalId?: string | undefined;
  readonly version?: string | undefined;
}

/** A SCIM group as a full listing returns it, with its members (SCIM user ids). */
export interface ScimGroupListing extends ScimGroupView {
  readonly memberIds: readonly string[];
}
