import { scimError } from './scim-response.js';

/** A normalised page request: `startIndex` is 1-based, `count` already capped. */
export interface PageRequest {
  readonly startIndex: number;
  readonly count: number;
}

function toInteger(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) {
    throw scimError(400, `${name} must be an integer`, 'invalidValue');
  }
  return number;
}

/**
 * Applies RFC 7644 §3.4.2.4: a `startIndex` below 1 means 1, a negative `count` means 0, and
 * the server may return fewer than asked: `count` is capped by `maxPageSize`, which is also
 * the page size when the client gives none.
 */
export function parsePageRequest(
  startIndex: unknown,
  count: unknown,
  maxPageSize: number,
): PageRequest {
  const start = toInteger(startIndex, 'startIndex') ?? 1;
  const size = toInteger(count, 'count') ?? maxPageSize;
  return { startIndex: Math.max(start, 1), count: Math.min(Math.max(size, 0), maxPageSize) };
}
