import type { Logger } from 'pino';
import { ScimError, describeError, isTransient } from '../errors.js';
import type { BackoffPolicy } from '../retry/backoff.js';
import { withRetry } from '../retry/with-retry.js';
import { eq, type ScimFilter } from './filter.js';
import { nextStartIndex } from './paging.js';
import {
  ScimHttp,
  type ResponseObserver,
  type ScimHttpOptions,
  type ScimRequest,
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
  readonly signal?: AbortSignal;
}

/** A create's outcome: `adopted` when the resource already existed and is now ours to manage. */
export interface Created<T> {
  readonly resource: T;
  readonly adopted: boolean;
}

type Kind = 'Users' | 'Groups';

/**
 * The relay's SCIM client: CRUD, filtered listing across pages, member deltas, and
 * `/ServiceProviderConfig`, with retries on transient failures.
 *
 * Creates are never blindly repeated. A POST whose outcome is unknown (a timeout, a reset
 * connection) may have been applied, so before each retry, and on a 409, the client looks the
 * resource up by its unique name and adopts what it finds instead of creating a duplicate.
 */
export class ScimClient {
  private readonly http: ScimHttp;

  constructor(
    private readonly options: ScimClientOptions,
    private readonly hooks: ScimClientHooks = {},
  ) {
    this.http = new ScimHttp(options, hooks.onResponse);
  }

  get endpoint(): string {
    return this.http.endpoint;
  }

  // Users

  createUser(user: ScimUserInput): Promise<Created<ScimUser>> {
    return this.create<ScimUser>(
      'Users',
      { schemas: [SCHEMA_USER], ...user },
      {
        describe: `userName ${JSON.stringify(user.userName)}`,
        findExisting: () => this.findUserByUserName(user.userName),
      },
    );
  }

  getUser(id: string): Promise<ScimUser | undefined> {
    return this.get<ScimUser>('Users', id);
  }

  replaceUser(id: string, user: ScimUserInput): Promise<ScimUser> {
    return this.replace<ScimUser>('Users', id, { schemas: [SCHEMA_USER], ...user });
  }

  patchUser(id: string, operations: readonly ScimPatchOperation[]): Promise<void> {
    return this.patch('Users', id, operations);
  }

  /** `false` when the user was already gone. In Kestra this removes the user's tenant access. */
  deleteUser(id: string): Promise<boolean> {
    return this.delete('Users', id);
  }

  listUsers(filter?: ScimFilter): AsyncGenerator<ScimUser> {
    return this.list<ScimUser>('Users', filter);
  }

  /** `userName` is case-insensitive in SCIM; the server's filter handles that. */
  findUserByUserName(userName: string): Promise<ScimUser | undefined> {
    return this.findOne(this.listUsers(eq('userName', userName)));
  }

  findUserByExternalId(externalId: string): Promise<ScimUser | undefined> {
    return this.findOne(this.listUsers(eq('externalId', externalId)));
  }

  // Groups

  /** Groups are created empty; members follow as PATCH deltas. */
  createGroup(group: ScimGroupInput): Promise<Created<ScimGroup>> {
    return this.create<ScimGroup>(
      'Groups',
      { schemas: [SCHEMA_GROUP], ...group },
      {
        describe: `displayName ${JSON.stringify(group.displayName)}`,
        findExisting: () => this.findGroupByDisplayName(group.displayName),
      },
    );
  }

  getGroup(id: string, options: { withMembers?: boolean } = {}): Promise<ScimGroup | undefined> {
    return this.get<ScimGroup>('Groups', id, options.withMembers === false ? 'members' : undefined);
  }

  replaceGroup(id: string, group: ScimGroupInput): Promise<ScimGroup> {
    return this.replace<ScimGroup>('Groups', id, { schemas: [SCHEMA_GROUP], ...group });
  }

  patchGroup(id: string, operations: readonly ScimPatchOperation[]): Promise<void> {
    return this.patch('Groups', id, operations);
  }

  deleteGroup(id: string): Promise<boolean> {
    return this.delete('Groups', id);
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

  findGroupByDisplayName(displayName: string): Promise<ScimGroup | undefined> {
    return this.findOne(this.listGroups(eq('displayName', displayName)));
  }

  findGroupByExternalId(externalId: string): Promise<ScimGroup | undefined> {
    return this.findOne(this.listGroups(eq('externalId', externalId)));
  }

  /** Adds members in batches of `memberBatchSize`, one PATCH per batch. */
  async addMembers(groupId: string, userIds: readonly string[]): Promise<void> {
    for (const batch of chunks(userIds, this.options.memberBatchSize)) {
      await this.patchGroup(groupId, [
        { op: 'add', path: 'members', value: batch.map((value) => ({ value })) },
      ]);
    }
  }

  /** Removes members, one filtered `remove` operation per member, batched per PATCH. */
  async removeMembers(groupId: string, userIds: readonly string[]): Promise<void> {
    for (const batch of chunks(userIds, this.options.memberBatchSize)) {
      await this.patchGroup(
        groupId,
        batch.map((id) => ({ op: 'remove', path: `members[value eq ${JSON.stringify(id)}]` })),
      );
    }
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

  async close(): Promise<void> {
    await this.http.close();
  }

  // The generic operations behind the typed ones

  private async create<T extends { id: string }>(
    kind: Kind,
    body: object,
    how: { describe: string; findExisting: () => Promise<T | undefined> },
  ): Promise<Created<T>> {
    const operation = `POST /${kind} (${how.describe})`;
    let outcomeUnknown = false;
    try {
      const resource = await withRetry(async () => {
        // The previous attempt may have been applied before its answer was lost.
        if (outcomeUnknown) {
          const existing = await how.findExisting();
          if (existing !== undefined) return { resource: existing, adopted: true };
        }
        try {
          const created = await this.http.send({
            method: 'POST',
            path: `/${kind}`,
            body,
            operation,
          });
          return { resource: asResource(created.body, operation) as T, adopted: false };
        } catch (error) {
          outcomeUnknown = isTransient(error) && !(error instanceof ScimError);
          throw error;
        }
      }, this.retryOptions(operation));
      return resource;
    } catch (error) {
      if (error instanceof ScimError && error.status === 409) {
        const existing = await how.findExisting();
        if (existing !== undefined) {
          this.hooks.logger?.info(
            { kind, id: existing.id },
            `adopted existing SCIM resource (${how.describe})`,
          );
          return { resource: existing, adopted: true };
        }
      }
      throw error;
    }
  }

  private async get<T>(
    kind: Kind,
    id: string,
    excludedAttributes?: string,
  ): Promise<T | undefined> {
    try {
      const body = await this.call({
        method: 'GET',
        path: `/${kind}/${encodeURIComponent(id)}`,
        query: { excludedAttributes },
        operation: `GET /${kind}/${id}`,
      });
      return asResource(body, `GET /${kind}/${id}`) as T;
    } catch (error) {
      if (error instanceof ScimError && error.status === 404) return undefined;
      throw error;
    }
  }

  private async replace<T extends { id: string }>(
    kind: Kind,
    id: string,
    body: object,
  ): Promise<T> {
    const operation = `PUT /${kind}/${id}`;
    const result = await this.call({
      method: 'PUT',
      path: `/${kind}/${encodeURIComponent(id)}`,
      body,
      operation,
    });
    return asResource(result, operation) as T;
  }

  private async patch(
    kind: Kind,
    id: string,
    operations: readonly ScimPatchOperation[],
  ): Promise<void> {
    if (operations.length === 0) return;
    await this.call({
      method: 'PATCH',
      path: `/${kind}/${encodeURIComponent(id)}`,
      body: { schemas: [SCHEMA_PATCH_OP], Operations: operations },
      operation: `PATCH /${kind}/${id}`,
    });
  }

  private async delete(kind: Kind, id: string): Promise<boolean> {
    try {
      await this.call({
        method: 'DELETE',
        path: `/${kind}/${encodeURIComponent(id)}`,
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

  private async findOne<T>(results: AsyncGenerator<T>): Promise<T | undefined> {
    for await (const resource of results) {
      await results.return(undefined);
      return resource;
    }
    return undefined;
  }

  /** A retried exchange whose body is returned as-is. */
  private call(req: ScimRequest): Promise<unknown> {
    return withRetry(
      async () => (await this.http.send(req)).body,
      this.retryOptions(req.operation),
    );
  }

  private retryOptions(operation: string): Parameters<typeof withRetry>[1] {
    return {
      policy: this.options.retry,
      ...(this.hooks.signal === undefined ? {} : { signal: this.hooks.signal }),
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

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** Checks the one thing every resource must have; the rest is the server's word. */
function asResource(body: unknown, operation: string): { id: string } {
  if (
    typeof body !== 'object' ||
    body === null ||
    typeof (body as { id?: unknown }).id !== 'string'
  ) {
    throw new ScimError({
      status: 502,
      operation,
      detail: 'the response carries no resource with an "id"',
    });
  }
  return body as { id: string };
}

function asListResponse<T>(body: unknown, operation: string): ScimListResponse<T> {
  if (
    typeof body !== 'object' ||
    body === null ||
    typeof (body as { totalResults?: unknown }).totalResults !== 'number'
  ) {
    throw new ScimError({
      status: 502,
      operation,
      detail: 'the response is not a SCIM ListResponse',
    });
  }
  return body as ScimListResponse<T>;
}

function summarizeServiceProvider(body: unknown): ServiceProviderSummary {
  const record = (value: unknown): Record<string, unknown> =>
    typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
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
