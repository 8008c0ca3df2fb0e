/**
 * RFC 7643 §2.1: "Attribute names are case insensitive". A server may answer `totalresults`,
 * `Resources`, `username` or `DisplayName`; the relay reads every body through this, so the
 * rest of its code can rely on the canonical spelling.
 */

/** The attribute names the relay reads, in the RFC's spelling. */
const CANONICAL = [
  // Common and meta (RFC 7643 §3.1)
  'schemas',
  'id',
  'externalId',
  'meta',
  'resourceType',
  'created',
  'lastModified',
  'location',
  'version',
  // User (RFC 7643 §4.1)
  'userName',
  'name',
  'formatted',
  'familyName',
  'givenName',
  'middleName',
  'honorificPrefix',
  'honorificSuffix',
  'displayName',
  'nickName',
  'title',
  'active',
  'emails',
  'phoneNumbers',
  'groups',
  'value',
  'display',
  'type',
  'primary',
  '$ref',
  // Group (RFC 7643 §4.2)
  'members',
  // Messages (RFC 7644 §3.4.2, §3.12)
  'Resources',
  'totalResults',
  'itemsPerPage',
  'startIndex',
  'status',
  'scimType',
  'detail',
  // ServiceProviderConfig (RFC 7643 §5)
  'patch',
  'bulk',
  'filter',
  'changePassword',
  'sort',
  'etag',
  'authenticationSchemes',
  'supported',
  'maxResults',
  'maxOperations',
  'maxPayloadSize',
] as const;

const canonicalOf = new Map<string, string>(CANONICAL.map((name) => [name.toLowerCase(), name]));

/**
 * The same JSON value with every known attribute name in its canonical case, at any depth.
 * Unknown names and schema-qualified ones (`urn:...`) are kept as sent.
 */
export function canonicalAttributeNames(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalAttributeNames);
  if (typeof value !== 'object' || value === null) return value;
  const result: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    const name = key.includes(':') ? key : (canonicalOf.get(key.toLowerCase()) ?? key);
    result[name] = canonicalAttributeNames(inner);
  }
  return result;
}
