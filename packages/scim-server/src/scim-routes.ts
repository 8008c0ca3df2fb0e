import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { ScimError } from './errors.js';
import { spellAttributes } from './attribute-case.js';
import { parseProjection, projectResource, wantsAttribute } from './attribute-projection.js';
import { listOf, resourceTypes, schemas, serviceProviderConfig } from './discovery.js';
import { etagMatches, preconditionFailed, weakEtag } from './etag.js';
import { extraAttributesOf } from './extra-attributes.js';
import { parseFilter } from './filter.js';
import { parsePageRequest, type PageRequest } from './paging.js';
import { parsePatchRequest } from './patch.js';
import type { ServerProfile } from './profile.js';
import {
  GROUP_SCHEMA,
  NO_EXTRA_ATTRIBUTES,
  USER_SCHEMA,
  renderGroup,
  renderUser,
  type ExtraAttributes,
  type UserAttributes,
} from './records.js';
import {
  attributeOf,
  parseGroupBody,
  parseUserBody,
  requireBodyObject,
  requireSchema,
  type JsonObject,
} from './resource-input.js';
import {
  LIST_RESPONSE_SCHEMA,
  SEARCH_REQUEST_SCHEMA,
  errorResult,
  scimError,
  type ScimResult,
} from './scim-response.js';
import type { ScimStore } from './store.js';
import {
  patchGroupUnlocked,
  patchUserUnlocked,
  readWriteWindow,
  type UnlockedPatch,
} from './unlocked-patch.js';

/** What the SCIM routes need from the server that mounts them. */
export interface ScimRoutesContext {
  readonly store: ScimStore;
  readonly profile: ServerProfile;
  /** e.g. `/api/v1/main/integrations/demo/scim/v2` */
  readonly basePath: string;
  readonly tenant: string;
  readonly integrationId: string;
  readonly maxPageSize: number;
  /** The Bearer token accepted now: the test API can change it, as Kestra regenerates one. */
  readonly token: () => string;
  /** Writes a result; the server may swap it for an injected fault. */
  readonly send: (res: Response, result: ScimResult) => void;
}

/** The list parameters, from a query string or a `.search` body. */
interface ListQuery {
  readonly filter: unknown;
  readonly startIndex: unknown;
  readonly count: unknown;
  readonly attributes: unknown;
  readonly excludedAttributes: unknown;
}

/** The `:id` of a resource route. */
function idOf(req: Request): string {
  const id = req.params['id'];
  if (typeof id !== 'string') throw scimError(404, 'the request names no resource id');
  return id;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function queryOf(req: Request): ListQuery {
  const params = new URL(req.originalUrl, 'http://localhost').searchParams;
  const get = (name: string): string | undefined => params.get(name) ?? undefined;
  return {
    filter: get('filter'),
    startIndex: get('startIndex'),
    count: get('count'),
    attributes: get('attributes'),
    excludedAttributes: get('excludedAttributes'),
  };
}

function searchQueryOf(req: Request): ListQuery {
  const body: unknown = req.body;
  const object: JsonObject = requireBodyObject(body);
  requireSchema(object, SEARCH_REQUEST_SCHEMA);
  const get = (name: string): unknown => attributeOf(object, name, SEARCH_REQUEST_SCHEMA);
  return {
    filter: get('filter'),
    startIndex: get('startIndex'),
    count: get('count'),
    attributes: get('attributes'),
    excludedAttributes: get('excludedAttributes'),
  };
}

function filterText(value: unknown): string | undefined {
  if (value === undefined || (typeof value === 'string' && value.trim() === '')) return undefined;
  if (typeof value !== 'string') throw scimError(400, 'filter must be a string', 'invalidFilter');
  return value;
}

/**
 * The SCIM endpoints below the base path. Handlers return a `ScimResult`; a `ScimError`
 * thrown anywhere becomes its RFC 7644 error response. Handlers are synchronous, so each runs
 * to its end before another request is served; only the generic profile's PATCH is not.
 *
 * `ctx.profile` decides what differs between Kestra and a plain RFC 7644 server: the filters
 * accepted, the extra user attributes kept, ETags, what POST and PATCH answer, how attribute
 * names are spelled and how PATCH is applied.
 */
export function scimRoutes(ctx: ScimRoutesContext): Router {
  const { store, profile } = ctx;
  // JAX-RS (SCIMple) matches paths case-sensitively; so does this server.
  const router = express.Router({ caseSensitive: true });
  const waitBeforeWrite = readWriteWindow(profile.patchDelayMs);

  const handle =
    (handler: (req: Request) => ScimResult) =>
    (req: Request, res: Response): void => {
      let result: ScimResult;
      try {
        result = handler(req);
      } catch (error) {
        if (!(error instanceof ScimError)) throw error;
        result = errorResult(error);
      }
      ctx.send(res, result);
    };
  /** For the unlocked PATCH, which waits between its read and its write. */
  const handleAsync =
    (handler: (req: Request) => Promise<ScimResult>) =>
    async (req: Request, res: Response): Promise<void> => {
      let result: ScimResult;
      try {
        result = await handler(req);
      } catch (error) {
        if (!(error instanceof ScimError)) throw error;
        result = errorResult(error);
      }
      ctx.send(res, result);
    };

  const present = (body: unknown): unknown => spellAttributes(body, profile.attributeCase);

  const listResponse = (
    page: PageRequest,
    totalResults: number,
    resources: unknown[],
  ): ScimResult => ({
    status: 200,
    body: present({
      schemas: [LIST_RESPONSE_SCHEMA],
      totalResults,
      itemsPerPage: resources.length,
      startIndex: page.startIndex,
      Resources: resources,
    }),
  });

  // ETags (generic profile only; without them, If-Match and If-None-Match are ignored).
  const etagOf = (version: number): string | undefined =>
    profile.etags ? weakEtag(version) : undefined;
  /** Throws 412 unless `If-Match` is absent, `*`, or names `version`. */
  const precondition = (req: Request, what: string, version: number): void => {
    if (!profile.etags) return;
    const ifMatch = req.get('if-match');
    if (ifMatch !== undefined && !etagMatches(ifMatch, version)) {
      throw preconditionFailed(what, ifMatch, version);
    }
  };
  const unlockedPatch = (req: Request, what: string): UnlockedPatch => ({
    wait: waitBeforeWrite,
    precondition: (version) => {
      precondition(req, what, version);
    },
  });

  /**
   * The answer that carries one resource: `Location` on a create, `ETag` where versions are
   * served, a 304 to a GET whose `If-None-Match` names the current version, and no body to a
   * create when the profile answers with `Location` only.
   */
  const resourceAnswer = (
    req: Request,
    status: number,
    location: string,
    version: number,
    body: unknown,
  ): ScimResult => {
    const etag = etagOf(version);
    const headers = {
      ...(status === 201 ? { Location: location } : {}),
      ...(etag === undefined ? {} : { ETag: etag }),
    };
    const ifNoneMatch = req.method === 'GET' ? req.get('if-none-match') : undefined;
    if (etag !== undefined && ifNoneMatch !== undefined && etagMatches(ifNoneMatch, version)) {
      return { status: 304, headers };
    }
    const withBody = status !== 201 || profile.createAnswersResource;
    return {
      status,
      ...(withBody ? { body: present(body) } : {}),
      ...(Object.keys(headers).length === 0 ? {} : { headers }),
    };
  };

  const baseUrlOf = (req: Request): string =>
    `${req.protocol}://${req.get('host') ?? 'localhost'}${ctx.basePath}`;

  const authorize = (req: Request): ScimResult | undefined => {
    const header = req.get('authorization');
    const token = header === undefined ? undefined : /^Bearer +(\S+) *$/i.exec(header)?.[1];
    if (token === undefined || !timingSafeEqual(digest(token), digest(ctx.token()))) {
      const detail =
        header === undefined
          ? 'the Authorization header is missing: send "Authorization: Bearer <token>"'
          : 'the bearer token is not valid for this SCIM integration';
      const challenge =
        header === undefined ? 'Bearer realm="SCIM"' : 'Bearer realm="SCIM", error="invalid_token"';
      return errorResult(scimError(401, detail), { 'WWW-Authenticate': challenge });
    }
    if (!store.enabled) {
      return errorResult(
        scimError(
          403,
          `the SCIM integration "${ctx.integrationId}" of tenant "${ctx.tenant}" is disabled`,
        ),
      );
    }
    return undefined;
  };
  router.use((req, res, next) => {
    const refusal = authorize(req);
    if (refusal === undefined) next();
    else ctx.send(res, refusal);
  });

  // Discovery (RFC 7644 §4).
  router.get(
    '/ServiceProviderConfig',
    handle((req) => ({
      status: 200,
      body: serviceProviderConfig(baseUrlOf(req), ctx.maxPageSize, profile.etags),
    })),
  );
  router.get(
    '/ResourceTypes',
    handle((req) => ({ status: 200, body: listOf(resourceTypes(baseUrlOf(req))) })),
  );
  router.get(
    '/ResourceTypes/:id',
    handle((req) => {
      const found = resourceTypes(baseUrlOf(req)).find((r) => r['id'] === idOf(req));
      if (found === undefined) throw scimError(404, `ResourceType "${idOf(req)}" not found`);
      return { status: 200, body: found };
    }),
  );
  router.get(
    '/Schemas',
    handle((req) => ({ status: 200, body: listOf(schemas(baseUrlOf(req))) })),
  );
  router.get(
    '/Schemas/:id',
    handle((req) => {
      const found = schemas(baseUrlOf(req)).find((s) => s['id'] === idOf(req));
      if (found === undefined) throw scimError(404, `Schema "${idOf(req)}" not found`);
      return { status: 200, body: found };
    }),
  );
  router.all(
    '/Bulk',
    handle(() => errorResult(scimError(501, 'bulk operations are not supported'))),
  );
  router.all(
    '/Me',
    handle(() => errorResult(scimError(501, '/Me is not supported'))),
  );

  // Users.
  const userLocation = (req: Request, id: string): string => `${baseUrlOf(req)}/Users/${id}`;

  const listUsers = (req: Request, query: ListQuery): ScimResult => {
    const text = filterText(query.filter);
    const filter =
      text === undefined ? [] : parseFilter(text, profile.userFilterAttributes, USER_SCHEMA);
    const page = parsePageRequest(query.startIndex, query.count, ctx.maxPageSize);
    const projection = parseProjection(query.attributes, query.excludedAttributes, USER_SCHEMA);
    const found = store.listUsers(filter, page.startIndex, page.count);
    return listResponse(
      page,
      found.totalResults,
      found.resources.map((u) =>
        projectResource(renderUser(u, userLocation(req, u.id), etagOf(u.version)), projection),
      ),
    );
  };
  const userResult = (req: Request, status: number, id: string): ScimResult => {
    const user = store.getUser(id);
    const query = queryOf(req);
    const projection = parseProjection(query.attributes, query.excludedAttributes, USER_SCHEMA);
    const location = userLocation(req, user.id);
    const body = projectResource(renderUser(user, location, etagOf(user.version)), projection);
    return resourceAnswer(req, status, location, user.version, body);
  };
  /** A user POST or PUT body; its extra attributes are kept only where the profile says so. */
  const userBody = (body: unknown): { attributes: UserAttributes; extra: ExtraAttributes } => {
    const attributes = parseUserBody(body);
    const extra = profile.keepsExtraAttributes
      ? extraAttributesOf(requireBodyObject(body))
      : NO_EXTRA_ATTRIBUTES;
    return { attributes, extra };
  };
  const userPatched = (req: Request, id: string): ScimResult =>
    profile.patchAnswersResource ? userResult(req, 200, id) : { status: 204 };

  router.post(
    '/Users/.search',
    handle((req) => listUsers(req, searchQueryOf(req))),
  );
  router.get(
    '/Users',
    handle((req) => listUsers(req, queryOf(req))),
  );
  router.post(
    '/Users',
    handle((req) => {
      const { attributes, extra } = userBody(req.body);
      const { user } = store.createUser(attributes, true, extra);
      return userResult(req, 201, user.id);
    }),
  );
  router.get(
    '/Users/:id',
    handle((req) => userResult(req, 200, idOf(req))),
  );
  router.put(
    '/Users/:id',
    handle((req) => {
      const id = idOf(req);
      const { attributes, extra } = userBody(req.body);
      precondition(req, `User "${id}"`, store.getUser(id).version);
      store.replaceUser(id, attributes, extra);
      return userResult(req, 200, id);
    }),
  );
  router.patch(
    '/Users/:id',
    profile.patch === 'atomic'
      ? handle((req) => {
          const id = idOf(req);
          const operations = parsePatchRequest(req.body);
          precondition(req, `User "${id}"`, store.getUser(id).version);
          store.patchUser(id, operations, profile.keepsExtraAttributes);
          return userPatched(req, id);
        })
      : handleAsync(async (req) => {
          const id = idOf(req);
          const operations = parsePatchRequest(req.body);
          const patch = unlockedPatch(req, `User "${id}"`);
          await patchUserUnlocked(store, id, operations, profile.keepsExtraAttributes, patch);
          return userPatched(req, id);
        }),
  );
  router.delete(
    '/Users/:id',
    handle((req) => {
      const id = idOf(req);
      precondition(req, `User "${id}"`, store.getUser(id).version);
      store.deleteUser(id);
      return { status: 204 };
    }),
  );

  // Groups.
  const groupLocation = (req: Request, id: string): string => `${baseUrlOf(req)}/Groups/${id}`;

  const listGroups = (req: Request, query: ListQuery): ScimResult => {
    const text = filterText(query.filter);
    const filter =
      text === undefined ? [] : parseFilter(text, profile.groupFilterAttributes, GROUP_SCHEMA);
    const page = parsePageRequest(query.startIndex, query.count, ctx.maxPageSize);
    const projection = parseProjection(query.attributes, query.excludedAttributes, GROUP_SCHEMA);
    const withMembers = wantsAttribute(projection, 'members');
    const found = store.listGroups(filter, page.startIndex, page.count);
    return listResponse(
      page,
      found.totalResults,
      found.resources.map((g) =>
        projectResource(
          renderGroup(g, groupLocation(req, g.id), withMembers, etagOf(g.version)),
          projection,
        ),
      ),
    );
  };
  const groupResult = (req: Request, status: number, id: string): ScimResult => {
    const group = store.getGroup(id);
    const query = queryOf(req);
    const projection = parseProjection(query.attributes, query.excludedAttributes, GROUP_SCHEMA);
    const location = groupLocation(req, group.id);
    const withMembers = wantsAttribute(projection, 'members');
    const rendered = renderGroup(group, location, withMembers, etagOf(group.version));
    return resourceAnswer(
      req,
      status,
      location,
      group.version,
      projectResource(rendered, projection),
    );
  };
  const groupPatched = (req: Request, id: string): ScimResult =>
    profile.patchAnswersResource ? groupResult(req, 200, id) : { status: 204 };

  router.post(
    '/Groups/.search',
    handle((req) => listGroups(req, searchQueryOf(req))),
  );
  router.get(
    '/Groups',
    handle((req) => listGroups(req, queryOf(req))),
  );
  router.post(
    '/Groups',
    handle((req) => {
      const { attributes, members } = parseGroupBody(req.body);
      return groupResult(req, 201, store.createGroup(attributes, members).id);
    }),
  );
  router.get(
    '/Groups/:id',
    handle((req) => groupResult(req, 200, idOf(req))),
  );
  router.put(
    '/Groups/:id',
    handle((req) => {
      const id = idOf(req);
      const { attributes, members } = parseGroupBody(req.body);
      precondition(req, `Group "${id}"`, store.getGroup(id).version);
      store.replaceGroup(id, attributes, members);
      return groupResult(req, 200, id);
    }),
  );
  router.patch(
    '/Groups/:id',
    profile.patch === 'atomic'
      ? handle((req) => {
          const id = idOf(req);
          const operations = parsePatchRequest(req.body);
          precondition(req, `Group "${id}"`, store.getGroup(id).version);
          store.patchGroup(id, operations);
          return groupPatched(req, id);
        })
      : handleAsync(async (req) => {
          const id = idOf(req);
          const operations = parsePatchRequest(req.body);
          await patchGroupUnlocked(store, id, operations, unlockedPatch(req, `Group "${id}"`));
          return groupPatched(req, id);
        }),
  );
  router.delete(
    '/Groups/:id',
    handle((req) => {
      const id = idOf(req);
      precondition(req, `Group "${id}"`, store.getGroup(id).version);
      store.deleteGroup(id);
      return { status: 204 };
    }),
  );

  router.use(
    handle((req) => {
      throw scimError(404, `no SCIM endpoint ${req.method} ${req.path}`);
    }),
  );
  return router;
}
