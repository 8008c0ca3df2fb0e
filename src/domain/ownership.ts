/**
 * Whose a SCIM resource is. This file is the only place that decides it, for the event path
 * and the full reconcile alike: a SCIM resource is written to, or deleted, for a Keycloak
 * entity only while it is that entity's.
 */

/** The part of a SCIM resource that tells whose it is. */
export interface Owned {
  readonly id: string;
  readonly externalId?: string | undefined;
}

/**
 * The Keycloak entity a SCIM resource belongs to: the relay's id map says first (it survives
 * a server that drops `externalId`, which RFC 7643 makes optional), then the resource's own
 * `externalId`. Undefined: nobody's, an unmanaged resource.
 */
export function ownerOf(resource: Owned, mappedTo: string | undefined): string | undefined {
  if (mappedTo !== undefined) return mappedTo;
  const { externalId } = resource;
  return externalId === undefined || externalId === '' ? undefined : externalId;
}

/**
 * A SCIM resource that holds the name a Keycloak entity wants (a `userName` or a
 * `displayName`), with what is known of its owner.
 */
export interface Holder<R extends Owned> {
  readonly resource: R;
  /** {@link ownerOf} the resource. */
  readonly owner: string | undefined;
  /** Whether the owner still exists in Keycloak, provisioned or not. */
  readonly ownerLive: boolean;
  /**
   * Whether the resource is the owner's own twin, the one its reconcile writes to. A stray
   * second resource with the owner's `externalId` is not: nobody will ever rename it.
   */
  readonly ownersTwin: boolean;
  /** The SCIM name the owner wants now; undefined when it is gone or not provisioned. */
  readonly ownerWants: string | undefined;
}

/**
 * What a name's holder means for an entity that wants the name:
 * - `free`: nobody's, already this entity's, or left behind by an entity Keycloak no longer
 *   has: the entity may take the resource over (adopt it);
 * - `moving`: the twin of a live entity that wants another name now, or is no longer
 *   provisioned and will be deleted: its own reconcile will move it out of the way;
 * - `taken`: a live entity keeps it; the entity cannot have the name.
 */
export type HolderVerdict =
  | { readonly kind: 'free'; readonly leftBy: string | undefined }
  | { readonly kind: 'moving'; readonly owner: string }
  | { readonly kind: 'taken'; readonly owner: string };

/** SCIM names (`userName`, `displayName`) are unique regardless of case (RFC 7643 §4). */
export function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** The one rule for taking over a SCIM resource that holds the name `name`. */
export function judgeHolder<R extends Owned>(
  keycloakId: string,
  name: string,
  holder: Holder<R>,
  leftoversGo: boolean,
): HolderVerdict {
  const { owner } = holder;
  if (owner === undefined || owner === keycloakId) return { kind: 'free', leftBy: undefined };
  if (!holder.ownerLive) return { kind: 'free', leftBy: owner };
  // An owner no longer provisioned keeps its twin, and the name, when deprovisioning
  // deactivates rather than deletes.
  const moves = holder.ownerWants === undefined ? leftoversGo : !sameName(holder.ownerWants, name);
  if (holder.ownersTwin && moves) return { kind: 'moving', owner };
  return { kind: 'taken', owner };
}

/**
 * The name a twin moves to while the name it wants is still held by another entity that is
 * moving away: two entities that swap names would otherwise wait for each other forever.
 * Unique per entity, and recognisable in Kestra for the few seconds it lasts.
 */
export function movedAsideName(keycloakId: string): string {
  return `renaming-${keycloakId}`;
}
