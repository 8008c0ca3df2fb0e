import { z } from 'zod';
import { PROFILE_NAMES } from './profile.js';

/**
 * The inspection API's messages, shared by the server (which validates what it receives) and
 * `ScimServerControl` (which validates what it gets back), so the two cannot drift apart.
 */

/** A fault to inject into the next `count` SCIM requests that match `method` and `pathPrefix`. */
export const faultSpecSchema = z
  .strictObject({
    /** How many matching requests get the fault. Default 1. */
    count: z.number().int().min(1).default(1),
    /** Only requests with this HTTP method (case-insensitive). */
    method: z.string().min(1).optional(),
    /** Only requests whose path below the SCIM base path starts with this, e.g. `/Users`. */
    pathPrefix: z.string().startsWith('/').optional(),
    /** Answer with this status instead of handling the request. */
    status: z.number().int().min(200).max(599).optional(),
    /** Body of that answer; default: a SCIM error naming the injected status. */
    body: z.unknown().optional(),
    /** `Retry-After` header of that answer: seconds, or an HTTP-date string. */
    retryAfter: z.union([z.number().int().min(0), z.string().min(1)]).optional(),
    /** Wait this long before anything else happens. */
    latencyMs: z.number().int().min(0).max(600_000).optional(),
    /** Destroy the connection without any answer. */
    drop: z.boolean().optional(),
    /**
     * `before` (default): the request is never processed. `after`: it is processed and stored,
     * then its answer is replaced by the fault, like a proxy that fails after the backend
     * committed. Applies to `status` and `drop`.
     */
    phase: z.enum(['before', 'after']).default('before'),
  })
  .refine((f) => f.status !== undefined || f.drop === true || f.latencyMs !== undefined, {
    error: 'a fault needs at least one of status, drop or latencyMs',
  })
  .refine((f) => !(f.status !== undefined && f.drop === true), {
    error: 'status and drop cannot be combined',
  });

/** A fault as sent to the server (defaults not yet applied). */
export type FaultSpecInput = z.input<typeof faultSpecSchema>;
/** A fault with its defaults applied. */
export type FaultSpec = z.output<typeof faultSpecSchema>;

/** A global user to create directly, e.g. one that exists in Kestra without access here. */
export const seedUserSchema = z.strictObject({
  userName: z.string().min(1),
  externalId: z.string().optional(),
  givenName: z.string().optional(),
  familyName: z.string().optional(),
  emails: z
    .array(
      z.strictObject({
        value: z.string().min(1),
        type: z.string().optional(),
        primary: z.boolean().optional(),
      }),
    )
    .default([]),
  active: z.boolean().default(true),
  /**
   * Whether the user has access to this tenant (is visible over SCIM). Default false in the
   * kestra profile; the generic profile knows no users without access, so there it defaults
   * to true and false is refused.
   */
  tenantAccess: z.boolean().optional(),
  /**
   * Attributes beyond those above, as a client would send them (`title`, `phoneNumbers`,
   * `name: { formatted }`, an extension container...). Kept by the generic profile; the
   * kestra profile ignores them, as it ignores them over SCIM. Never a password, nor an
   * attribute that has its own field here.
   */
  extra: z.record(z.string(), z.unknown()).optional(),
});

export type SeedUserInput = z.input<typeof seedUserSchema>;

/** A user as `GET /_test/state` reports it. */
export const stateUserSchema = z.object({
  id: z.string(),
  userName: z.string(),
  externalId: z.string().optional(),
  givenName: z.string().optional(),
  familyName: z.string().optional(),
  emails: z.array(
    z.object({ value: z.string(), type: z.string().optional(), primary: z.boolean().optional() }),
  ),
  active: z.boolean(),
  tenantAccess: z.boolean(),
  /** Attributes beyond those above (generic profile only; always empty in the kestra one). */
  extra: z.record(z.string(), z.unknown()),
  created: z.string(),
  lastModified: z.string(),
});

/** A group as `GET /_test/state` reports it; `members` are SCIM user ids. */
export const stateGroupSchema = z.object({
  id: z.string(),
  displayName: z.string(),
  externalId: z.string().optional(),
  members: z.array(z.string()),
  created: z.string(),
  lastModified: z.string(),
});

/** Everything the server holds. */
export const stateSchema = z.object({
  integrationEnabled: z.boolean(),
  users: z.array(stateUserSchema),
  groups: z.array(stateGroupSchema),
});

export type ScimServerState = z.output<typeof stateSchema>;

/** What `GET /_test/info` reports: which profile this server plays. */
export const serverInfoSchema = z.object({
  profile: z.enum(PROFILE_NAMES),
  /** The generic profile's wait between a PATCH's read and write; 0 for kestra. */
  patchDelayMs: z.number().int(),
});

export type ScimServerInfo = z.output<typeof serverInfoSchema>;
export type StateUser = z.output<typeof stateUserSchema>;
export type StateGroup = z.output<typeof stateGroupSchema>;

/** One SCIM request the server received. */
export const requestLogEntrySchema = z.object({
  /** Increases by one per request, across clears; use it with `since`. */
  seq: z.number().int(),
  /** When the request arrived (ISO 8601). */
  time: z.string(),
  method: z.string(),
  /** The full URL path. */
  path: z.string(),
  /** The path below the SCIM base path (`/Users/abc`), or null outside it. */
  scimPath: z.string().nullable(),
  /** Query parameters, decoded. */
  query: z.record(z.string(), z.string()),
  /** The HTTP status answered, or null when the connection was dropped. */
  status: z.number().int().nullable(),
  /** The parsed JSON request body, or null. */
  body: z.unknown(),
  durationMs: z.number(),
  /** The injected fault, described, when one applied. */
  fault: z.string().optional(),
  /** The `If-Match` header the client sent, when it sent one. */
  ifMatch: z.string().optional(),
});

export type RequestLogEntry = z.output<typeof requestLogEntrySchema>;

export const requestLogSchema = z.object({ requests: z.array(requestLogEntrySchema) });

export const integrationSwitchSchema = z.strictObject({ enabled: z.boolean() });

/** `PUT /_test/token`: the Bearer token the SCIM endpoints accept from now on. */
export const tokenChangeSchema = z.strictObject({
  token: z.string().refine((token) => token.trim() !== '', 'must not be blank'),
});
