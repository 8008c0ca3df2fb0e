/**
 * SCIM filter expressions (RFC 7644 §3.4.2.2), only the part the relay needs: `eq` and `and`.
 *
 * A value is a JSON string literal, so JSON.stringify quotes it exactly as the RFC wants:
 * `"` and `\` escaped, control characters as `\uXXXX`. URL encoding happens later, where the
 * query string is built.
 */
export type ScimFilter = string & { readonly __brand: 'ScimFilter' };

const ATTRIBUTE_PATH = /^[A-Za-z][\w$-]*(\.[A-Za-z][\w$-]*)?$/;

export function eq(attribute: string, value: string): ScimFilter {
  if (!ATTRIBUTE_PATH.test(attribute)) {
    throw new Error(`not a SCIM attribute path: ${JSON.stringify(attribute)}`);
  }
  return `${attribute} eq ${JSON.stringify(value)}` as ScimFilter;
}

export function and(...filters: [ScimFilter, ...ScimFilter[]]): ScimFilter {
  if (filters.length === 1) return filters[0];
  return filters.map((filter) => `(${filter})`).join(' and ') as ScimFilter;
}
