import KeycloakAdminClient, { NetworkError, fetchWithError } from '@keycloak/keycloak-admin-client';
import type { Agent } from 'undici';
import { ConfigError, CredentialsRefusedError, PermanentError } from '../errors.js';
import { fixedSecret } from '../security/secret-file.js';
import { adminEventSearchParams, userEventSearchParams } from './event-queries.js';
import type { AdminEventQuery, UserEventQuery } from './event-queries.js';
import { readClientRoles } from './jwt-claims.js';
import { readJwtExpiry } from './jwt-expiry.js';
import {
  DEFAULT_KEYCLOAK_PAGE_SIZE,
  DEFAULT_KEYCLOAK_REQUEST_TIMEOUT_MS,
  type KeycloakAccessOptions,
} from './keycloak-access-options.js';
import { toKeycloakError, type KeycloakCallContext } from './keycloak-errors.js';
import { keycloakGroupRecordSchema, type KeycloakGroup } from './keycloak-group.js';
import { keycloakMemberSchema, keycloakUserSchema, type KeycloakUser } from './keycloak-user.js';
import { pagedEvents } from './event-paging.js';
import { paged } from './paging.js';
import type { BackoffPolicy } from '../retry/backoff.js';
import { withRetry } from '../retry/with-retry.js';
import { parseKeycloakRecord } from './parse-keycloak-record.js';
import { createTrustingDispatcher } from './tls-dispatcher.js';
import { createTokenSource } from './token-source.js';

/**
 * Read-only access to one Keycloak realm, as the relay's service account. Every listing is an
 * async generator that asks for one page at a time; nothing ever asks for everything at once.
 * Failures are `CredentialsRefusedError` (the client id or secret refused), `PermanentError` (a
 * missing role, other 4xx) or `TransientError` (network, timeouts, 408/429/5xx).
 */
export interface KeycloakReader {
  /**
   * Every user (full representation), sorted as Keycloak sorts them (by username), from the
   * `from`th on (default: the first).
   */
  users(from?: number): AsyncGenerator<KeycloakUser, void, undefined>;
  /** One user, or undefined when no user has this id. */
  user(id: string): Promise<KeycloakUser | undefined>;
  /** Every group of the tree, each parent before its children (depth-first). */
  groups(): AsyncGenerator<KeycloakGroup, void, undefined>;
  /** One group, or undefined when no group has this id. */
  group(id: string): Promise<KeycloakGroup | undefined>;
  /**
   * Every group below `groupId` (not the group itself), each parent before its children; nothing
   * when the group does not exist (any more).
   */
  descendants(groupId: string): AsyncGenerator<KeycloakGroup, void, undefined>;
  /** The ids of a group's direct members; nothing when the group no longer exists. */
  groupMemberIds(groupId: string): AsyncGenerator<string, void, undefined>;
  /** The groups a user is a direct member of; nothing when the user does not exist. */
  userGroups(userId: string): AsyncGenerator<KeycloakGroup, void, undefined>;
  /**
   * Stored admin events matching `query`, page by page, in the server's order (newest first
   * unless `direction` is given on 26.2+). Same-millisecond events split by a page boundary are
   * repaired (see `pagedEvents`); events added while reading shift a newest-first listing, so
   * callers dedupe across passes.
   *
   * Each event comes as Keycloak returned it, unvalidated: the relay has one event schema
   * (`domain/keycloak-event.ts`), applied where events are used, which reports and skips a
   * malformed event. Rejecting it here would fail the listing, and stall a poll at that event.
   */
  adminEvents(query?: AdminEventQuery): AsyncGenerator<unknown, void, undefined>;
  /** Stored user events matching `query`, as they come; see {@link adminEvents}. */
  userEvents(query?: UserEventQuery): AsyncGenerator<unknown, void, undefined>;
  /** Logs in and reads one user and one admin event: proves credentials and both roles. */
  checkAccess(): Promise<void>;
  /**
   * The realm-management roles the service account's access token grants (composites expanded:
   * `view-users` brings `query-users` and `query-groups`). Logs in if needed, so it is also the
   * way to prove the credentials; `check` compares the result with the roles the relay needs.
   */
  grantedRoles(): Promise<string[]>;
  /** The realm's event settings (readable with view-events): what is stored, and how long. */
  eventsConfig(): Promise<RealmEventsConfig>;
  /** Releases the HTTP connections of a custom CA dispatcher. */
  close(): Promise<void>;
}

/** The client whose roles grant access to a realm's admin API. */
const REALM_MANAGEMENT = 'realm-management';
const VIEW_USERS = 'view-users';
const VIEW_EVENTS = 'view-events';

/**
 * Pages of the user listing asked for while one is read. Keycloak spends about half a
 * millisecond of CPU per user listed, so a 100,000-user listing read one page at a time keeps
 * one of its cores busy for nearly a minute while the others wait; a full reconcile reads
 * nothing else for that long. A reader that stops early (the sweep's window, `check`) leaves
 * at most that many pages unread.
 */
const USER_PAGES_AHEAD = 2;

/** How a page of a full listing is tried again: for a few seconds, then the listing fails. */
const LISTING_PAGE_RETRY: BackoffPolicy = {
  maxAttempts: 4,
  minDelayMs: 250,
  maxDelayMs: 2_000,
  maxElapsedMs: 15_000,
};

/** Builds a reader for the realm in `options`. Logs in lazily, on the first request. */
export async function createKeycloakReader(
  options: KeycloakAccessOptions,
): Promise<KeycloakReader> {
  const pageSize = options.pageSize ?? DEFAULT_KEYCLOAK_PAGE_SIZE;
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_KEYCLOAK_REQUEST_TIMEOUT_MS;
  const problems: string[] = [];
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    problems.push(`pageSize must be a positive integer, got ${pageSize}`);
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    problems.push(`requestTimeoutMs must be a positive integer, got ${timeoutMs}`);
  }
  let baseUrl: URL;
  try {
    baseUrl = new URL(options.url);
  } catch {
    problems.push(`url "${options.url}" is not a URL`);
    baseUrl = new URL('http://invalid');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const dispatcher: Agent | undefined =
    options.caFile === undefined ? undefined : await createTrustingDispatcher(options.caFile);
  const url = baseUrl.href.replace(/\/+$/, '');
  const { realm, clientId, credentials } = options;
  const secret = options.clientSecretSource ?? fixedSecret(options.clientSecret);
  // undici 7's Agent and the undici-types bundled with Node's fetch declare the same dispatcher
  // contract in two copies that TypeScript cannot unify; Node's fetch accepts the object at run
  // time (the e2e TLS test proves it), so the cast only bridges the two declarations.
  const requestOptions: RequestInit =
    dispatcher === undefined ? {} : ({ dispatcher } as unknown as RequestInit);
  const client = new KeycloakAdminClient({
    baseUrl: url,
    realmName: realm,
    requestOptions,
    timeout: timeoutMs,
  });

  const context = (action: string, requiredRole?: string): KeycloakCallContext => ({
    url,
    realm,
    clientId,
    action,
    requiredRole,
  });

  const tokens = createTokenSource(async () => {
    // Before every login: a secret rotated in its file is picked up here, without a restart.
    secret.refresh();
    try {
      await client.auth({
        grantType: 'client_credentials',
        clientId,
        clientSecret: secret.current(),
      });
    } catch (error) {
      const mapped = toKeycloakError(error, context('token request (client credentials)'));
      if (mapped instanceof CredentialsRefusedError && secret.problem !== undefined) {
        // The file could not be read: that, rather than the secret, may be what to fix.
        throw new CredentialsRefusedError(`${mapped.message}; ${secret.problem}`, {
          cause: mapped.cause,
        });
      }
      throw mapped;
    }
    const value = client.accessToken;
    if (value === undefined || value === '') {
      throw new PermanentError(
        `Keycloak token endpoint of realm "${realm}" returned no access token`,
      );
    }
    return { value, expiresAtMs: readJwtExpiry(value) };
  });
  client.registerTokenProvider({ getAccessToken: () => tokens.getToken() });

  /**
   * Runs one request with error mapping. A 401 means the token died early (revoked, keys
   * rotated, server restarted): renew once, then let a second 401 count as refused credentials.
   */
  async function call<T>(
    action: string,
    requiredRole: string,
    request: () => Promise<T>,
  ): Promise<T> {
    try {
      const result = await attempt(action, requiredRole, request);
      credentials?.accepted();
      return result;
    } catch (error) {
      if (error instanceof CredentialsRefusedError) credentials?.refused(error);
      throw error;
    }
  }

  /**
   * One page of a listing a full reconcile reads to the end, tried again after a transient
   * failure (a 5xx, a timeout, a reset): such a listing is thousands of pages, and one failed
   * page would throw all of it away. Keycloak 25.0.6 answers 500 now and then to concurrent
   * reads just after it starts (a race in its realm cache), for one.
   */
  function listingPage<T>(
    action: string,
    requiredRole: string,
    request: () => Promise<T>,
  ): Promise<T> {
    return withRetry(() => call(action, requiredRole, request), { policy: LISTING_PAGE_RETRY });
  }

  async function attempt<T>(
    action: string,
    requiredRole: string,
    request: () => Promise<T>,
  ): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (error instanceof NetworkError && error.response.status === 401) {
        tokens.invalidate();
        try {
          return await request();
        } catch (retryError) {
          throw toKeycloakError(retryError, context(action, requiredRole));
        }
      }
      throw toKeycloakError(error, context(action, requiredRole));
    }
  }

  async function getJsonArray(
    path: string,
    params: URLSearchParams,
    action: string,
    requiredRole: string,
  ): Promise<unknown[]> {
    const target = new URL(`${url}/admin/realms/${encodeURIComponent(realm)}/${path}`);
    target.search = params.toString();
    const body: unknown = await call(action, requiredRole, async () => {
      const response = await fetchWithError(target, {
        ...requestOptions,
        headers: { authorization: `Bearer ${await tokens.getToken()}`, accept: 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      return response.json();
    });
    if (!Array.isArray(body)) {
      throw new PermanentError(
        `Keycloak ${action} in realm "${realm}" did not return a JSON array`,
      );
    }
    return body as unknown[];
  }

  const toUser = (value: unknown): KeycloakUser =>
    parseKeycloakRecord(keycloakUserSchema, value, 'user');

  const toGroupRecord = (value: unknown) =>
    parseKeycloakRecord(keycloakGroupRecordSchema, value, 'group');

  const toGroup = (
    record: { id: string; name: string; path: string; parentId?: string | undefined },
    knownParentId: string | undefined,
  ): KeycloakGroup => ({
    id: record.id,
    name: record.name,
    path: record.path,
    parentId: knownParentId ?? record.parentId,
  });

  async function* walkChildren(parentId: string): AsyncGenerator<KeycloakGroup, void, undefined> {
    const children = paged(async (first, max) => {
      const page: unknown = await listingPage(
        `list subgroups of group ${parentId} (first=${first}, max=${max})`,
        VIEW_USERS,
        () => client.groups.listSubGroups({ parentId, first, max, briefRepresentation: true }),
      );
      // null: the parent vanished during the walk (catchNotFound); its subtree is gone too.
      return listOrEmpty(page);
    }, pageSize);
    for await (const value of children) {
      const record = toGroupRecord(value);
      yield toGroup(record, parentId);
      if (record.subGroupCount !== 0) yield* walkChildren(record.id);
    }
  }

  return {
    async *users(from = 0) {
      yield* paged(
        async (first, max) => {
          // In brief: the fields provisioning reads, without the attributes, which Keycloak
          // reads from the database one user at a time (some 4 times the cost of the page).
          const page = await listingPage(
            `list users (first=${first}, max=${max})`,
            VIEW_USERS,
            () => client.users.find({ first, max, briefRepresentation: true }),
          );
          return page.map(toUser);
        },
        pageSize,
        from,
        USER_PAGES_AHEAD,
      );
    },

    async user(id) {
      const found: unknown = await call(`read user ${id}`, VIEW_USERS, () =>
        client.users.findOne({ id }),
      );
      return found === undefined || found === null ? undefined : toUser(found);
    },

    async *groups() {
      const topLevel = paged(async (first, max) => {
        return listingPage(`list top-level groups (first=${first}, max=${max})`, VIEW_USERS, () =>
          client.groups.find({ first, max, briefRepresentation: true }),
        );
      }, pageSize);
      for await (const value of topLevel) {
        const record = toGroupRecord(value);
        yield toGroup(record, undefined);
        if (record.subGroupCount !== 0) yield* walkChildren(record.id);
      }
    },

    async group(id) {
      const found: unknown = await call(`read group ${id}`, VIEW_USERS, () =>
        client.groups.findOne({ id }),
      );
      if (found === undefined || found === null) return undefined;
      // Keycloak 25 and 26 both give `parentId` on a single group (and omit it at the top).
      return toGroup(toGroupRecord(found), undefined);
    },

    async *descendants(groupId) {
      yield* walkChildren(groupId);
    },

    async *groupMemberIds(groupId) {
      yield* paged(async (first, max) => {
        // Brief: Keycloak then loads no attributes per member, and the relay parses less; a
        // listing of members is read for who they are, never for their fields.
        const page: unknown = await listingPage(
          `list members of group ${groupId} (first=${first}, max=${max})`,
          VIEW_USERS,
          () => client.groups.listMembers({ id: groupId, first, max, briefRepresentation: true }),
        );
        return listOrEmpty(page).map(
          (value) => parseKeycloakRecord(keycloakMemberSchema, value, 'group member').id,
        );
      }, pageSize);
    },

    async *userGroups(userId) {
      yield* paged(async (first, max) => {
        const page: unknown = await call(
          `list groups of user ${userId} (first=${first}, max=${max})`,
          VIEW_USERS,
          () =>
            client.users.listGroups(
              { id: userId, first, max, briefRepresentation: true },
              { catchNotFound: true },
            ),
        );
        return listOrEmpty(page).map((value) => {
          const record = toGroupRecord(value);
          return toGroup(record, undefined);
        });
      }, pageSize);
    },

    async *adminEvents(query = {}) {
      yield* pagedEvents(async (first, max) => {
        const params = adminEventSearchParams(query);
        params.set('first', String(first));
        params.set('max', String(max));
        return getJsonArray(
          'admin-events',
          params,
          `list admin events (first=${first}, max=${max})`,
          VIEW_EVENTS,
        );
      }, pageSize);
    },

    async *userEvents(query = {}) {
      yield* pagedEvents(async (first, max) => {
        const params = userEventSearchParams(query);
        params.set('first', String(first));
        params.set('max', String(max));
        return getJsonArray(
          'events',
          params,
          `list user events (first=${first}, max=${max})`,
          VIEW_EVENTS,
        );
      }, pageSize);
    },

    async checkAccess() {
      await call('list users (max=1)', VIEW_USERS, () => client.users.find({ first: 0, max: 1 }));
      const params = new URLSearchParams({ first: '0', max: '1' });
      await getJsonArray('admin-events', params, 'list admin events (max=1)', VIEW_EVENTS);
    },

    async grantedRoles() {
      return readClientRoles(await tokens.getToken(), REALM_MANAGEMENT);
    },

    async eventsConfig() {
      const found: unknown = await call('read the realm event settings', VIEW_EVENTS, () =>
        client.realms.getConfigEvents({ realm }),
      );
      const record = typeof found === 'object' && found !== null ? found : {};
      const seconds: unknown = Reflect.get(record, 'eventsExpiration');
      const adminSeconds: unknown = Reflect.get(record, 'adminEventsExpiration');
      const strings = (field: string): string[] => {
        const value: unknown = Reflect.get(record, field);
        return Array.isArray(value)
          ? value.filter((item): item is string => typeof item === 'string')
          : [];
      };
      return {
        eventsEnabled: Reflect.get(record, 'eventsEnabled') === true,
        enabledEventTypes: strings('enabledEventTypes'),
        eventsListeners: strings('eventsListeners'),
        adminEventsEnabled: Reflect.get(record, 'adminEventsEnabled') === true,
        adminEventsDetailsEnabled: Reflect.get(record, 'adminEventsDetailsEnabled') === true,
        eventsExpirationMs: typeof seconds === 'number' && seconds > 0 ? seconds * 1000 : undefined,
        adminEventsExpirationMs:
          typeof adminSeconds === 'number' && adminSeconds > 0 ? adminSeconds * 1000 : undefined,
      };
    },

    async close() {
      await dispatcher?.close();
    },
  };
}

/** What the relay needs to know of a realm's event settings. */
export interface RealmEventsConfig {
  eventsEnabled: boolean;
  /** The user event types stored; empty means every type. */
  enabledEventTypes: string[];
  /** The event listeners of the realm, e.g. `keycloak-to-rabbitmq`. */
  eventsListeners: string[];
  adminEventsEnabled: boolean;
  adminEventsDetailsEnabled: boolean;
  /** How long user events are kept; `undefined` when they never expire. */
  eventsExpirationMs: number | undefined;
  /** How long admin events are kept, where the server says (not every version does). */
  adminEventsExpirationMs: number | undefined;
}

/** A listing the admin client answered with `null` (a 404 it was told to catch) is empty. */
function listOrEmpty(page: unknown): readonly unknown[] {
  return Array.isArray(page) ? (page as unknown[]) : [];
}
