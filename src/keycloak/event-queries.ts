/**
 * Filters for the admin-events listing. Dates are strings on purpose: Keycloak 25..26.1 take
 * `yyyy-MM-dd` only, 26.2+ also epoch milliseconds; a `Date` would be sent as its `toString()`.
 */
export interface AdminEventQuery {
  operationTypes?: readonly string[];
  resourceTypes?: readonly string[];
  /** Supports `*` as a wildcard, e.g. `users/*`. */
  resourcePath?: string;
  dateFrom?: string;
  dateTo?: string;
  authRealm?: string;
  authClient?: string;
  authUser?: string;
  authIpAddress?: string;
  /** `asc` or `desc`; Keycloak 26.2+ only (older servers ignore it and return newest first). */
  direction?: 'asc' | 'desc';
}

/** Filters for the user-events listing; see {@link AdminEventQuery} about dates. */
export interface UserEventQuery {
  types?: readonly string[];
  user?: string;
  client?: string;
  ipAddress?: string;
  dateFrom?: string;
  dateTo?: string;
  /** `asc` or `desc`; Keycloak 26.2+ only. */
  direction?: 'asc' | 'desc';
}

/** The query string parameters for an admin-events page; repeated keys for the lists. */
export function adminEventSearchParams(query: AdminEventQuery): URLSearchParams {
  const params = new URLSearchParams();
  for (const value of query.operationTypes ?? []) params.append('operationTypes', value);
  for (const value of query.resourceTypes ?? []) params.append('resourceTypes', value);
  appendDefined(params, 'resourcePath', query.resourcePath);
  appendDefined(params, 'dateFrom', query.dateFrom);
  appendDefined(params, 'dateTo', query.dateTo);
  appendDefined(params, 'authRealm', query.authRealm);
  appendDefined(params, 'authClient', query.authClient);
  appendDefined(params, 'authUser', query.authUser);
  appendDefined(params, 'authIpAddress', query.authIpAddress);
  appendDefined(params, 'direction', query.direction);
  return params;
}

/** The query string parameters for a user-events page. */
export function userEventSearchParams(query: UserEventQuery): URLSearchParams {
  const params = new URLSearchParams();
  for (const value of query.types ?? []) params.append('type', value);
  appendDefined(params, 'user', query.user);
  appendDefined(params, 'client', query.client);
  appendDefined(params, 'ipAddress', query.ipAddress);
  appendDefined(params, 'dateFrom', query.dateFrom);
  appendDefined(params, 'dateTo', query.dateTo);
  appendDefined(params, 'direction', query.direction);
  return params;
}

function appendDefined(params: URLSearchParams, key: string, value: string | undefined): void {
  if (value !== undefined) params.append(key, value);
}
