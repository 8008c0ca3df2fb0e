import type { Logger } from 'pino';
import { ScimError, describeError, isTransient } from '../errors.js';
import type { BackoffPolicy } from '../retry/backoff.js';
import type { CredentialObserver } from '../security/credential-health.js';
import { withRetry } from '../retry/with-retry.js';
import { eq, type ScimFilter } from './filter.js';
import { nextStartIndex } from './paging.js';
import {
  ScimHttp,
  type ResponseObserver,
  type ScimHttpOptions,
  type ScimRequest,
  type ScimResponse,
} from './scim-http.js';
import {
  SCHEMA_GROUP,
  SCHEMA_PATCH_OP,
  SCHEMA_USER,
  type ScimGroup,
  type ScimGroupInput,
  type ScimListResponse,
  type ScimPatchOperation,
  type ScimUser,
  type ScimUserInput,
  type ServiceProviderSummary,
} from './scim-types.js';

export interface ScimClientOptions extends ScimHttpOptions {
  readonly retry: BackoffPolicy;
  /** Resources asked for per list page. The server may return fewer. */
  readonly pageSize: number;
  /** Members per PATCH request: a large group never turns into one huge request. */
  readonly memberBatchSize: number;
}

export interface ScimClientHooks {
  readonly logger?: Logger;
  /** Each HTTP exchange's status (0 when none came), for metrics. */
  readonly onResponse?: ResponseObserver;
  /** Each retry, for metrics. */
  readonly onRetry?: (operation: string) => void;
  /** Told whether the target accepts the bearer token (a 401 refuses it). */
  readonly credentials?: CredentialObserver;
  readonly signal?: AbortSignal;
}

/** A write that depends on what was read: sent with `If-Match` when the server has ETags. */
export interface WriteCondition {
  readonly ifMatch?: string | undefined;
}

type Kind = 'Users' | 'Groups';

/**
 * The relay's SCIM client: create, read, PATCH, DELETE, filtered listing across pages, and
 * `/ServiceProviderConfig`, with retries on transient failures. It never sends a PUT, which on
 * an RFC 7644 server clears every attribute it omits.
 *
 * It trusts no server more than the RFC makes it: filter hits are checked on this side (a
 * server may ignore a filter it does not support, or compare `userName` case-sensitively),
 * attribute names are read case-insensitively, and a create without a body is read through its
 * `Location`.
 *
 * Creates are never blindly repeated. A POST whose outcome is unknown (a timeout, a reset
 * connection) may have been applied, so before each retry the client looks the name up; a
 * resource found then, like a 409, is reported as a `ScimError` 409 for the caller to decide
 * whose it is: deciding ownership is not the transport's business.
 */
export class ScimClient {
  private readonly http: ScimHttp;
  /** `abort()`: every request and retry wait in flight ends at once. */
  private readonly aborting = new AbortController();
  private readonly cancel: AbortSignal;
  /** Learnt from the server: false once it refused an `externalId` filter. */
  private externalIdFilters = true;
  private etags: Promise<boolean> | undefined;

  constructor(
    private readonly options: ScimClientOptions,
    private readonly hooks: ScimClientHooks = {},
  ) {
    const cancel =
      hooks.signal === undefined
        ? this.aborting.signal
        : AbortSignal.any([hooks.signal, this.aborting.signal]);
    this.http = new ScimHttp(options, hooks.onResponse, cancel, hooks.credentials);
    this.cancel = cancel;
  }

  get endpoint(): string {
    return this.http.endpoint;
  }

  /** Members per PATCH, as configured. */
  get memberBatchSize(): number {
    return this.options.memberBatchSize;
  }

  /** Whether `externalId eq` filters work here; false once the server refused one. */
  get filtersOnExternalId(): boolean {
    return this.externalIdFilters;
  }

  // Users

  /** Creates a user; a `ScimError` 409 when its userName is taken (see the class notes). */
  createUser(user: ScimUserInput): Promise<ScimUser> {
    return this.create<ScimUser>(
      'Users',
      { schemas: [SCHEMA_USER], ...user },
      user,
      `userName ${JSON.stringify(user.userName)}`,
      () => this.findUserByUserName(user.userName),
    );
  }

  getUser(id: string): Promise<ScimUser | undefined> {
    return this.get<ScimUser>('Users', id);
  }

  patchUser(
    id: string,
    operations: readonly ScimPatchOperation[],
    condition: WriteCondition = {},
  ): Promise<void> {
    return this.patch('Users', id, operations, condition);
  }

  /** `false` when the user was already gone. In Kestra this removes the user's tenant access. */
  deleteUser(id: string, condition: WriteCondition = {}): Promise<boolean> {
    return this.delete('Users', id, condition);
  }

  listUsers(filter?: ScimFilter): AsyncGenerator<ScimUser> {
    return this.list<ScimUser>('Users', filter);
  }

  /**
   * The user whose userName equals `userName` regardless of case, as the RFC makes userName
   * unique. The server's `eq` may be case-sensitive (it need not find `Alice` for `alice`):
   * with `exhaustive`, or when the server cannot filter, every user is compared here.
   */
  findUserByUserName(
    userName: string,
    how: { readonly exhaustive?: boolean } = {},
  ): Promise<ScimUser | undefined> {
    const matches = (u: ScimUser): boolean => sameName(u.userName, userName);
    if (how.exhaustive === true) return this.findOne(this.listUsers(), matches);
    return this.findFiltered(
      () => this.listUsers(eq('userName', userName)),
      () => this.listUsers(),
      matches,
    );
  }

  /** Undefined also when the server cannot filter on `externalId`, which RFC 7643 allows. */
  findUserByExternalId(externalId: string): Promise<ScimUser | undefined> {
    return this.findByExternalId(
      () => this.listUsers(eq('externalId', externalId)),
      (u) => u.externalId === externalId,
    );
  }

  // Groups

  /** Creates an empty group; a `ScimError` 409 when its displayName is taken. */
  createGroup(group: ScimGroupInput): Promise<ScimGroup> {
    return this.create<ScimGroup>(
      'Groups',
      { schemas: [SCHEMA_GROUP], ...group },
      group,
      `displayName ${JSON.stringify(group.displayName)}`,
      () => this.findGroupByDisplayName(group.displayName),
    );
  }

  getGroup(id: string, options: { withMembers?: boolean } = {}): Promise<ScimGroup | undefined> {
    return this.get<ScimGroup>('Groups', id, options.withMembers === false ? 'members' : undefined);
  }

  patchGroup(
    id: string,
    operations: readonly ScimPatchOperation[],
    condition: WriteCondition = {},
  ): Promise<void> {
    return this.patch('Groups', id, operations, condition);
  }

  deleteGroup(id: string, condition: WriteCondition = {}): Promise<boolean> {
    return this.delete('Groups', id, condition);
  }

  /** Lists groups; without members by default, which keeps large tenants cheap to page. */
  listGroups(
    filter?: ScimFilter,
    options: { withMembers?: boolean } = {},
  ): AsyncGenerator<ScimGroup> {
    return this.list<ScimGroup>(
      'Groups',
      filter,
      options.withMembers === true ? undefined : 'members',
    );
  }

  /** displayName is unique regardless of case in Kestra; compared here, whatever the server does. */
  findGroupByDisplayName(
    displayName: string,
    how: { readonly exhaustive?: boolean } = {},
  ): Promise<ScimGroup | undefined> {
    const matches = (g: ScimGroup): boolean => sameName(g.displayName, displayName);
    if (how.exhaustive === true) return this.findOne(this.listGroups(), matches);
    return this.findFiltered(
      () => this.listGroups(eq('displayName', displayName)),
      () => this.listGroups(),
      matches,
    );
  }

  findGroupByExternalId(externalId: string): Promise<ScimGroup | undefined> {
    return this.findByExternalId(
      () => this.listGroups(eq('externalId', externalId)),
      (g) => g.externalId === externalId,
    );
  }

  /**
   * One PATCH of a group's members: adds in one `add` operation, removes one filtered `remove`
   * each. RFC 7644 applies them in order and atomically. The caller keeps it within the batch
   * size and never sends two to one group at once (see `GroupMemberWriter`).
   */
  patchMembers(groupId: string, add: readonly string[], remove: readonly string[]): Promise<void> {
    const operations: ScimPatchOperation[] = [];
    if (add.length > 0) {
      operations.push({ op: 'add', path: 'members', value: add.map((value) => ({ value })) });
    }
    for (const id of remove) {
      operations.push({ op: 'remove', path: `members[value eq ${JSON.stringify(id)}]` });
    }
    return this.patchGroup(groupId, operations);
  }

  /** How many users, or groups, the server holds (`totalResults` of a one-item page). */
  async total(kind: 'Users' | 'Groups'): Promise<number> {
    const operation = `GET /${kind} (count)`;
    const body = await this.call({
      method: 'GET',
      path: `/${kind}`,
      query: { startIndex: 1, count: 1, attributes: 'id' },
      operation,
    });
    return asListResponse(body, operation).totalResults;
  }

  // Server

  async serviceProviderConfig(): Promise<ServiceProviderSummary> {
    const body = await this.call({
      method: 'GET',
      path: '/ServiceProviderConfig',
      operation: 'GET /ServiceProviderConfig',
    });
    return summarizeServiceProvider(body);
  }

  /**
   * Whether to send `If-Match`: only when `/ServiceProviderConfig` says ETags are supported
   * (RFC 7644 §3.14). Asked once; a failed ask is asked again next time.
   */
  etagsSupported(): Promise<boolean> {
    this.etags ??= this.serviceProviderConfig().then(
      (config) => config.etag,
      (error: unknown) => {
        this.etags = undefined;
        throw error;
      },
    );
    return this.etags;
  }

  /**
   * Ends every request in flight and every retry wait now, failing them transiently: a stop
   * that ran out of time leaves the work to be delivered or polled again, never half-done.
   */
  abort(): void {
    this.aborting.abort(new Error('the relay is stopping'));
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  // The generic operations behind the typed ones

  private async create<T extends { id: string }>(
    kind: Kind,
    body: object,
    input: object,
    describe: string,
    findExisting: () => Promise<T | undefined>,
  ): Promise<T> {
    const operation = `POST /${kind} (${describe})`;
    let outcomeUnknown = false;
    return withRetry(async () => {
      // The previous attempt may have been applied before its answer was lost.
      if (outcomeUnknown) {
        const existing = await findExisting();
        if (existing !== undefined) {
          throw new ScimError({
            status: 409,
            scimType: 'uniqueness',
            operation,
            detail: `SCIM ${kind === 'Users' ? 'user' : 'group'} ${existing.id} has this name, maybe created by an earlier attempt whose answer was lost`,
          });
        }
      }
      try {
        const created = await this.http.send({ method: 'POST', path: `/${kind}`, body, operation });
        return createdResource(created, input, operation) as T;
      } catch (error) {
        outcomeUnknown = isTransient(error) && !(error instanceof ScimError);
        throw error;
      }
    }, this.retryOptions(operation));
  }

  private async get<T>(
    kind: Kind,
    id: string,
    excludedAttributes?: string,
  ): Promise<T | undefined> {
    const operation = `GET /${kind}/${id}`;
    try {
      const response = await this.send({
        method: 'GET',
        path: `/${kind}/${encodeURIComponent(id)}`,
        query: { excludedAttributes },
        operation,
      });
      return withVersion(asResource(response.body, operation), response.etag) as T;
    } catch (error) {
      if (error instanceof ScimError && error.status === 404) return undefined;
      throw error;
    }
  }

  private async patch(
    kind: Kind,
    id: string,
    operations: readonly ScimPatchOperation[],
    condition: WriteCondition,
  ): Promise<void> {
    if (operations.length === 0) return;
    await this.call({
      method: 'PATCH',
      path: `/${kind}/${encodeURIComponent(id)}`,
      body: { schemas: [SCHEMA_PATCH_OP], Operations: operations },
      ifMatch: condition.ifMatch,
      operation: `PATCH /${kind}/${id}`,
    });
  }

  private async delete(kind: Kind, id: string, condition: WriteCondition): Promise<boolean> {
    try {
      await this.call({
        method: 'DELETE',
        path: `/${kind}/${encodeURIComponent(id)}`,
        ifMatch: condition.ifMatch,
        operation: `DELETE /${kind}/${id}`,
      });
      return true;
    } catch (error) {
      // A retried DELETE whose first try was applied also lands here: gone is what we wanted.
      if (error instanceof ScimError && error.status === 404) return false;
      throw error;
    }
  }

  private async *list<T>(
    kind: Kind,
    filter?: ScimFilter,
    excludedAttributes?: string,
  ): AsyncGenerator<T> {
    let startIndex: number | undefined = 1;
    const operation = `GET /${kind}${filter === undefined ? '' : ` (filter ${filter})`}`;
    while (startIndex !== undefined) {
      const body = await this.call({
        method: 'GET',
        path: `/${kind}`,
        query: { filter, startIndex, count: this.options.pageSize, excludedAttributes },
        operation,
      });
      const page = asListResponse<T>(body, operation);
      for (const resource of page.Resources ?? []) yield resource;
      startIndex = nextStartIndex(startIndex, page);
    }
  }

  /** The first resource that really matches; a server that ignored the filter costs pages. */
  private async findOne<T>(
    results: AsyncGenerator<T>,
    matches: (resource: T) => boolean,
  ): Promise<T | undefined> {
    for await (const resource of results) {
      if (!matches(resource)) continue;
      await results.return(undefined);
      return resource;
    }
    return undefined;
  }

  /** A filtered lookup; when the server refuses the filter (400), every resource is compared. */
  private async findFiltered<T>(
    filtered: () => AsyncGenerator<T>,
    all: () => AsyncGenerator<T>,
    matches: (resource: T) => boolean,
  ): Promise<T | undefined> {
    try {
      return await this.findOne(filtered(), matches);
    } catch (error) {
      if (!(error instanceof ScimError && error.status === 400)) throw error;
      return this.findOne(all(), matches);
    }
  }

  private async findByExternalId<T>(
    filtered: () => AsyncGenerator<T>,
    matches: (resource: T) => boolean,
  ): Promise<T | undefined> {
    if (!this.externalIdFilters) return undefined;
    try {
      return await this.findOne(filtered(), matches);
    } catch (error) {
      if (!(error instanceof ScimError && error.status === 400)) throw error;
      this.externalIdFilters = false;
      this.hooks.logger?.warn(
        { error: describeError(error) },
        'the SCIM server refuses externalId filters; relying on the relay’s id map and names',
      );
      return undefined;
    }
  }

  /** A retried exchange whose body is returned as-is. */
  private async call(req: ScimRequest): Promise<unknown> {
    return (await this.send(req)).body;
  }

  private send(req: ScimRequest): Promise<ScimResponse> {
    return withRetry(() => this.http.send(req), this.retryOptions(req.operation));
  }

  private retryOptions(operation: string): Parameters<typeof withRetry>[1] {
    return {
      policy: this.options.retry,
      signal: this.cancel,
      onRetry: ({ error, attempt, delayMs }) => {
        this.hooks.onRetry?.(operation);
        this.hooks.logger?.warn(
          { operation, attempt, delayMs, error: describeError(error) },
          `SCIM ${operation} failed, retrying in ${delayMs} ms`,
        );
      },
    };
  }
}

function sameName(a: string | undefined, b: string): boolean {
  return typeof a === 'string' && a.toLowerCase() === b.toLowerCase();
}

/**
 * The resource a POST created. RFC 7644 §3.3 says the body SHOULD carry it; `Location` is the
 * one pointer a server must give, so without a body the resource is what was sent, with the id
 * from there.
 */
function createdResource(response: ScimResponse, input: object, operation: string): { id: string } {
  const body = response.body;
  if (isRecord(body) && typeof body['id'] === 'string') {
    return withVersion(body as { id: string }, response.etag);
  }
  const id = response.location === undefined ? undefined : lastPathSegment(response.location);
  if (id === undefined) {
    throw new ScimError({
      status: 502,
      operation,
      detail: 'the response carries neither a resource with an "id" nor a Location',
    });
  }
  return withVersion({ ...input, id }, response.etag);
}

function lastPathSegment(location: string): string | undefined {
  let path: string;
  try {
    path = new URL(location, 'http://relative.invalid').pathname;
  } catch {
    return undefined;
  }
  const segment = path
    .split('/')
    .filter((part) => part !== '')
    .at(-1);
  return segment === undefined ? undefined : decodeURIComponent(segment);
}

/** Keeps the ETag with the resource, from `meta.version` or else the `ETag` header. */
function withVersion<T extends { id: string }>(resource: T, etag: string | undefined): T {
  const meta = (resource as { meta?: { version?: unknown } }).meta;
  if (typeof meta?.version === 'string' || etag === undefined) return resource;
  return { ...resource, meta: { ...(isRecord(meta) ? meta : {}), version: etag } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Checks the one thing every resource must have; the rest is the server's word. */
function asResource(body: unknown, operation: string): { id: string } {
  if (!isRecord(body) || typeof body['id'] !== 'string') {
    throw new ScimError({
      status: 502,
      operation,
      detail: 'the response carries no resource with an "id"',
    });
  }
  return body as { id: string };
}

function asListResponse<T>(body: unknown, operation: string): ScimListResponse<T> {
  if (!isRecord(body) || typeof body['totalResults'] !== 'number') {
    throw new ScimError({
      status: 502,
      operation,
      detail: 'the response is not a SCIM ListResponse',
    });
  }
  return body as unknown as ScimListResponse<T>;
}

function summarizeServiceProvider(body: unknown): ServiceProviderSummary {
  const record = (value: unknown): Record<string, unknown> => (isRecord(value) ? value : {});
  const config = record(body);
  const supported = (name: string): boolean => record(config[name])['supported'] === true;
  const maxResults = record(config['filter'])['maxResults'];
  const schemes = Array.isArray(config['authenticationSchemes'])
    ? config['authenticationSchemes']
    : [];
  return {
    patch: supported('patch'),
    bulk: supported('bulk'),
    filter: supported('filter'),
    filterMaxResults: typeof maxResults === 'number' ? maxResults : undefined,
    changePassword: supported('changePassword'),
    sort: supported('sort'),
    etag: supported('etag'),
    authenticationSchemes: schemes.map((scheme) => {
      const s = record(scheme);
      return typeof s['type'] === 'string'
        ? s['type']
        : typeof s['name'] === 'string'
          ? s['name']
          : 'unknown';
    }),
  };
}
