import type { ScimError } from './errors.js';
import { scimError } from './scim-response.js';

/**
 * A resource version as a weak entity tag, the form RFC 7644 §3.14 shows: a SCIM server cannot
 * promise byte-identical bodies (attribute order, projections), only the same resource state.
 */
export function weakEtag(version: number): string {
  return `W/"${version}"`;
}

const ENTITY_TAG = /^\s*(?:W\/)?"([^"]*)"\s*$/;

/** The opaque part of each entity tag in an `If-Match`/`If-None-Match` list; `*` stays `*`. */
function opaqueTags(header: string): string[] {
  return header.split(',').flatMap((part) => {
    if (part.trim() === '*') return ['*'];
    const opaque = ENTITY_TAG.exec(part)?.[1];
    // A malformed tag can match nothing, which is what a server that compares strings does.
    return opaque === undefined ? [] : [opaque];
  });
}

/**
 * Whether an `If-Match`/`If-None-Match` value names this version. The comparison is weak
 * (RFC 7232 §2.3.2): the examples of RFC 7644 §3.14 send weak tags in `If-Match` and expect
 * them to match, which a strong comparison would never allow.
 */
export function etagMatches(header: string, version: number): boolean {
  const current = String(version);
  return opaqueTags(header).some((tag) => tag === '*' || tag === current);
}

/** The 412 of RFC 7644 §3.14; RFC 7644 §3.12 defines no `scimType` for it. */
export function preconditionFailed(what: string, ifMatch: string, version: number): ScimError {
  return scimError(
    412,
    `${what} has changed: If-Match ${ifMatch} does not match its version ${weakEtag(version)}`,
  );
}
