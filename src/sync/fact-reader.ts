import type { GroupFacts } from '../domain/group-plan.js';
import type { KeycloakGroup, KeycloakGroupRef, KeycloakUser } from '../domain/keycloak-model.js';
import { toScimGroup, toScimUser, type MappingOptions } from '../domain/mapping.js';
import { ownerOf, sameName, type Holder } from '../domain/ownership.js';
import type { ScimGroupView, ScimUserView } from '../domain/scim-views.js';
import { groupInScope, scopesUsers, userInScope, type Scope } from '../domain/scope.js';
import type { ScimSide } from '../domain/target-choice.js';
import type { UserFacts } from '../domain/user-plan.js';
import type { ScimClient } from '../scim/scim-client.js';
import type { ScimGroup, ScimUser } from '../scim/scim-types.js';
import type { StateStore } from '../state/state-store.js';
import type { KeycloakReader } from './keycloak-reader.js';

/** Keycloak's side of one user: the user, and its direct groups when they were needed. */
export interface KeycloakUserSide {
  readonly user: KeycloakUser | undefined;
  /** Read when the scope depends on them; undefined otherwise. */
  readonly directGroups: readonly KeycloakGroupRef[] | undefined;
  readonly outOfScope: string | undefined;
}

/** Keycloak's side of one group. */
export interface KeycloakGroupSide {
  readonly group: KeycloakGroup | undefined;
  readonly outOfScope: string | undefined;
}

/**
 * How to read the SCIM side's name holder: `exhaustive` compares every resource's name here.
 * `onConflict` leaves the name of an entity with no twin unlooked-up: the create that follows
 * is refused with 409 when a resource holds the name, and only then is the holder read and
 * judged. A free name, the common case of a new entity, then costs no read at all, and no
 * resource is ever taken over without its owner judged: a POST writes to no existing resource.
 */
export interface NameLookup {
  readonly exhaustive: boolean;
  readonly onConflict?: boolean | undefined;
}

/**
 * Reads the slice of Keycloak and SCIM that one entity's decision needs: what the full
 * reconcile gets from its listings, the event path gets from these reads. Filter hits are
 * checked by the SCIM client; ownership comes from the id map and `externalId` as
 * `ownerOf` says.
 */
export class FactReader {
  constructor(
    private readonly keycloak: KeycloakReader,
    private readonly scim: ScimClient,
    private readonly store: StateStore,
    private readonly options: {
      readonly mapping: MappingOptions;
      readonly scope: Scope;
      /** A twin the id map names answered 404: the SCIM side may have lost what it held. */
      readonly onTwinMissing?: ((kind: 'user' | 'group', scimId: string) => void) | undefined;
    },
  ) {}

  async keycloakUser(keycloakId: string): Promise<KeycloakUserSide> {
    const user = await this.keycloak.user(keycloakId);
    if (user === undefined || !scopesUsers(this.options.scope)) {
      return { user, directGroups: undefined, outOfScope: undefined };
    }
    const directGroups = await this.userGroups(keycloakId);
    const inScope = userInScope(
      this.options.scope,
      directGroups.map((g) => g.path),
    );
    return {
      user,
      directGroups,
      outOfScope: inScope ? undefined : 'not a member of the groups SCOPE_GROUPS names',
    };
  }

  async userGroups(keycloakId: string): Promise<KeycloakGroupRef[]> {
    const groups: KeycloakGroupRef[] = [];
    for await (const group of this.keycloak.userGroups(keycloakId)) groups.push(group);
    return groups;
  }

  async keycloakGroup(keycloakId: string): Promise<KeycloakGroupSide> {
    const group = await this.keycloak.group(keycloakId);
    return {
      group,
      outOfScope:
        group !== undefined && !groupInScope(this.options.scope, group.path)
          ? 'outside SCOPE_GROUP_PATH'
          : undefined,
    };
  }

  /** The userName a Keycloak user wants on the SCIM side; undefined when not provisioned. */
  wantedUserName(side: KeycloakUserSide): string | undefined {
    if (side.user === undefined || side.outOfScope !== undefined) return undefined;
    if (side.user.serviceAccountClientId !== undefined) return undefined;
    const mapped = toScimUser(side.user, this.options.mapping);
    return mapped.ok ? mapped.resource.userName : undefined;
  }

  wantedDisplayName(side: KeycloakGroupSide): string | undefined {
    if (side.group === undefined || side.outOfScope !== undefined) return undefined;
    return toScimGroup(side.group, this.options.mapping).displayName;
  }

  /**
   * Whether the SCIM user is there (with access to the tenant, in Kestra). A twin found gone is
   * left for the user's reconcile to report and put back.
   */
  async userTwinPresent(scimId: string): Promise<boolean> {
    return (await this.scim.getUser(scimId)) !== undefined;
  }

  /** The facts `planUser` decides on. */
  async userFacts(
    keycloakId: string,
    side: KeycloakUserSide,
    lookup: NameLookup,
  ): Promise<UserFacts> {
    const wanted = this.wantedUserName(side);
    const scim = await this.scimSide<ScimUser, ScimUserView>({
      keycloakId,
      wanted,
      lookup,
      kind: 'user',
      link: this.store.user(keycloakId)?.scimId,
      get: (id) => this.scim.getUser(id),
      byExternalId: () => this.scim.findUserByExternalId(keycloakId),
      byName: (name) => this.scim.findUserByUserName(name, lookup),
      nameOf: (u) => u.userName,
      mappedTo: (scimId) => this.store.userByScimId(scimId)?.keycloakId,
      linkOf: (id) => this.store.user(id)?.scimId,
      view: userView,
      ownerWants: async (owner) => {
        const ownerSide = await this.keycloakUser(owner);
        return { live: ownerSide.user !== undefined, wants: this.wantedUserName(ownerSide) };
      },
    });
    return { keycloakId, user: side.user, outOfScope: side.outOfScope, ...scim };
  }

  /** The facts `planGroup` decides on. */
  async groupFacts(
    keycloakId: string,
    side: KeycloakGroupSide,
    lookup: NameLookup,
  ): Promise<GroupFacts> {
    const wanted = this.wantedDisplayName(side);
    const scim = await this.scimSide<ScimGroup, ScimGroupView>({
      keycloakId,
      wanted,
      lookup,
      kind: 'group',
      link: this.store.group(keycloakId)?.scimId,
      get: (id) => this.scim.getGroup(id, { withMembers: false }),
      byExternalId: () => this.scim.findGroupByExternalId(keycloakId),
      byName: (name) => this.scim.findGroupByDisplayName(name, lookup),
      nameOf: (g) => g.displayName,
      mappedTo: (scimId) => this.store.groupByScimId(scimId)?.keycloakId,
      linkOf: (id) => this.store.group(id)?.scimId,
      view: groupView,
      ownerWants: async (owner) => {
        const ownerSide = await this.keycloakGroup(owner);
        return { live: ownerSide.group !== undefined, wants: this.wantedDisplayName(ownerSide) };
      },
    });
    return { keycloakId, group: side.group, outOfScope: side.outOfScope, ...scim };
  }

  private async scimSide<
    R extends { id: string; externalId?: string | undefined },
    V extends { id: string; externalId?: string | undefined },
  >(how: {
    readonly kind: 'user' | 'group';
    readonly keycloakId: string;
    readonly wanted: string | undefined;
    readonly lookup: NameLookup;
    readonly link: string | undefined;
    readonly get: (scimId: string) => Promise<R | undefined>;
    readonly byExternalId: () => Promise<R | undefined>;
    readonly byName: (name: string) => Promise<R | undefined>;
    readonly nameOf: (resource: R) => string;
    readonly mappedTo: (scimId: string) => string | undefined;
    readonly linkOf: (keycloakId: string) => string | undefined;
    readonly view: (resource: R) => V;
    readonly ownerWants: (owner: string) => Promise<{ live: boolean; wants: string | undefined }>;
  }): Promise<ScimSide<V>> {
    const { keycloakId } = how;
    const owner = (r: R): string | undefined => ownerOf(r, how.mappedTo(r.id));
    let twin: R | undefined;
    let foundBy: ScimSide<V>['twinFoundBy'];
    if (how.link !== undefined) {
      twin = await how.get(how.link);
      foundBy = 'id map';
      if (twin === undefined) this.options.onTwinMissing?.(how.kind, how.link);
    }
    if (twin === undefined) {
      const carrier = await how.byExternalId();
      if (carrier !== undefined && owner(carrier) === keycloakId) {
        twin = carrier;
        foundBy = 'externalId';
      }
    }
    let holder: Holder<V> | undefined;
    // A twin being renamed always has its new name looked up: Kestra answers 409 on POST only.
    const deferred = twin === undefined && how.lookup.onConflict === true;
    if (
      how.wanted !== undefined &&
      !deferred &&
      (twin === undefined || !sameName(how.nameOf(twin), how.wanted))
    ) {
      const found = await how.byName(how.wanted);
      const foundOwner = found === undefined ? undefined : owner(found);
      if (found !== undefined && found.id !== twin?.id) {
        if (foundOwner === keycloakId && twin === undefined) {
          // Ours by its externalId, found by name where the server cannot filter on externalId.
          twin = found;
          foundBy = 'name';
        } else if (foundOwner === undefined || foundOwner === keycloakId) {
          holder = {
            resource: how.view(found),
            owner: foundOwner,
            ownerLive: false,
            ownersTwin: false,
            ownerWants: undefined,
          };
        } else {
          const { live, wants } = await how.ownerWants(foundOwner);
          const ownersLink = how.linkOf(foundOwner);
          holder = {
            resource: how.view(found),
            owner: foundOwner,
            ownerLive: live,
            ownersTwin:
              ownersLink === undefined ? found.externalId === foundOwner : ownersLink === found.id,
            ownerWants: wants,
          };
        }
      }
    }
    return {
      twin: twin === undefined ? undefined : how.view(twin),
      twinFoundBy: twin === undefined ? undefined : foundBy,
      holder,
    };
  }
}

/** A SCIM user as the plan reads it, with its ETag. */
export function userView(user: ScimUser): ScimUserView {
  return {
    id: user.id,
    userName: user.userName,
    externalId: user.externalId,
    name: user.name,
    emails: user.emails,
    active: user.active,
    version: user.meta?.version,
  };
}

/** A SCIM group as the plan reads it, with its ETag. */
export function groupView(group: ScimGroup): ScimGroupView {
  return {
    id: group.id,
    displayName: group.displayName,
    externalId: group.externalId,
    version: group.meta?.version,
  };
}
