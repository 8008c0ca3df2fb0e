import { scimError } from './scim-response.js';

/** One entry of `attributes`/`excludedAttributes`: a top-level name and maybe a sub-attribute. */
interface AttributePath {
  /** Lower-cased: attribute names are case-insensitive (RFC 7643 §2.1). */
  readonly name: string;
  readonly sub: string | undefined;
}

/** What `attributes` and `excludedAttributes` ask to be returned (RFC 7644 §3.4.2.5). */
export interface Projection {
  /** `undefined` when the client did not restrict attributes. */
  readonly attributes: readonly AttributePath[] | undefined;
  readonly excluded: readonly AttributePath[];
}

/** Returned whatever the client asks: `returned: always` in RFC 7643, plus `schemas`. */
const ALWAYS_RETURNED = new Set(['id', 'schemas']);

/** The projection that keeps everything. */
export const FULL_PROJECTION: Projection = { attributes: undefined, excluded: [] };

function parsePaths(value: unknown, parameter: string, schemaUrn: string): AttributePath[] {
  let items: unknown[];
  if (typeof value === 'string') items = value.split(',');
  else if (Array.isArray(value)) items = value;
  else throw scimError(400, `${parameter} must be a list of attribute names`, 'invalidValue');
  const prefix = `${schemaUrn.toLowerCase()}:`;
  const paths: AttributePath[] = [];
  for (const item of items) {
    if (typeof item !== 'string') {
      throw scimError(400, `${parameter} must be a list of attribute names`, 'invalidValue');
    }
    let path = item.trim().toLowerCase();
    if (path === '') continue;
    if (path.startsWith(prefix)) path = path.slice(prefix.length);
    const [name = '', sub] = path.split('.', 2);
    paths.push({ name, sub });
  }
  return paths;
}

/** Reads the two parameters, from a query string (comma-separated) or a `.search` body (array). */
export function parseProjection(
  attributes: unknown,
  excludedAttributes: unknown,
  schemaUrn: string,
): Projection {
  return {
    attributes:
      attributes === undefined || attributes === null
        ? undefined
        : parsePaths(attributes, 'attributes', schemaUrn),
    excluded:
      excludedAttributes === undefined || excludedAttributes === null
        ? []
        : parsePaths(excludedAttributes, 'excludedAttributes', schemaUrn),
  };
}

/**
 * Whether a top-level attribute survives the projection, so callers can skip building it:
 * rendering a big group's members only to drop them is the cost this avoids.
 */
export function wantsAttribute(projection: Projection, name: string): boolean {
  const lower = name.toLowerCase();
  if (ALWAYS_RETURNED.has(lower)) return true;
  if (projection.attributes !== undefined && !projection.attributes.some((p) => p.name === lower)) {
    return false;
  }
  return !projection.excluded.some((p) => p.name === lower && p.sub === undefined);
}

function mapComplex(value: unknown, keep: (key: string) => boolean): unknown {
  const filterObject = (item: unknown): unknown => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return item;
    return Object.fromEntries(Object.entries(item).filter(([key]) => keep(key.toLowerCase())));
  };
  return Array.isArray(value) ? value.map(filterObject) : filterObject(value);
}

/** Applies the projection to a rendered resource; `id` and `schemas` are always kept. */
export function projectResource(
  resource: Readonly<Record<string, unknown>>,
  projection: Projection,
): Record<string, unknown> {
  if (projection.attributes === undefined && projection.excluded.length === 0) return resource;
  const result: Record<string, unknown> = {};
  for (const [key, original] of Object.entries(resource)) {
    const lower = key.toLowerCase();
    if (ALWAYS_RETURNED.has(lower)) {
      result[key] = original;
      continue;
    }
    let value = original;
    if (projection.attributes !== undefined) {
      const asked = projection.attributes.filter((p) => p.name === lower);
      if (asked.length === 0) continue;
      if (!asked.some((p) => p.sub === undefined)) {
        const subs = new Set(asked.map((p) => p.sub));
        value = mapComplex(value, (sub) => subs.has(sub));
      }
    }
    const excluded = projection.excluded.filter((p) => p.name === lower);
    if (excluded.some((p) => p.sub === undefined)) continue;
    if (excluded.length > 0) {
      const subs = new Set(excluded.map((p) => p.sub));
      value = mapComplex(value, (sub) => !subs.has(sub));
    }
    result[key] = value;
  }
  return result;
}
