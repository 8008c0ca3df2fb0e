import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { PermanentError, describeError } from '../errors.js';
import type { Registry } from 'prom-client';
import type { ReadinessCheck, ReadinessReport } from './readiness.js';

/** What `/metrics` serves: a prom-client registry's exposition, with its content type. */
export type MetricsSource = Pick<Registry, 'metrics' | 'contentType'>;

/** How to start the health and metrics endpoint. */
export interface HttpServerOptions {
  /** Interface to listen on. Default: every interface. */
  readonly host?: string | undefined;
  /** TCP port; `0` takes a free one (see `port` on the result). */
  readonly port: number;
  /** Served at `/metrics`: `RelayMetrics.registry`. */
  readonly metrics: MetricsSource;
  /** Asked at `/readyz`; every probe it reports must pass for a 200. */
  readonly readiness: ReadinessCheck;
}

/** A started endpoint. */
export interface RunningHttpServer {
  /** The port it listens on, useful when it was started on port 0. */
  readonly port: number;
  /** Stops listening and drops open connections. Safe to call twice. */
  close(): Promise<void>;
}

/** The body `/readyz` answers with. */
export interface ReadinessBody {
  readonly status: 'ready' | 'not ready';
  /** Names of the probes that failed, so a 503 says what to look at. */
  readonly failing: readonly string[];
  readonly checks: ReadinessReport;
  /** Set when the readiness check itself threw. */
  readonly error?: string;
}

const ALLOWED = 'GET, HEAD';

function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  // Probes and scrapes must see the state now, never a cached answer.
  res.setHeader('Cache-Control', 'no-store');
  res.end(req.method === 'HEAD' ? undefined : body);
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: object): void {
  send(req, res, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
}

/** Builds the `/readyz` answer from a report, or from the error the check threw. */
export function readinessBody(outcome: ReadinessReport | Error): ReadinessBody {
  if (outcome instanceof Error) {
    return { status: 'not ready', failing: [], checks: {}, error: describeError(outcome) };
  }
  const failing = Object.entries(outcome)
    .filter(([, result]) => !result.ok)
    .map(([name]) => name);
  return { status: failing.length === 0 ? 'ready' : 'not ready', failing, checks: outcome };
}

/**
 * Serves `/healthz` (liveness: 200 while the process answers), `/readyz` (200 when every
 * readiness probe passes, else 503 naming the failing ones) and `/metrics` (Prometheus text
 * format 0.0.4) on plain node:http. Nothing else, and no authentication: bind it to an
 * interface that only the orchestrator and the scraper reach.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  // Concurrent /readyz requests share one run of the probes, so a burst of checks from several
  // orchestrators costs Keycloak and the SCIM target one round of requests, not one each.
  let inFlight: Promise<ReadinessReport | Error> | undefined;
  const checkReadiness = (): Promise<ReadinessReport | Error> => {
    inFlight ??= options
      .readiness()
      .catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== '/healthz' && path !== '/readyz' && path !== '/metrics') {
      sendJson(req, res, 404, {
        error: `no endpoint at ${path}; try /healthz, /readyz or /metrics`,
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', ALLOWED);
      sendJson(req, res, 405, { error: `${path} answers GET and HEAD only` });
      return;
    }
    if (path === '/healthz') {
      sendJson(req, res, 200, { status: 'ok' });
    } else if (path === '/readyz') {
      const body = readinessBody(await checkReadiness());
      sendJson(req, res, body.status === 'ready' ? 200 : 503, body);
    } else {
      const text = await options.metrics.metrics();
      send(req, res, 200, options.metrics.contentType, text);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else sendJson(req, res, 500, { error: `cannot answer: ${describeError(error)}` });
    });
  });

  await new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException): void => {
      const where = `${options.host ?? '*'}:${options.port}`;
      reject(
        new PermanentError(
          `health and metrics endpoint: cannot listen on ${where} (${error.code ?? error.message})`,
          { cause: error },
        ),
      );
    };
    server.once('error', failed);
    const where = options.host === undefined ? {} : { host: options.host };
    server.listen({ port: options.port, ...where }, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') {
    server.close();
    throw new PermanentError('health and metrics endpoint: not listening on a TCP port');
  }

  let closed: Promise<void> | undefined;
  return {
    port: address.port,
    close: () => {
      closed ??= new Promise<void>((resolve, reject) => {
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
