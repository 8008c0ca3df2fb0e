import { ScimError } from './errors.js';

/** Schema URNs of the SCIM messages this server speaks (RFC 7644 §3). */
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SEARCH_REQUEST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

/** The media type of every SCIM body this server writes. */
export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/**
 * What a SCIM handler answers. Handlers return it instead of writing the response themselves,
 * so that one writer can swap it for an injected fault after the request was processed.
 */
export interface ScimResult {
  readonly status: number;
  /** JSON body; `undefined` sends no body at all (204). */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** An RFC 7644 §3.12 error body. `status` is a string there, not a number. */
export interface ScimErrorBody {
  readonly schemas: readonly [typeof ERROR_SCHEMA];
  readonly status: string;
  readonly scimType?: string;
  readonly detail?: string;
}

/** Builds an RFC 7644 §3.12 error body. */
export function scimErrorBody(
  status: number,
  detail: string | undefined,
  scimType?: string,
): ScimErrorBody {
  return {
    schemas: [ERROR_SCHEMA],
    status: String(status),
    ...(scimType === undefined ? {} : { scimType }),
    ...(detail === undefined ? {} : { detail }),
  };
}

/**
 * A refusal raised anywhere in the server. Its `ScimError` carries the status/scimType/detail
 * triple that the relay's `ScimError` reads back from the answer on the other side of the wire.
 */
export function scimError(status: number, detail: string, scimType?: string): ScimError {
  return new ScimError({ status, scimType, detail, operation: 'request' });
}

/** The response that carries a refusal. */
export function errorResult(error: ScimError, headers?: Record<string, string>): ScimResult {
  return {
    status: error.status,
    body: scimErrorBody(error.status, error.detail, error.scimType),
    ...(headers === undefined ? {} : { headers }),
  };
}
