import type GroupRepresentation from '@keycloak/keycloak-admin-client/lib/defs/groupRepresentation.js';
import type UserRepresentation from '@keycloak/keycloak-admin-client/lib/defs/userRepresentation.js';
import { loadDemoRealm, realmFromTemplate } from '../test/support/realm-template.js';
import { masterAdminClient } from '../test/support/test-realm.js';
import { forEachConcurrently } from '../src/sync/resync-pool.js';

/** What the bench realm holds. */
export interface SeedShape {
  readonly users: number;
  readonly groups: number;
  readonly memberships: number;
}

/** The bench realm; a local throwaway server on 127.0.0.1, so a fixed secret does no harm. */
export const BENCH_REALM = 'bench';
export const BENCH_RELAY_SECRET = 'bench-relay-secret-local-only';

/** Bump when the generated realm changes, so a cache of the old shape is not reused. */
export const SEED_FORMAT = 1;

/**
 * Users per partial import. Small: Keycloak imports a batch in one transaction and flushes it
 * at every group a user joins, walking every entity the transaction loaded (the groups
 * included), so a batch's cost grows with its square; at 10,000 groups a batch of 1,000
 * users did not finish in 6 minutes.
 */
const IMPORT_BATCH = 100;
/** Imports in flight: one per core Keycloak has here. */
const IMPORT_CONCURRENCY = 2;

/** The cache key of a shape: the database name the seeded realm is kept under. */
export function seedKey(shape: SeedShape): string {
  return `u${shape.users}_g${shape.groups}_m${shape.memberships}_s${SEED_FORMAT}`;
}

/**
 * The group forest: the first hundredth of the groups (at least one) are roots, and every
 * other group `i` hangs under group `(i - roots) / 9`, so the tree is 9 wide and 3 or 4 deep
 * at 10,000 groups, as a department tree brought from LDAP is. Returns the roots (nested) and
 * every path by index.
 */
export function groupForest(count: number): { roots: GroupRepresentation[]; paths: string[] } {
  const rootCount = Math.max(1, Math.ceil(count / 100));
  const nodes: GroupRepresentation[] = [];
  const paths: string[] = [];
  const roots: GroupRepresentation[] = [];
  for (let i = 0; i < count; i++) {
    const parent = i < rootCount ? undefined : Math.floor((i - rootCount) / 9);
    const name = `g${i}`;
    const path = `${parent === undefined ? '' : paths[parent]}/${name}`;
    const node: GroupRepresentation = { name, path, subGroups: [] };
    nodes.push(node);
    paths.push(path);
    if (parent === undefined) roots.push(node);
    else nodes[parent]?.subGroups?.push(node);
  }
  return { roots, paths };
}

/**
 * User `i`: its memberships are its share of the total (spread evenly), in distinct groups
 * spaced evenly over the forest from a start that moves with `i`.
 */
export function benchUser(
  i: number,
  shape: SeedShape,
  paths: readonly string[],
): UserRepresentation {
  const username = `bench-${String(i).padStart(6, '0')}`;
  const first = Math.floor((i * shape.memberships) / shape.users);
  const count = Math.min(
    Math.floor(((i + 1) * shape.memberships) / shape.users) - first,
    paths.length,
  );
  const step = count === 0 ? 0 : Math.floor(paths.length / count);
  return {
    username,
    email: `${username}@example.test`,
    firstName: 'Bench',
    lastName: `User ${i}`,
    enabled: true,
    groups: Array.from(
      { length: count },
      (_, j) => paths[(i * 7 + j * step) % paths.length] ?? '/g0',
    ),
  };
}

/**
 * Creates the bench realm and fills it by partial import: the forest in one request, then
 * users with their groups in batches; an existing realm (an interrupted seed) is completed. Events are off in this realm: the
 * resync reads none, and a stored admin event per import would hold every imported user.
 */
export async function seedBenchRealm(
  keycloakUrl: string,
  shape: SeedShape,
  report: (line: string) => void,
): Promise<void> {
  const login = { keycloakUrl, adminUsername: 'admin', adminPassword: 'admin' };
  const admin = masterAdminClient(login, BENCH_REALM);
  const realm = realmFromTemplate(await loadDemoRealm(), {
    realm: BENCH_REALM,
    clientSecret: BENCH_RELAY_SECRET,
    availableEventListeners: ['jboss-logging'],
  });
  // An interrupted seed is resumed: what is there already is skipped. A missing realm comes
  // back as null (the client turns the 404 into null), whatever the declared type says.
  const existing: unknown = await admin.realms.findOne({ realm: BENCH_REALM });
  if (existing === undefined || existing === null) {
    await admin.realms.create({ ...realm, eventsEnabled: false, adminEventsEnabled: false });
  } else report(`resuming the seed of realm ${BENCH_REALM}`);
  const { roots, paths } = groupForest(shape.groups);
  await admin.realms.partialImport({
    realm: BENCH_REALM,
    rep: { ifResourceExists: 'SKIP', groups: roots },
  });
  report(`seeded ${paths.length} groups`);
  // Batches go in order, a few at once: below the users there are, less those in flight, every
  // batch is complete, and the rest is imported again with what exists skipped.
  const present = existing === undefined || existing === null ? 0 : await admin.users.count();
  const firstBatch = Math.max(0, Math.floor(present / IMPORT_BATCH) - IMPORT_CONCURRENCY);
  const batches = Array.from(
    { length: Math.max(0, Math.ceil(shape.users / IMPORT_BATCH) - firstBatch) },
    (_, b) => firstBatch + b,
  );
  let done = firstBatch * IMPORT_BATCH;
  const started = performance.now();
  await forEachConcurrently(batches, IMPORT_CONCURRENCY, async (b) => {
    const first = b * IMPORT_BATCH;
    const users = Array.from({ length: Math.min(IMPORT_BATCH, shape.users - first) }, (_, k) =>
      benchUser(first + k, shape, paths),
    );
    await admin.realms.partialImport({
      realm: BENCH_REALM,
      rep: { ifResourceExists: 'SKIP', users },
    });
    done += users.length;
    if (done % 5_000 !== 0 && done !== shape.users) return;
    const rate = Math.round(
      (done - firstBatch * IMPORT_BATCH) / ((performance.now() - started) / 1000),
    );
    report(`seeded ${done} of ${shape.users} users (${rate}/s)`);
  });
}
