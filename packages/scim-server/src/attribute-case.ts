/**
 * How attribute names are spelled in the resources and list responses the server writes.
 * `canonical` is RFC 7643's camelCase, as Kestra answers. `lower` lower-cases every key at
 * every depth (`totalresults`, `resources`, `username`, `name.givenname`, `meta.lastmodified`),
 * which RFC 7643 §2.1 allows because attribute names are case-insensitive: a client that reads
 * `userName` by its exact spelling finds nothing. Keys that are schema URNs (extension
 * containers) keep their spelling; the attributes inside them are lower-cased too. Values are
 * never touched, so `schemas` still lists the URNs as they are.
 */
export type AttributeCase = 'canonical' | 'lower';

function lowerKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(lowerKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key.toLowerCase().startsWith('urn:') ? key : key.toLowerCase(),
      lowerKeys(inner),
    ]),
  );
}

/** A response body with its attribute names spelled as `attributeCase` says. */
export function spellAttributes(body: unknown, attributeCase: AttributeCase): unknown {
  return attributeCase === 'canonical' ? body : lowerKeys(body);
}
