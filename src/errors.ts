/**
 * The relay's small error taxonomy. Every failure the relay can meet is one of these, so that
 * one place (`isTransient`) decides what is retried and what is parked or dead-lettered.
 */

/** Base class: carries a `retryable` flag that the retry policy reads, and an optional cause. */
export abstract class RelayError extends Error {
  abstract readonly retryable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Worth trying again later: the network, a timeout, a 5xx, a 429, a target that is down. */
export class TransientError extends RelayError {
  readonly retryable = true;
  /** Milliseconds the other side asked us to wait (`Retry-After`), when it said so. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number | undefined }) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/**
 * The change waits for another entity's reconcile (one giving up a SCIM name it wants), which
 * the relay has scheduled. Retried like any transient failure, but without holding a slot of
 * the work queue meanwhile: the entity it waits for may need that slot to run at all.
 */
export class WaitingError extends TransientError {}

/** Retrying cannot help: bad input, a refused request, a missing permission. */
export class PermanentError extends RelayError {
  readonly retryable = false;
}

/** Which side refused the relay's credentials. */
export type CredentialService = 'keycloak' | 'scim';

/**
 * Keycloak refused the relay's own credentials: the client-credentials login (`invalid_client`,
 * `unauthorized_client`, 401) or a fresh token (401 on an admin call after a new login). Every
 * other request would be refused too, and no entity is at fault, so work is neither parked nor
 * dead-lettered: it is held and tried again, with backoff, until the credentials work again (a
 * rotated secret re-read from its file, or a fixed setting). Not retried within one request,
 * since the same credentials get the same answer.
 */
export class CredentialsRefusedError extends RelayError {
  readonly retryable = false;
  readonly service: CredentialService = 'keycloak';
}

/**
 * The side whose refusal of the relay's credentials `error` reports, or undefined when it is no
 * such refusal: Keycloak's (a {@link CredentialsRefusedError}) or the SCIM target's (HTTP 401:
 * the bearer token). Looks through causes, since callers wrap what they rethrow.
 */
export function credentialsRefusedBy(error: unknown): CredentialService | undefined {
  for (const current of causeChain(error)) {
    if (current instanceof CredentialsRefusedError) return current.service;
    if (current instanceof ScimError && current.status === 401) return 'scim';
  }
  return undefined;
}

/**
 * Whether `error` means the whole target refuses the relay rather than one entity failing:
 * refused credentials on either side, or a SCIM integration that answers 403 (disabled). Such
 * work is held and retried, never parked: parking every change would only move the outage
 * into the parked list.
 */
export function isHeldBack(error: unknown): boolean {
  if (credentialsRefusedBy(error) !== undefined) return true;
  for (const current of causeChain(error)) {
    if (current instanceof ScimError && current.status === 403) return true;
  }
  return false;
}

/** `error` and the causes it wraps, outermost first; a few levels at most, against loops. */
function* causeChain(error: unknown): Generator<unknown, void, undefined> {
  let current = error;
  for (let depth = 0; depth < 8; depth += 1) {
    yield current;
    if (!(current instanceof Error)) return;
    current = current.cause;
  }
}

/** One or more settings are wrong. `issues` names every bad field, so one run shows them all. */
export class ConfigError extends PermanentError {
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super(`Invalid configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
    this.issues = issues;
  }
}

/**
 * A SCIM error response (RFC 7644 §3.12). `status` and `scimType` come from the body when it is
 * a SCIM error, else from the HTTP status alone. Whether it is retryable follows the status.
 */
export class ScimError extends RelayError {
  readonly retryable: boolean;
  readonly status: number;
  readonly scimType: string | undefined;
  readonly detail: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(init: {
    status: number;
    scimType?: string | undefined;
    detail?: string | undefined;
    /** What was being done, e.g. `POST /Users (userName "alice")`: named in the message. */
    operation: string;
    retryAfterMs?: number | undefined;
  }) {
    const parts = [`SCIM ${init.operation} failed with HTTP ${init.status}`];
    if (init.scimType !== undefined) parts.push(`scimType=${init.scimType}`);
    if (init.detail !== undefined) parts.push(`detail: ${init.detail}`);
    super(parts.join(', '));
    this.status = init.status;
    this.scimType = init.scimType;
    this.detail = init.detail;
    this.retryAfterMs = init.retryAfterMs;
    this.retryable = isTransientStatus(init.status);
  }
}

/** The one rule for HTTP statuses: 408, 429 and every 5xx are transient, every other 4xx is not. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Whether a failure is worth retrying. Unknown errors (a bug, a network error from a library
 * we did not wrap) count as transient: losing work to a misclassified error is worse than a
 * bounded number of retries.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof RelayError) return error.retryable;
  return true;
}

/** A human-readable one-liner for any thrown value, for logs and dead-letter reasons. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
