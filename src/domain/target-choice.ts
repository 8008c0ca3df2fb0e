import { judgeHolder, movedAsideName, sameName, type Holder, type Owned } from './ownership.js';

/** How the twin of a Keycloak entity was found on the SCIM side. */
export type FoundBy = 'id map' | 'externalId' | 'name';

/** What the relay knows of one entity's SCIM side before it decides. */
export interface ScimSide<R extends Owned> {
  /** The resource that is this entity's ({@link ownerOf} names it), if any. */
  readonly twin: R | undefined;
  readonly twinFoundBy: FoundBy | undefined;
  /** Another resource that holds the SCIM name the entity wants, if any. */
  readonly holder: Holder<R> | undefined;
}

/** How a resource that was not known as the entity's twin through the id map became it. */
export interface Adoption {
  readonly foundBy: FoundBy;
  /** The deleted Keycloak entity it was left by, if any. */
  readonly leftBy: string | undefined;
  /** Its ETag when read, so that the takeover fails if it changed since. */
  readonly version: string | undefined;
}

/**
 * Which SCIM resource an entity that is to be provisioned writes to:
 * - `write`: its own twin or, with `adopted`, one it takes over (the resource holding its name,
 *   nobody's or left by a deleted entity);
 * - `create`: none yet, and its name is free;
 * - `wait`: the name is held by an entity whose own reconcile will free it; `moveAside` is the
 *   entity's twin, to be renamed to {@link movedAsideName} meanwhile so that two entities
 *   swapping names do not wait for each other forever;
 * - `problem`: the name belongs to someone else for good. The entity's twin, if it still has
 *   another name, moves aside too (`moveAside`): a twin keeps a name only while its entity
 *   wants it, so a stuck entity never blocks another that may have the name.
 */
export type TargetChoice<R extends Owned> =
  | { readonly kind: 'write'; readonly resource: R; readonly adopted: Adoption | undefined }
  | { readonly kind: 'create' }
  | { readonly kind: 'wait'; readonly owner: string; readonly moveAside: R | undefined }
  | { readonly kind: 'problem'; readonly reason: string; readonly moveAside: R | undefined };

/** How to speak of one kind of resource in a problem's reason. */
export interface ResourceWords<R> {
  readonly kind: 'user' | 'group';
  /** `userName` or `displayName`. */
  readonly attribute: string;
  readonly nameOf: (resource: R) => string;
  /** Added to a collision between two live entities, e.g. how to avoid it. */
  readonly collisionHint?: string | undefined;
}

/**
 * Chooses the resource to write to, applying {@link judgeHolder}. `leftoversGo` says whether
 * the deprovisioning of a deleted entity removes its resource (a DELETE), or leaves it holding
 * the name (deactivation).
 */
export function chooseTarget<R extends Owned & { readonly version?: string | undefined }>(
  keycloakId: string,
  wanted: string,
  side: ScimSide<R>,
  leftoversGo: boolean,
  words: ResourceWords<R>,
): TargetChoice<R> {
  const { twin, holder } = side;
  const aside =
    twin !== undefined && !sameName(words.nameOf(twin), movedAsideName(keycloakId))
      ? twin
      : undefined;
  if (holder === undefined || (twin !== undefined && holder.resource.id === twin.id)) {
    if (twin === undefined) return { kind: 'create' };
    const foundBy = side.twinFoundBy ?? 'id map';
    return {
      kind: 'write',
      resource: twin,
      adopted:
        foundBy === 'id map' ? undefined : { foundBy, leftBy: undefined, version: twin.version },
    };
  }
  const verdict = judgeHolder(keycloakId, wanted, holder, leftoversGo);
  const held = `SCIM ${words.attribute} ${JSON.stringify(wanted)} is held by SCIM ${words.kind} ${holder.resource.id}`;
  switch (verdict.kind) {
    case 'free':
      if (twin === undefined) {
        return {
          kind: 'write',
          resource: holder.resource,
          adopted: { foundBy: 'name', leftBy: verdict.leftBy, version: holder.resource.version },
        };
      }
      // The entity has its own twin, so it cannot take a second resource over.
      if (verdict.leftBy !== undefined && leftoversGo) {
        return { kind: 'wait', owner: verdict.leftBy, moveAside: undefined };
      }
      return {
        kind: 'problem',
        moveAside: aside,
        reason:
          verdict.leftBy === undefined
            ? `${held}, which no Keycloak ${words.kind} owns; rename or delete it in the SCIM target`
            : `${held}, left deactivated by deleted Keycloak ${words.kind} ${verdict.leftBy}; delete it in the SCIM target`,
      };
    case 'moving':
      return { kind: 'wait', owner: verdict.owner, moveAside: aside };
    case 'taken':
      return {
        kind: 'problem',
        moveAside: aside,
        reason: `SCIM ${words.attribute} ${JSON.stringify(wanted)} already belongs to Keycloak ${words.kind} ${verdict.owner}; Keycloak ${words.kind} ${keycloakId} cannot have it${words.collisionHint === undefined ? '' : ` (${words.collisionHint})`}`,
      };
  }
}
