import type { KeycloakReader as KeycloakAccess } from '../keycloak/keycloak-reader.js';
import type { EventApi } from '../sources/poll-source.js';
import type { KeycloakRealmReader } from '../sync/keycloak-reader.js';

/**
 * Presents the Keycloak access layer as what reconciles and the poll source need. Both
 * sides keep their own narrow interface, so each can be tested alone.
 */
export function reconcilerView(access: KeycloakAccess): KeycloakRealmReader {
  return {
    users: (from) => access.users(from),
    groups: () => access.groups(),
    user: (id) => access.user(id),
    group: (id) => access.group(id),
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
