/**
 * The SCIM server's errors. The server is a package of its own and does not import the relay:
 * these are the few kinds it raises, named and worded as the relay's errors of the same names,
 * so that a refusal reads the same in the server's answers, its log and the relay's log.
 */

/** Base class: the error's name is its class's, as in stack traces and `describeError`. */
abstract class ScimServerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Trying again cannot help: a call the server's test API refused. */
export class PermanentError extends ScimServerError {}

/** One or more flags are wrong. `issues` names every bad flag, so one run shows them all. */
export class ConfigError extends PermanentError {
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super(`Invalid configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
    this.issues = issues;
  }
}

/** A SCIM error answer (RFC 7644 §3.12): its HTTP status, `scimType` and `detail`. */
export class ScimError extends ScimServerError {
  readonly status: number;
  readonly scimType: string | undefined;
  readonly detail: string | undefined;

  constructor(init: {
    status: number;
    scimType?: string | undefined;
    detail?: string | undefined;
    /** What was being done, e.g. `request`: named in the message. */
    operation: string;
  }) {
    const parts = [`SCIM ${init.operation} failed with HTTP ${init.status}`];
    if (init.scimType !== undefined) parts.push(`scimType=${init.scimType}`);
    if (init.detail !== undefined) parts.push(`detail: ${init.detail}`);
    super(parts.join(', '));
    this.status = init.status;
    this.scimType = init.scimType;
    this.detail = init.detail;
  }
}

/** A human-readable one-liner for any thrown value, for the log. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
