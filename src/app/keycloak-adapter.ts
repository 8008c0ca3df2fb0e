import type { KeycloakReader as KeycloakAccess } from '../keycloak/keycloak-reader.js';
import type { EventApi } from '../sources/poll-source.js';
import type { KeycloakRealmReader } from '../sync/keycloak-reader.js';
import { namedTree, withAncestorNames } from './group-chain.js';

/**
 * Presents the Keycloak access layer as what reconciles and the poll source need. Both
 * sides keep their own narrow interface, so each can be tested alone. Groups read one by one
 * or as the whole tree come with their ancestors' names, which their SCIM displayName needs.
 */
export function reconcilerView(access: KeycloakAccess): KeycloakRealmReader {
  const read = (id: string) => access.group(id);
  return {
    users: (from) => access.users(from),
    groups: () => namedTree(access.groups(), read),
    user: (id) => access.user(id),
    group: async (id) => {
      const group = await access.group(id);
      return group === undefined ? undefined : withAncestorNames(group, read);
    },
    groupRef: read,
    userGroups: (userId) => access.userGroups(userId),
    descendants: (groupId) => access.descendants(groupId),
    groupMemberIds: (groupId) => access.groupMemberIds(groupId),
  };
}

export function eventView(access: KeycloakAccess): EventApi {
  return {
    adminEvents: (query) => access.adminEvents(query),
    userEvents: (query) => access.userEvents(query),
  };
}
