import type { Config } from '../src/config.js';
import { keycloakReaderFrom, scimClientFrom } from '../src/app/clients.js';
import type { ScimServerState } from '../packages/scim-server/src/test-api-schema.js';
import { forEachConcurrently } from '../src/sync/resync-pool.js';

/** What one listing of the realm found. */
export interface Listed {
  readonly users: number;
  readonly groups: number;
  readonly members: number;
}

/**
 * The floor's first half: every user, and beside it the group tree and every group's members,
 * listed from Keycloak with the relay's own reader, `concurrency` member listings at a time,
 * as the resync reads them; nothing kept but counts.
 */
export async function listKeycloak(config: Config, concurrency: number): Promise<Listed> {
  const reader = await keycloakReaderFrom(config);
  try {
    let users = 0;
    const listUsers = async (): Promise<void> => {
      for await (const _ of reader.users()) users += 1;
    };
    const groups: string[] = [];
    let members = 0;
    const listGroups = async (): Promise<void> => {
      for await (const group of reader.groups()) groups.push(group.id);
      await forEachConcurrently(groups, concurrency, async (id) => {
        for await (const _ of reader.groupMemberIds(id)) members += 1;
      });
    };
    await Promise.all([listUsers(), listGroups()]);
    return { users, groups: groups.length, members };
  } finally {
    await reader.close();
  }
}

/**
 * The floor's second half: the writes the cold resync made (its result, `state`) made again
 * on an empty SCIM server with the relay's own client at the same concurrency, with no read,
 * lock or ownership check: groups, users, then each group's members in PATCHes of the
 * configured batch size.
 */
export async function writeScim(
  config: Config,
  state: ScimServerState,
  concurrency: number,
): Promise<{ requests: number; phaseSeconds: Record<'groups' | 'users' | 'members', number> }> {
  const client = scimClientFrom(config, {}, { maxConnections: concurrency });
  let requests = 0;
  // Each phase's time, to set beside the cold run's: where the relay's overhead is.
  let clock = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const seconds = Math.round(now - clock) / 1000;
    clock = now;
    return seconds;
  };
  try {
    const groupIds = new Map<string, string>();
    await forEachConcurrently(state.groups, concurrency, async (g) => {
      const created = await client.createGroup({
        displayName: g.displayName,
        ...(g.externalId === undefined ? {} : { externalId: g.externalId }),
      });
      requests += 1;
      groupIds.set(g.id, created.id);
    });
    const groups = lap();
    const userIds = new Map<string, string>();
    await forEachConcurrently(state.users, concurrency, async (u) => {
      const created = await client.createUser({
        userName: u.userName,
        ...(u.externalId === undefined ? {} : { externalId: u.externalId }),
        name: { givenName: u.givenName ?? '', familyName: u.familyName ?? '' },
        emails: u.emails.map((e) => ({
          value: e.value,
          type: 'work',
          primary: e.primary === true,
        })),
        active: u.active,
      });
      requests += 1;
      userIds.set(u.id, created.id);
    });
    const users = lap();
    await forEachConcurrently(state.groups, concurrency, async (g) => {
      const id = groupIds.get(g.id);
      if (id === undefined) return;
      const members = g.members.map((m) => userIds.get(m) ?? m);
      for (let i = 0; i < members.length; i += client.memberBatchSize) {
        await client.patchMembers(id, members.slice(i, i + client.memberBatchSize), []);
        requests += 1;
      }
    });
    return { requests, phaseSeconds: { groups, users, members: lap() } };
  } finally {
    await client.close();
  }
}
