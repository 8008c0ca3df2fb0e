/**
 * `npm run bench:resync-memory`: what a full reconcile's read-and-plan holds in memory at 100,000
 * users, without Keycloak or a SCIM server: both sides are generated in this process, handed to
 * the resync as readers, and the resync plans in dry-run mode (the plan is all the writes need;
 * the listings are garbage once it is made). Prints the heap (after a forced GC) holding the
 * plan, and the process's peak RSS, for a cold realm (SCIM empty) and a warm one (SCIM in step).
 *
 * Run with `node --expose-gc --import tsx bench/resync-memory.ts [users] [groups] [memberships]`.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KeycloakGroup, KeycloakUser } from '../src/domain/keycloak-model.js';
import type { ScimClient } from '../src/scim/scim-client.js';
import type { ScimGroup, ScimUser } from '../src/scim/scim-types.js';
import { StateStore } from '../src/state/state-store.js';
import type { KeycloakRealmReader } from '../src/sync/keycloak-reader.js';
import { Reconciler } from '../src/sync/reconciler.js';
import { resync } from '../src/sync/resync.js';
import { DEFAULT_DELETION_GUARD } from '../src/domain/resync-plan.js';

const [users = 100_000, groupCount = 10_000, memberships = 500_000] = process.argv
  .slice(2)
  .filter((arg) => !arg.startsWith('--'))
  .map(Number);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run node with --expose-gc');

function mb(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}
function peakRssMb(): number {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return Math.round(Number(line?.replace(/\D+/g, '') ?? 0) / 1024);
}
function heapMb(): number {
  gc?.();
  return mb(process.memoryUsage().heapUsed);
}

// Keycloak: users, a forest of groups nine wide, memberships spread evenly.
const kcUsers: KeycloakUser[] = Array.from({ length: users }, (_, i) => ({
  id: randomUUID(),
  username: `user-${String(i).padStart(6, '0')}`,
  email: `user-${String(i).padStart(6, '0')}@example.test`,
  firstName: `First${i}`,
  lastName: `Last${i}`,
  enabled: true,
}));
const kcGroups: KeycloakGroup[] = [];
for (let i = 0; i < groupCount; i++) {
  const parent = i < 9 ? undefined : kcGroups[Math.floor((i - 9) / 9)];
  const name = `group-${i}`;
  kcGroups.push({
    id: randomUUID(),
    name,
    path: parent === undefined ? `/${name}` : `${parent.path}/${name}`,
    parentId: parent?.id,
    names: [...(parent?.names ?? []), name],
  });
}
const members = new Map<string, string[]>(kcGroups.map((g) => [g.id, []]));
for (let m = 0; m < memberships; m++) {
  const group = kcGroups[m % groupCount];
  const user = kcUsers[(m * 7919) % users];
  if (group !== undefined && user !== undefined) members.get(group.id)?.push(user.id);
}

/** Items as a listing yields them: a turn of the event loop per page of 100. */
async function* stream<T>(items: readonly T[]): AsyncGenerator<T> {
  for (let i = 0; i < items.length; i += 100) {
    await new Promise((resolve) => setImmediate(resolve));
    yield* items.slice(i, i + 100);
  }
}

const keycloak: KeycloakRealmReader = {
  users: () => stream(kcUsers),
  groups: () => stream(kcGroups),
  groupMemberIds: (id) => stream(members.get(id) ?? []),
  user: () => Promise.reject(new Error('not read in a dry run')),
  group: () => Promise.reject(new Error('not read in a dry run')),
  groupRef: () => Promise.reject(new Error('not read in a dry run')),
  async *userGroups() {},
  async *descendants() {},
};

async function measure(label: string, warm: boolean): Promise<void> {
  const store = StateStore.open(':memory:');
  const scimUsers: ScimUser[] = [];
  const scimGroups: ScimGroup[] = [];
  if (warm) {
    const scimIdOf = new Map<string, string>();
    store.transaction(() => {
      for (const u of kcUsers) {
        const id = randomUUID();
        scimIdOf.set(u.id, id);
        scimUsers.push({
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          id,
          userName: u.username,
          externalId: u.id,
          name: { givenName: u.firstName ?? '', familyName: u.lastName ?? '' },
          emails: [{ value: u.email ?? '', type: 'work', primary: true }],
          active: true,
          meta: { version: 'W/"1"' },
        } as ScimUser);
        store.putUser({ keycloakId: u.id, scimId: id, userName: u.username });
      }
      for (const g of kcGroups) {
        const id = randomUUID();
        scimGroups.push({
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
          id,
          displayName: g.path,
          externalId: g.id,
          members: (members.get(g.id) ?? []).map((m) => ({ value: scimIdOf.get(m) ?? m })),
          meta: { version: 'W/"1"' },
        } as ScimGroup);
        store.putGroup({ keycloakId: g.id, scimId: id, displayName: g.path, parentId: g.parentId });
      }
    });
  }
  const scim = {
    listUsers: () => stream(scimUsers),
    listGroups: () => stream(scimGroups),
  } as unknown as ScimClient;
  const options = {
    mapping: { usernameSource: 'username', groupNameSource: 'path' },
    userDeleteMode: 'delete',
    membershipMode: 'direct',
  } as const;
  const reconciler = new Reconciler(keycloak, scim, store, options);
  const before = heapMb();
  const report = await resync(
    { keycloak, scim, store, reconciler },
    {
      ...options,
      scope: 'all',
      prune: true,
      guard: DEFAULT_DELETION_GUARD,
      confirmed: false,
      dryRun: true,
      concurrency: 8,
    },
  );
  const holdingPlan = heapMb();
  console.log(
    JSON.stringify({
      label,
      users,
      groups: groupCount,
      memberships,
      heapBeforeMb: before,
      heapHoldingPlanMb: holdingPlan,
      planMb: holdingPlan - before,
      created: report.users.created,
      unchanged: report.users.unchanged,
      peakRssMb: peakRssMb(),
    }),
  );
  await store.close();
}

console.log(JSON.stringify({ heapOfInputsMb: heapMb(), rssMb: mb(process.memoryUsage().rss) }));
await measure(process.argv.includes('--warm') ? 'warm' : 'cold', process.argv.includes('--warm'));
