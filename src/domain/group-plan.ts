import type { ScimGroupInput, ScimPatchOperation } from '../scim/scim-types.js';
import type { KeycloakGroup } from './keycloak-model.js';
import { groupChanges, toScimGroup, type MappingOptions } from './mapping.js';
import type { ScimGroupView } from './scim-views.js';
import { chooseTarget, type Adoption, type ScimSide } from './target-choice.js';
import { moveAside, type MoveAside } from './user-plan.js';

/** Everything the decision about one Keycloak group needs: a slice of both sides. */
export interface GroupFacts extends ScimSide<ScimGroupView> {
  readonly keycloakId: string;
  /** Keycloak's group; undefined when it is gone (maybe with an ancestor). */
  readonly group: KeycloakGroup | undefined;
  /** Set when the group exists but is outside SCOPE_GROUP_PATH: why it is not provisioned. */
  readonly outOfScope: string | undefined;
}

/** What to do about one Keycloak group; groups are always deleted when deprovisioned. */
export type GroupDecision =
  | {
      readonly op: 'none';
      readonly keycloakId: string;
      readonly provisioned: boolean;
      readonly scimId: string | undefined;
      readonly displayName: string | undefined;
      readonly parentId: string | undefined;
      readonly relink: boolean;
    }
  | {
      readonly op: 'create';
      readonly keycloakId: string;
      readonly parentId: string | undefined;
      readonly desired: ScimGroupInput;
    }
  | {
      readonly op: 'update';
      readonly keycloakId: string;
      readonly parentId: string | undefined;
      readonly scimId: string;
      readonly desired: ScimGroupInput;
      readonly changes: readonly ScimPatchOperation[];
      readonly adopted: Adoption | undefined;
      /** The twin's displayName when this update renames it, for reports. */
      readonly renamedFrom?: string | undefined;
    }
  | {
      readonly op: 'deprovision';
      readonly keycloakId: string;
      readonly scimId: string;
      readonly displayName: string;
      readonly reason: string;
    }
  | {
      readonly op: 'wait';
      readonly keycloakId: string;
      readonly displayName: string;
      readonly owner: string;
      readonly moveAside: MoveAside | undefined;
    }
  | {
      readonly op: 'problem';
      readonly keycloakId: string;
      readonly displayName: string;
      readonly reason: string;
      readonly moveAside?: MoveAside | undefined;
      /** The displayName is taken: the problem may go away when its holder gives it up. */
      readonly nameTaken?: boolean | undefined;
    };

export interface GroupPlanOptions {
  readonly mapping: MappingOptions;
}

/**
 * Decides what to write for one Keycloak group: the single decision shared by the event path
 * and the full reconcile. Pure: same facts, same decision.
 */
export function planGroup(facts: GroupFacts, options: GroupPlanOptions): GroupDecision {
  const { keycloakId, group, twin } = facts;
  if (group === undefined || facts.outOfScope !== undefined) {
    if (twin === undefined) return none(keycloakId, false, undefined, undefined, false);
    return {
      op: 'deprovision',
      keycloakId,
      scimId: twin.id,
      displayName: twin.displayName,
      reason: facts.outOfScope ?? 'gone from Keycloak',
    };
  }

  const desired = toScimGroup(group, options.mapping);
  const { parentId } = group;
  const choice = chooseTarget(keycloakId, desired.displayName, facts, true, {
    kind: 'group',
    attribute: 'displayName',
    nameOf: (g) => g.displayName,
    collisionHint:
      options.mapping.groupNameSource === 'name'
        ? 'GROUP_NAME_SOURCE=path keeps same-named groups apart'
        : undefined,
  });
  switch (choice.kind) {
    case 'create':
      return { op: 'create', keycloakId, parentId, desired };
    case 'write': {
      const changes = groupChanges(choice.resource, desired);
      if (changes.length === 0)
        return none(keycloakId, true, choice.resource, parentId, choice.adopted !== undefined);
      return {
        op: 'update',
        keycloakId,
        parentId,
        scimId: choice.resource.id,
        desired,
        changes,
        adopted: choice.adopted,
        renamedFrom:
          choice.resource.displayName === desired.displayName
            ? undefined
            : choice.resource.displayName,
      };
    }
    case 'wait':
      return {
        op: 'wait',
        keycloakId,
        displayName: desired.displayName,
        owner: choice.owner,
        moveAside: moveAside(keycloakId, choice.moveAside, 'displayName'),
      };
    case 'problem':
      return {
        op: 'problem',
        keycloakId,
        displayName: desired.displayName,
        reason: choice.reason,
        moveAside: moveAside(keycloakId, choice.moveAside, 'displayName'),
        nameTaken: true,
      };
  }
}

function none(
  keycloakId: string,
  provisioned: boolean,
  twin: ScimGroupView | undefined,
  parentId: string | undefined,
  relink: boolean,
): GroupDecision {
  return {
    op: 'none',
    keycloakId,
    provisioned,
    scimId: twin?.id,
    displayName: twin?.displayName,
    parentId,
    relink,
  };
}
