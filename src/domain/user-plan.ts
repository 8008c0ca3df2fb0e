import type { ScimPatchOperation, ScimUserInput } from '../scim/scim-types.js';
import type { KeycloakUser } from './keycloak-model.js';
import { toScimUser, userChanges, type MappingOptions } from './mapping.js';
import { movedAsideName } from './ownership.js';
import type { ScimUserView } from './scim-views.js';
import { chooseTarget, type Adoption, type ScimSide } from './target-choice.js';

/** Everything the decision about one Keycloak user needs: a slice of both sides. */
export interface UserFacts extends ScimSide<ScimUserView> {
  readonly keycloakId: string;
  /** Keycloak's user; undefined when it is gone. */
  readonly user: KeycloakUser | undefined;
  /** Set when the user exists but is outside the provisioning scope: why it is not provisioned. */
  readonly outOfScope: string | undefined;
}

export interface UserPlanOptions {
  readonly mapping: MappingOptions;
  /** `delete` removes the user's tenant access in Kestra; `deactivate` sets `active=false`. */
  readonly userDeleteMode: 'delete' | 'deactivate';
}

/** What to do about one Keycloak user. Every variant names the user by its Keycloak id. */
export type UserDecision =
  /** Nothing to write. `scimId`: the twin, when the user is provisioned or left inactive. */
  | {
      readonly op: 'none';
      readonly keycloakId: string;
      readonly provisioned: boolean;
      readonly scimId: string | undefined;
      readonly userName: string | undefined;
      /** The twin was found without the id map: remember it there. */
      readonly relink: boolean;
    }
  | { readonly op: 'create'; readonly keycloakId: string; readonly desired: ScimUserInput }
  /** PATCH the attributes that differ on the twin or, with `adopted`, on a resource taken over. */
  | {
      readonly op: 'update';
      readonly keycloakId: string;
      readonly scimId: string;
      readonly desired: ScimUserInput;
      readonly changes: readonly ScimPatchOperation[];
      readonly adopted: Adoption | undefined;
    }
  | {
      readonly op: 'deprovision';
      readonly keycloakId: string;
      readonly scimId: string;
      readonly userName: string;
      readonly how: 'delete' | 'deactivate';
      readonly reason: string;
    }
  /** The userName is held by `owner`, whose own reconcile frees it; try again after it. */
  | {
      readonly op: 'wait';
      readonly keycloakId: string;
      readonly userName: string;
      readonly owner: string;
      readonly moveAside: MoveAside | undefined;
    }
  /** Cannot be provisioned; its twin, if any, moves out of the way of the others. */
  | {
      readonly op: 'problem';
      readonly keycloakId: string;
      readonly userName: string;
      readonly reason: string;
      readonly moveAside?: MoveAside | undefined;
      /** The userName is taken: the problem may go away when its holder gives it up. */
      readonly nameTaken?: boolean | undefined;
    };

/** A rename of the entity's own twin out of the way, see {@link movedAsideName}. */
export interface MoveAside {
  readonly scimId: string;
  readonly name: string;
  readonly changes: readonly ScimPatchOperation[];
}

/** Why an existing or gone user is not provisioned; undefined when it is. */
export function whyUserNotProvisioned(facts: UserFacts): string | undefined {
  if (facts.outOfScope !== undefined) return facts.outOfScope;
  if (facts.user === undefined) return 'gone from Keycloak';
  if (facts.user.serviceAccountClientId !== undefined) {
    return `service account of client ${facts.user.serviceAccountClientId}`;
  }
  return undefined;
}

/**
 * Decides what to write for one Keycloak user: the single decision shared by the event path
 * (on a slice it reads for the hint) and the full reconcile (on slices of what it listed).
 * Pure: same facts, same decision.
 */
export function planUser(facts: UserFacts, options: UserPlanOptions): UserDecision {
  const { keycloakId, twin } = facts;
  const mapping = facts.user === undefined ? undefined : toScimUser(facts.user, options.mapping);
  // A user that cannot be mapped (no email under USERNAME_SOURCE=email) is not provisioned:
  // its twin goes, and without one it is a problem an operator should see.
  const notProvisioned =
    whyUserNotProvisioned(facts) ?? (mapping?.ok === false ? mapping.reason : undefined);
  if (notProvisioned !== undefined || facts.user === undefined || mapping?.ok !== true) {
    if (twin === undefined) {
      return mapping?.ok === false && whyUserNotProvisioned(facts) === undefined
        ? {
            op: 'problem',
            keycloakId,
            userName: facts.user?.username ?? keycloakId,
            reason: mapping.reason,
          }
        : none(keycloakId, false, undefined, false);
    }
    if (options.userDeleteMode === 'deactivate' && twin.active === false) {
      return none(keycloakId, false, twin, facts.twinFoundBy !== 'id map');
    }
    return {
      op: 'deprovision',
      keycloakId,
      scimId: twin.id,
      userName: twin.userName,
      how: options.userDeleteMode,
      reason: notProvisioned ?? 'gone from Keycloak',
    };
  }

  const desired = mapping.resource;
  const choice = chooseTarget(
    keycloakId,
    desired.userName,
    facts,
    options.userDeleteMode === 'delete',
    { kind: 'user', attribute: 'userName', nameOf: (u) => u.userName },
  );
  switch (choice.kind) {
    case 'create':
      return { op: 'create', keycloakId, desired };
    case 'write': {
      const changes = userChanges(choice.resource, desired);
      if (changes.length === 0)
        return none(keycloakId, true, choice.resource, choice.adopted !== undefined);
      return {
        op: 'update',
        keycloakId,
        scimId: choice.resource.id,
        desired,
        changes,
        adopted: choice.adopted,
      };
    }
    case 'wait':
      return {
        op: 'wait',
        keycloakId,
        userName: desired.userName,
        owner: choice.owner,
        moveAside: moveAside(keycloakId, choice.moveAside, 'userName'),
      };
    case 'problem':
      return {
        op: 'problem',
        keycloakId,
        userName: desired.userName,
        reason: choice.reason,
        moveAside: moveAside(keycloakId, choice.moveAside, 'userName'),
        nameTaken: true,
      };
  }
}

function none(
  keycloakId: string,
  provisioned: boolean,
  twin: ScimUserView | undefined,
  relink: boolean,
): UserDecision {
  return {
    op: 'none',
    keycloakId,
    provisioned,
    scimId: twin?.id,
    userName: twin?.userName,
    relink,
  };
}

/** The rename that moves an entity's twin out of the way; see {@link movedAsideName}. */
export function moveAside(
  keycloakId: string,
  twin: { readonly id: string } | undefined,
  attribute: 'userName' | 'displayName',
): MoveAside | undefined {
  if (twin === undefined) return undefined;
  const name = movedAsideName(keycloakId);
  return { scimId: twin.id, name, changes: [{ op: 'replace', path: attribute, value: name }] };
}
