/** The SCIM shapes the relay reads and writes. Kestra reads only these attributes. */

export const SCHEMA_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const SCHEMA_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const SCHEMA_PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SCHEMA_LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const SCHEMA_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const SCHEMA_SEARCH_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

export interface ScimEmail {
  value: string;
  type?: string;
  primary?: boolean;
}

export interface ScimName {
  givenName?: string;
  familyName?: string;
}

/** What the relay sends for a user. No password, ever: Kestra does not sync them. */
export interface ScimUserInput {
  userName: string;
  externalId?: string;
  name?: ScimName;
  emails?: ScimEmail[];
  active: boolean;
}

export interface ScimMeta {
  resourceType?: string;
  created?: string;
  lastModified?: string;
  location?: string;
  version?: string;
}

/** A user as the server returns it; a server may omit `active`, which then means active. */
export interface ScimUser extends Omit<ScimUserInput, 'active'> {
  id: string;
  active?: boolean;
  meta?: ScimMeta;
}

export interface ScimMember {
  value: string;
  display?: string;
}

/** What the relay sends for a group. Members are managed by PATCH deltas, not here. */
export interface ScimGroupInput {
  displayName: string;
  externalId?: string;
  members?: ScimMember[];
}

export interface ScimGroup extends ScimGroupInput {
  id: string;
  meta?: ScimMeta;
}

export interface ScimPatchOperation {
  op: 'add' | 'remove' | 'replace';
  path?: string;
  value?: unknown;
}

export interface ScimListResponse<T> {
  totalResults: number;
  itemsPerPage?: number;
  startIndex?: number;
  Resources?: T[];
}

/** The parts of `/ServiceProviderConfig` that change how the relay behaves. */
export interface ServiceProviderSummary {
  patch: boolean;
  bulk: boolean;
  filter: boolean;
  filterMaxResults: number | undefined;
  changePassword: boolean;
  sort: boolean;
  etag: boolean;
  authenticationSchemes: string[];
}
