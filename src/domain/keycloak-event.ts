import { z } from 'zod';
import { groupHint, membershipHint, userHint, type Hint } from './hint.js';

/**
 * An admin event, as the admin REST API returns it and as the RabbitMQ listener publishes it
 * (the listener adds `@class`, `resourceTypeAsString` and, in the focus-shift fork, `details`;
 * unknown fields are ignored). Only what routing needs is required.
 */
export const adminEventSchema = z.object({
  id: z.string().optional(),
  time: z.number().int().nonnegative(),
  realmId: z.string().min(1),
  operationType: z.string().min(1),
  resourceType: z.string().optional(),
  resourceTypeAsString: z.string().optional(),
  resourcePath: z.string().optional(),
  representation: z.string().nullish(),
  error: z.string().nullish(),
});
export type AdminEvent = z.infer<typeof adminEventSchema>;

/** A user (login-flow) event: REGISTER, UPDATE_PROFILE, ... */
export const userEventSchema = z.object({
  id: z.string().optional(),
  time: z.number().int().nonnegative(),
  type: z.string().min(1),
  realmId: z.string().min(1),
  userId: z.string().nullish(),
  error: z.string().nullish(),
});
export type UserEvent = z.infer<typeof userEventSchema>;

/** User events after which the user's SCIM side may be out of date. */
export const USER_EVENT_TYPES = [
  'REGISTER',
  'UPDATE_PROFILE',
  'UPDATE_EMAIL',
  'VERIFY_EMAIL',
  'DELETE_ACCOUNT',
  'FEDERATED_IDENTITY_LINK',
] as const;
const userEventTypes = new Set<string>(USER_EVENT_TYPES);

/** What an event means to the relay: hints to reconcile, or why it means nothing. */
export type EventMeaning =
  { readonly hints: readonly Hint[] } | { readonly hints: readonly []; readonly ignored: string };

const ignore = (why: string): EventMeaning => ({ hints: [], ignored: why });

const USER_PATH = /^users\/([^/]+)$/;
const MEMBERSHIP_PATH = /^users\/([^/]+)\/groups\/([^/]+)$/;
const GROUP_PATH = /^groups\/([^/]+)$/;
const SUBGROUP_PATH = /^groups\/([^/]+)\/children$/;

/**
 * Routes an admin event by its `resourcePath`, not by `resourceType` alone: a partial import or a
 * group move reports paths that the type does not tell apart, and user sub-resources
 * (`users/{id}/reset-password`, ...) are not changes to anything SCIM holds.
 */
export function hintsFromAdminEvent(event: AdminEvent): EventMeaning {
  if (event.error !== undefined && event.error !== null) return ignore('a failed operation');
  // Keycloak records the request's own path: a client that POSTs to `users/` gets
  // `users//{id}` (seen with Keycloak 25 and the admin client). Empty segments mean nothing.
  const path = resourcePathOf(event);

  const membership = MEMBERSHIP_PATH.exec(path);
  if (membership?.[1] !== undefined && membership[2] !== undefined) {
    return { hints: [membershipHint(membership[1], membership[2])] };
  }

  const user = USER_PATH.exec(path);
  if (user?.[1] !== undefined) return { hints: [userHint(user[1])] };
  if (path.startsWith('users/')) return ignore(`user sub-resource ${path}`);

  const group = GROUP_PATH.exec(path);
  if (group?.[1] !== undefined) {
    // A rename changes the path of every descendant; a delete removes them all.
    return { hints: [groupHint(group[1], event.operationType !== 'CREATE')] };
  }

  const subgroup = SUBGROUP_PATH.exec(path);
  if (path === 'groups' || subgroup !== null) {
    // A subgroup created or moved here: its id is only in the representation.
    const movedId = idFromRepresentation(event.representation);
    if (movedId !== undefined) return { hints: [groupHint(movedId, true)] };
    // Without details, the parent's subtree holds the change somewhere.
    if (subgroup?.[1] !== undefined) return { hints: [groupHint(subgroup[1], true)] };
    return ignore('a top-level group change without a representation (left to the resync)');
  }

  return ignore(`resource ${event.resourceType ?? path} is not provisioned`);
}

export function hintsFromUserEvent(event: UserEvent): EventMeaning {
  if (event.error !== undefined && event.error !== null) return ignore('a failed operation');
  if (!userEventTypes.has(event.type)) return ignore(`user event ${event.type}`);
  if (event.userId === undefined || event.userId === null || event.userId === '') {
    return ignore(`user event ${event.type} without a userId`);
  }
  return { hints: [userHint(event.userId)] };
}

/** The event's `resourcePath` without empty segments (`users//id` is `users/id`). */
export function resourcePathOf(event: Pick<AdminEvent, 'resourcePath'>): string {
  return (event.resourcePath ?? '').replace(/\/{2,}/g, '/').replace(/^\/|\/$/g, '');
}

/**
 * What identifies one Keycloak event whichever way it arrived: from the listener's message or
 * from the realm's stored events (Keycloak 25 stores no event id, and a stored admin event keeps
 * its representation only with details on). Two events alike in all of these mean the same
 * hint, so taking them for one costs nothing.
 */
export function eventFingerprint(
  event:
    | { readonly kind: 'admin'; readonly event: AdminEvent }
    | { readonly kind: 'user'; readonly event: UserEvent },
): string {
  if (event.kind === 'admin') {
    const e = event.event;
    return `admin|${e.time}|${e.operationType}|${resourcePathOf(e)}`;
  }
  const e = event.event;
  return `user|${e.time}|${e.type}|${e.userId ?? ''}`;
}

function idFromRepresentation(representation: string | null | undefined): string | undefined {
  if (representation === undefined || representation === null || representation === '') {
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(representation);
    if (typeof parsed === 'object' && parsed !== null && 'id' in parsed) {
      return typeof parsed.id === 'string' && parsed.id !== '' ? parsed.id : undefined;
    }
  } catch {
    // A representation that is not JSON tells us nothing; the path-based fallback applies.
  }
  return undefined;
}

/**
 * Turns zod's issues into one line that names each bad field, for logs and dead-letter reasons.
 */
export function describeParseError(what: string, error: z.ZodError): string {
  const fields = error.issues.map(
    (issue) => `${issue.path.length === 0 ? '(root)' : issue.path.join('.')}: ${issue.message}`,
  );
  return `malformed ${what}: ${fields.join('; ')}`;
}
