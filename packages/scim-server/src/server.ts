import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ConfigError, ScimError, describeError } from './errors.js';
import { FaultQueue } from './faults.js';
import { MAX_PATCH_DELAY_MS, PROFILE_NAMES, serverProfile, type ProfileName } from './profile.js';
import { RequestLog } from './request-log.js';
import {
  SCIM_CONTENT_TYPE,
  errorResult,
  scimError,
  scimErrorBody,
  type ScimResult,
} from './scim-response.js';
import { scimRoutes } from './scim-routes.js';
import { ScimStore } from './store.js';
import { testApiRoutes } from './test-api.js';
import type { FaultSpec } from './test-api-schema.js';
import { webPageHandler } from './web-page-route.js';

/** How to start a Kestra-compatible (or, with `profile: 'generic'`, a plain) SCIM server. */
export interface ScimServerOptions {
  /** TCP port; default 0 (a free port, see `baseUrl`). */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** The Bearer token clients must send. Never printed. */
  token: string;
  /** Kestra tenant in the base path; default `main`. */
  tenant?: string;
  /** Integration id in the base path; default `demo`. */
  integrationId?: string;
  /** Largest page a list answers; default 100. */
  maxPageSize?: number;
  /** Serve the inspection and fault API under `/_test/`; default false. */
  testApi?: boolean;
  /** Serve the read-only demo page listing users and groups at `/` (no token); default false. */
  web?: boolean;
  /**
   * `kestra` (default): behave as Kestra's endpoint. `generic`: a plain RFC 7644 server that
   * takes every freedom the RFCs leave: PATCH without locking, case-exact `userName eq`, PUT
   * that clears what it omits, ETags, no `externalId` filter, POST without a body, PATCH with
   * one, hard DELETE and lower-cased attribute names. See `ServerProfile`.
   */
  profile?: ProfileName;
  /**
   * Generic profile only: how long a PATCH waits between reading the resource and writing it
   * back, widening the window in which concurrent PATCHes lose each other's changes. Default
   * 0, which still yields one macrotask. At most 60000.
   */
  patchDelayMs?: number;
}

/** A started server. */
export interface RunningScimServer {
  /** e.g. `http://127.0.0.1:PORT/api/v1/main/integrations/demo/scim/v2` */
  readonly baseUrl: string;
  /** e.g. `http://127.0.0.1:PORT`; the inspection API lives at `${origin}/_test/`. */
  readonly origin: string;
  /** Stops listening and drops open connections. Safe to call twice. */
  close(): Promise<void>;
}

const PATH_SEGMENT = /^[\w.~-]+$/;

function checkOptions(options: ScimServerOptions): void {
  const issues: string[] = [];
  if (options.token.trim() === '') issues.push('token: must not be empty');
  for (const [name, value] of [
    ['tenant', options.tenant],
    ['integrationId', options.integrationId],
  ] as const) {
    if (value !== undefined && !PATH_SEGMENT.test(value)) {
      issues.push(`${name}: "${value}" must be a URL path segment (letters, digits, . _ ~ -)`);
    }
  }
  const { port, maxPageSize } = options;
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    issues.push(`port: ${port} is not a TCP port (0-65535)`);
  }
  if (maxPageSize !== undefined && !(Number.isInteger(maxPageSize) && maxPageSize >= 1)) {
    issues.push(`maxPageSize: ${maxPageSize} must be a positive integer`);
  }
  const { profile, patchDelayMs } = options;
  if (profile !== undefined && !(PROFILE_NAMES as readonly string[]).includes(profile)) {
    issues.push(`profile: "${profile}" must be one of ${PROFILE_NAMES.join(', ')}`);
  }
  if (patchDelayMs !== undefined) {
    if (!(
      Number.isInteger(patchDelayMs) &&
      patchDelayMs >= 0 &&
      patchDelayMs <= MAX_PATCH_DELAY_MS
    )) {
      issues.push(
        `patchDelayMs: ${patchDelayMs} must be a whole number from 0 to ${MAX_PATCH_DELAY_MS}`,
      );
    } else if (profile !== 'generic') {
      // Kestra's PATCH is atomic: a delay there would be silently meaningless.
      issues.push("patchDelayMs: only the generic profile waits between a PATCH's read and write");
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function write(res: Response, result: ScimResult): void {
  res.status(result.status);
  for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
  if (result.body === undefined) {
    res.end();
    return;
  }
  res.setHeader('Content-Type', SCIM_CONTENT_TYPE);
  res.send(JSON.stringify(result.body));
}

function faultResult(spec: FaultSpec, status: number): ScimResult {
  return {
    status,
    body: spec.body ?? scimErrorBody(status, `injected fault: HTTP ${status}`),
    ...(spec.retryAfter === undefined
      ? {}
      : { headers: { 'Retry-After': String(spec.retryAfter) } }),
  };
}

/** Turns anything thrown while serving into the SCIM error the client gets. */
function resultForError(error: unknown): ScimResult {
  if (error instanceof ScimError) return errorResult(error);
  // express.json() reports a bad body with a `type` and an HTTP `status`.
  if (error instanceof Error && 'type' in error && typeof error.type === 'string') {
    if (error.type === 'entity.too.large') {
      return errorResult(scimError(413, 'the request body is too large'));
    }
    if (error.type === 'entity.parse.failed') {
      return errorResult(scimError(400, 'the request body is not valid JSON', 'invalidSyntax'));
    }
    return errorResult(scimError(400, `the request body cannot be read (${error.message})`));
  }
  console.error(`SCIM server: unexpected error: ${describeError(error)}`);
  return errorResult(scimError(500, 'internal server error'));
}

/**
 * Starts a Kestra-compatible SCIM 2.0 server with its state in memory. See
 * `/work/shared/notes/kestra-scim.md` for the behaviour it reproduces; `profile: 'generic'`
 * takes the freedoms its last section lists instead (`ServerProfile`).
 */
export async function startScimServer(options: ScimServerOptions): Promise<RunningScimServer> {
  checkOptions(options);
  const host = options.host ?? '127.0.0.1';
  const tenant = options.tenant ?? 'main';
  const integrationId = options.integrationId ?? 'demo';
  const basePath = `/api/v1/${tenant}/integrations/${integrationId}/scim/v2`;
  const testApi = options.testApi ?? false;
  const profile = serverProfile(options.profile ?? 'kestra', options.patchDelayMs);

  const store = new ScimStore(profile);
  // The token accepted now; the test API's PUT /_test/token replaces it, as a regenerated one.
  let acceptedToken = options.token;
  const log = new RequestLog();
  const faults = new FaultQueue();
  const closing = new AbortController();
  /** Faults to apply once the request has been processed (`phase: "after"`). */
  const lateFaults = new WeakMap<Response, FaultSpec>();
  const faultNames = new WeakMap<Response, string>();

  const applyFault = (res: Response, spec: FaultSpec): void => {
    if (spec.drop === true) res.socket?.destroy();
    else if (spec.status !== undefined) write(res, faultResult(spec, spec.status));
  };
  const send = (res: Response, result: ScimResult): void => {
    const late = lateFaults.get(res);
    if (late === undefined) write(res, result);
    else applyFault(res, late);
  };
  const scimPathOf = (path: string): string | undefined => {
    if (path === basePath) return '';
    return path.startsWith(`${basePath}/`) ? path.slice(basePath.length) : undefined;
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('case sensitive routing', true);

  if (options.web === true) {
    // Ahead of the request log and the faults: page reloads are not SCIM traffic.
    app.get('/', webPageHandler({ store, profile: profile.name, tenant, integrationId, basePath }));
  }

  if (testApi) {
    app.use(
      '/_test',
      testApiRoutes({
        store,
        profile,
        log,
        faults,
        setToken: (token) => {
          acceptedToken = token;
        },
      }),
    );
    app.use((req, res, next) => {
      const started = performance.now();
      const time = new Date().toISOString();
      const url = new URL(req.originalUrl, 'http://localhost');
      res.on('close', () => {
        const body: unknown = req.body;
        const fault = faultNames.get(res);
        log.record({
          time,
          method: req.method,
          path: url.pathname,
          scimPath: scimPathOf(url.pathname) ?? null,
          query: Object.fromEntries(url.searchParams),
          status: res.writableFinished ? res.statusCode : null,
          body: body ?? null,
          durationMs: Math.round((performance.now() - started) * 1000) / 1000,
          ...(fault === undefined ? {} : { fault }),
          ...(req.get('if-match') === undefined ? {} : { ifMatch: req.get('if-match') }),
        });
      });
      next();
    });
  }

  app.use(express.json({ type: ['application/json', 'application/scim+json'], limit: '50mb' }));

  if (testApi) {
    app.use(async (req, res, next) => {
      const fault = faults.take(req.method, scimPathOf(req.path));
      if (fault === undefined) {
        next();
        return;
      }
      faultNames.set(res, fault.description);
      const { spec } = fault;
      if (spec.latencyMs !== undefined && spec.latencyMs > 0) {
        try {
          await sleep(spec.latencyMs, undefined, { signal: closing.signal });
        } catch {
          // The server is closing and has dropped this connection: nothing is left to answer.
          return;
        }
      }
      if (spec.phase === 'after') lateFaults.set(res, spec);
      else if (spec.status !== undefined || spec.drop === true) {
        applyFault(res, spec);
        return;
      }
      next();
    });
  }

  app.use(
    basePath,
    scimRoutes({
      store,
      profile,
      basePath,
      tenant,
      integrationId,
      maxPageSize: options.maxPageSize ?? 100,
      token: () => acceptedToken,
      send,
    }),
  );
  app.use((req: Request, res: Response) => {
    send(res, errorResult(scimError(404, `no SCIM endpoint at ${req.path}`)));
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      res.socket?.destroy();
      return;
    }
    send(res, resultForError(error));
  });

  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') {
    throw new Error('the SCIM server is not listening on a TCP port');
  }
  const origin = `http://${hostForUrl(host)}:${address.port}`;

  let closed: Promise<void> | undefined;
  return {
    baseUrl: `${origin}${basePath}`,
    origin,
    close: () => {
      closed ??= new Promise<void>((resolve, reject) => {
        closing.abort();
        server.close((error) => {
          if (error === undefined) resolve();
          else reject(error);
        });
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
