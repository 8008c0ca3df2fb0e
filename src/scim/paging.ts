import type { ScimListResponse } from './scim-types.js';

/**
 * Where the next page starts, or `undefined` when the listing is complete (RFC 7644 §3.4.2.4).
 *
 * `startIndex` is 1-based. A server may return fewer items than asked for, so the next page
 * starts after what was actually returned, not after `count`. We stop on an empty page (a
 * server that miscounts `totalResults` cannot loop us forever), or once `startIndex +
 * itemsPerPage` passes `totalResults`.
 */
export function nextStartIndex(
  requestedStartIndex: number,
  page: ScimListResponse<unknown>,
): number | undefined {
  const returned = page.Resources?.length ?? 0;
  if (returned === 0) return undefined;
  // Some servers put their page size in itemsPerPage; what matters is what came back.
  const next = (page.startIndex ?? requestedStartIndex) + returned;
  return next > page.totalResults ? undefined : next;
}
