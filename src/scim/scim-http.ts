import { setMaxListeners } from 'node:events';
import { rootCertificates } from 'node:tls';
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import { PermanentError, ScimError, TransientError } from '../errors.js';
import { errorCode, isTlsTrustCode } from '../net-errors.js';
import { parseRetryAfter } from '../retry/retry-after.js';
import type { CredentialObserver } from '../security/credential-health.js';
import { fixedSecret, type SecretSource } from '../security/secret-file.js';
import { canonicalAttributeNames } from './attribute-names.js';
import { SCHEMA_ERROR } from './scim-types.js';

/** How to reach the SCIM endpoint. */
export interface ScimHttpOptions {
  /** e.g. `https://kestra.example.com/api/v1/main/integrations/abc/scim/v2` */
  readonly baseUrl: string;
  /**
   * The bearer Secret Token, or where to read it: a token from a file is read again after a
   * 401, so a token regenerated in Kestra and written to the file is used without a restart.
   * Sent in a header only; never logged, never in an error.
   */
  readonly token: string | SecretSource;
  /** Per request, for the response headers and again for the body. */
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Keep-alive connections in the pool. */
  readonly maxConnections: number;
  /** PEM bundle to trust besides the system's public CAs, e.g. a company's private CA. */
  readonly ca?: string | undefined;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ScimRequest {
  readonly method: HttpMethod;
  /** Relative to the base URL, e.g. `/Users/123`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly body?: unknown;
  /** `If-Match`: the write applies only if the resource still has this ETag (RFC 7644 §3.14). */
  readonly ifMatch?: string | undefined;
  /** Says what is being done, for error messages: `POST /Users (userName "alice")`. */
  readonly operation: string;
}

export interface ScimResponse {
  readonly status: number;
  /** The parsed JSON body with its attribute names in canonical case; undefined when empty. */
  readonly body: unknown;
  /** `Location` of a created resource: the one pointer RFC 7644 guarantees. */
  readonly location: string | undefined;
  /** `ETag` of the resource, when the server sends one. */
  readonly etag: string | undefined;
}

/** Called once per HTTP exchange, for metrics. `status` is 0 when no response came. */
export type ResponseObserver = (method: HttpMethod, status: number) => void;

/**
 * One SCIM HTTP exchange on a pooled keep-alive connection, turned into either a parsed body or
 * a typed error. No retries here: `ScimClient` decides that, from the error's class.
 */
export class ScimHttp {
  private readonly agent: Agent;
  private readonly base: URL;
  private readonly token: SecretSource;

  constructor(
    private readonly options: ScimHttpOptions,
    private readonly observe: ResponseObserver = () => undefined,
    /** Cuts every exchange in flight short, e.g. when a stop runs out of time. */
    private readonly cancel?: AbortSignal,
    /** Told whether the target accepts the token: a 401, or an answer to an authorised request. */
    private readonly credentials?: CredentialObserver,
  ) {
    // Each exchange in flight listens on `cancel` until it ends, and the callers decide how
    // many are in flight (16 at `CONCURRENCY=16`). Node's leak warning, at 11 listeners, would
    // then be a false alarm; a test checks that every listener goes when its exchange ends.
    if (cancel !== undefined) setMaxListeners(0, cancel);
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    this.token = typeof options.token === 'string' ? fixedSecret(options.token) : options.token;
    this.agent = new Agent({
      connections: options.maxConnections,
      connectTimeout: options.connectTimeoutMs,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      keepAliveTimeout: 30_000,
      connect: {
        rejectUnauthorized: true,
        // Node's `ca` replaces the public roots; keep them, so that a private CA is an addition.
        ...(options.ca === undefined ? {} : { ca: [...rootCertificates, options.ca] }),
      },
    });
  }

  /** The endpoint's origin and path, for messages. Carries no secret. */
  get endpoint(): string {
    return this.base.href;
  }

  /**
   * One exchange. A 401 re-reads a token that comes from a file and, when the file holds a new
   * one, sends the request once more with it: a rotated token costs no failed write.
   */
  async send(req: ScimRequest): Promise<ScimResponse> {
    for (let retried = false; ; retried = true) {
      try {
        const response = await this.exchange(req);
        // Discovery may be served without a token (RFC 7644 §4): only other answers prove it.
        if (!isDiscovery(req.path)) this.credentials?.accepted();
        return response;
      } catch (error) {
        if (!(error instanceof ScimError) || error.status !== 401) throw error;
        if (retried || !this.token.refresh()) {
          this.credentials?.refused(error);
          throw error;
        }
      }
    }
  }

  private async exchange(req: ScimRequest): Promise<ScimResponse> {
    const url = new URL(req.path.replace(/^\//, ''), this.base);
    for (const [key, value] of Object.entries(req.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }

    const deadline = this.deadline();
    try {
      return await this.exchangeWithin(req, url, deadline.signal);
    } finally {
      deadline.end();
    }
  }

  private async exchangeWithin(
    req: ScimRequest,
    url: URL,
    signal: AbortSignal,
  ): Promise<ScimResponse> {
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, {
        method: req.method,
        dispatcher: this.agent,
        headers: {
          authorization: `Bearer ${this.token.current()}`,
          accept: 'application/scim+json, application/json',
          ...(req.body === undefined ? {} : { 'content-type': 'application/scim+json' }),
          ...(req.ifMatch === undefined ? {} : { 'if-match': req.ifMatch }),
        },
        ...(req.body === undefined ? {} : { body: JSON.stringify(req.body) }),
        signal,
      });
    } catch (error) {
      this.observe(req.method, 0);
      throw networkError(req.operation, this.base.host, error);
    }

    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      this.observe(req.method, 0);
      throw networkError(req.operation, this.base.host, error);
    }
    this.observe(req.method, response.statusCode);

    // RFC 7643 §2.1: attribute names are case-insensitive; the relay reads canonical ones.
    const body = canonicalAttributeNames(parseJson(text));
    if (response.statusCode >= 200 && response.statusCode < 300) {
      return {
        status: response.statusCode,
        body,
        location: firstHeader(response.headers['location']),
        etag: firstHeader(response.headers['etag']),
      };
    }
    throw scimErrorFrom(req.operation, response.statusCode, body, text, response.headers);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /**
   * A hard ceiling over connect + headers + body, whatever undici's own timers do, which a
   * cancel of the whole client also ends. Its timer is cleared when the exchange ends: one of
   * `AbortSignal.timeout` stays pending for its whole span, so a full reconcile's hundred
   * thousand writes kept as many timers, and `AbortSignal.any` costs more than the exchange's
   * own parsing.
   */
  private deadline(): { readonly signal: AbortSignal; end(): void } {
    const controller = new AbortController();
    const timer = setTimeout(
      () => {
        controller.abort(new DOMException('the SCIM exchange timed out', 'TimeoutError'));
      },
      this.options.connectTimeoutMs + 2 * this.options.timeoutMs,
    );
    const { cancel } = this;
    const onCancel = (): void => {
      controller.abort(cancel?.reason);
    };
    if (cancel?.aborted === true) onCancel();
    else cancel?.addEventListener('abort', onCancel, { once: true });
    return {
      signal: controller.signal,
      end: () => {
        clearTimeout(timer);
        cancel?.removeEventListener('abort', onCancel);
      },
    };
  }
}

/** `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`: the endpoints RFC 7644 §4 may leave open. */
function isDiscovery(path: string): boolean {
  return /^\/?(?:ServiceProviderConfig|ResourceTypes|Schemas)(?:[/?]|$)/.test(path);
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * A non-2xx answer as a `ScimError`. A SCIM error body gives `scimType` and `detail`; otherwise
 * the start of the body text serves as detail, so an HTML error page from a proxy is still
 * visible in the log.
 */
export function scimErrorFrom(
  operation: string,
  status: number,
  body: unknown,
  text: string,
  headers: Record<string, string | string[] | undefined>,
): ScimError {
  let scimType: string | undefined;
  let detail: string | undefined;
  if (isRecord(body)) {
    const schemas = body['schemas'];
    const isScimError = Array.isArray(schemas) && schemas.includes(SCHEMA_ERROR);
    if (isScimError || 'detail' in body || 'scimType' in body) {
      scimType = typeof body['scimType'] === 'string' ? body['scimType'] : undefined;
      detail = typeof body['detail'] === 'string' ? body['detail'] : undefined;
    }
  }
  if (detail === undefined && text.trim() !== '') detail = text.trim().slice(0, 300);
  const retryAfter = headers['retry-after'];
  const retryAfterMs = parseRetryAfter(
    Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
    Date.now(),
  );
  return new ScimError({ status, scimType, detail, operation, retryAfterMs });
}

function networkError(operation: string, host: string, error: unknown): Error {
  // undici names a reset connection only by its own generic socket code.
  const raw = errorCode(error);
  const code = raw === 'UND_ERR_SOCKET' ? 'connection reset' : raw;
  if (isTlsTrustCode(code)) {
    return new PermanentError(
      `SCIM ${operation}: TLS verification of ${host} failed (${code}); if the server uses a private CA, set SCIM_CA_FILE`,
      { cause: error },
    );
  }
  const timedOut =
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError ||
    (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'));
  const what = timedOut ? 'timed out' : `network error (${code ?? describe(error)})`;
  return new TransientError(`SCIM ${operation}: ${what} talking to ${host}`, { cause: error });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
