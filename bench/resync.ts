/**
 * `npm run bench:resync`: cost of a full resync against a real Keycloak and the project's SCIM
 * server. Seeds a realm (BENCH_USERS users, BENCH_GROUPS nested groups, BENCH_MEMBERSHIPS_PER_USER
 * memberships each) by partial import, then measures a cold resync (everything created), a warm
 * one (no drift), and the floor: only listing Keycloak, plus only writing the same objects to a
 * fresh SCIM server at the same concurrency. Prints a JSON report.
 *
 * RSS is the whole process's, which also hosts the SCIM server and its data; the heap figures
 * are sampled the same way.
 */
import type GroupRepresentation from '@keycloak/keycloak-admin-client/lib/defs/groupRepresentation.js';
import { resyncRunOptions, parseResyncArgs } from '../src/app/resync-command.js';
import { ScimClient } from '../src/scim/scim-client.js';
import { startScimServer } from '../src/scim-server/server.js';
import { ScimServerControl } from '../src/scim-server/control-client.js';
import { forEachConcurrently } from '../src/sync/resync-pool.js';
import { resync, type ResyncReport } from '../src/sync/resync.js';
import { startRelayHarness, type RelayHarness } from '../test/support/relay-harness.js';
import { startTestStack } from '../test/support/test-stack.js';

const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const GROUPS_TOP = 40;
const GROUPS_MID = 4;
const GROUPS_LEAF = 5;
const MEMBERSHIPS_PER_USER = Number(process.env.BENCH_MEMBERSHIPS_PER_USER ?? 5);
const CONCURRENCY = process.env.BENCH_CONCURRENCY ?? '8';
const IMPORT_BATCH = 500;

const say = (line: string): void => {
  console.error(`[bench:resync] ${line}`);
};

/** Runs `work` while sampling RSS and heap every 20 ms; returns its time and the peaks. */
async function measured<T>(work: () => Promise<T>) {
  let rss = process.memoryUsage().rss;
  let heap = process.memoryUsage().heapUsed;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  }, 20);
  const started = performance.now();
  try {
    const result = await work();
    return {
      result,
      seconds: Math.round(performance.now() - started) / 1000,
      peakRssMb: Math.round(rss / 2 ** 20),
      peakHeapMb: Math.round(heap / 2 ** 20),
    };
  } finally {
    clearInterval(timer);
  }
}

/** 40 top-level groups, each with 4 children, each with 5 children: 1,000 groups. */
function groupTree(): { tree: GroupRepresentation[]; paths: string[] } {
  const paths: string[] = [];
  const tree = Array.from({ length: GROUPS_TOP }, (_, t) => {
    const top = `/g${t}`;
    paths.push(top);
    return {
      name: `g${t}`,
      path: top,
      subGroups: Array.from({ length: GROUPS_MID }, (_, m) => {
        const mid = `${top}/m${m}`;
        paths.push(mid);
        return {
          name: `m${m}`,
          path: mid,
          subGroups: Array.from({ length: GROUPS_LEAF }, (_, l) => {
            paths.push(`${mid}/l${l}`);
            return { name: `l${l}`, path: `${mid}/l${l}`, subGroups: [] };
          }),
        };
      }),
    };
  });
  return { tree, paths };
}

async function seed(harness: RelayHarness): Promise<void> {
  const { admin, name: realm } = harness.realm;
  const { tree, paths } = groupTree();
  await admin.realms.partialImport({ realm, rep: { ifResourceExists: 'SKIP', groups: tree } });
  for (let first = 0; first < USERS; first += IMPORT_BATCH) {
    const users = Array.from({ length: Math.min(IMPORT_BATCH, USERS - first) }, (_, k) => {
      const i = first + k;
      const username = `bench-${String(i).padStart(6, '0')}`;
      return {
        username,
        email: `${username}@example.test`,
        firstName: 'Bench',
        lastName: `User ${i}`,
        enabled: true,
        // Spread over the tree, never twice the same group for one user.
        groups: Array.from(
          { length: MEMBERSHIPS_PER_USER },
          (_, j) => paths[(i * 7 + j * 211) % paths.length] ?? '/g0',
        ),
      };
    });
    await admin.realms.partialImport({ realm, rep: { ifResourceExists: 'SKIP', users } });
    say(`seeded ${first + users.length} users`);
  }
}

async function writesSince(control: ScimServerControl, since: number): Promise<number> {
  return (await control.requests({ since })).filter((r) => r.method !== 'GET').length;
}

async function main(): Promise<void> {
  const stack = await startTestStack(process.env, say);
  const harness = await startRelayHarness(stack.facts, {
    prefix: 'bench-resync',
    start: false,
    env: { LOG_LEVEL: 'warn', SCIM_MAX_CONNECTIONS: CONCURRENCY, CONCURRENCY },
  });
  const report: Record<string, unknown> = {
    keycloak: stack.facts.keycloakVersion,
    users: USERS,
    groups: GROUPS_TOP * (1 + GROUPS_MID * (1 + GROUPS_LEAF)),
    membershipsPerUser: MEMBERSHIPS_PER_USER,
    concurrency: Number(CONCURRENCY),
  };
  try {
    const seeding = await measured(() => seed(harness));
    report.seedSeconds = seeding.seconds;
    const { keycloak, scim, store, config } = harness.relay;
    let phases: Record<string, number> = {};
    let phaseStart = 0;
    const options = resyncRunOptions(
      config,
      parseResyncArgs(['--concurrency', CONCURRENCY]),
      (progress) => {
        if (progress.phase in phases) return;
        phases[progress.phase] = Math.round(performance.now() - phaseStart) / 1000;
      },
    );
    const run = (): Promise<ResyncReport> => {
      phases = {};
      phaseStart = performance.now();
      return resync(
        { keycloak, scim, store, reconciler: harness.relay.engine.reconciler },
        options,
      );
    };
    const listKeycloak = async () => {
      let users = 0;
      for await (const _ of keycloak.users()) users += 1;
      const groups: string[] = [];
      for await (const g of keycloak.groups()) groups.push(g.id);
      let members = 0;
      await forEachConcurrently(groups, Number(CONCURRENCY), async (id) => {
        for await (const _ of keycloak.groupMembers(id)) members += 1;
      });
      return { users, groups: groups.length, members };
    };
    // Once before the cold run, so both it and the floor meet Keycloak with warm caches.
    report.firstListingSeconds = (await measured(listKeycloak)).seconds;

    let since = (await harness.control.requests()).at(-1)?.seq ?? 0;
    const cold = await measured(run);
    report.cold = {
      seconds: cold.seconds,
      writes: await writesSince(harness.control, since),
      peakRssMb: cold.peakRssMb,
      peakHeapMb: cold.peakHeapMb,
      users: cold.result.users,
      groups: cold.result.groups,
      memberships: cold.result.memberships,
      failures: cold.result.failures.length,
      phaseStartsAtSeconds: phases,
    };
    say(`cold: ${JSON.stringify(report.cold)}`);

    since = (await harness.control.requests()).at(-1)?.seq ?? 0;
    const warm = await measured(run);
    report.warm = {
      seconds: warm.seconds,
      writes: await writesSince(harness.control, since),
      peakRssMb: warm.peakRssMb,
      peakHeapMb: warm.peakHeapMb,
      unchanged: { users: warm.result.users.unchanged, groups: warm.result.groups.unchanged },
      phaseStartsAtSeconds: phases,
    };
    say(`warm: ${JSON.stringify(report.warm)}`);

    // The floor, part 1: only listing everything from Keycloak, as the resync does.
    const listing = await measured(listKeycloak);

    // The floor, part 2: only writing the same objects to a fresh SCIM server.
    const state = await harness.control.state();
    const target = await startScimServer({ token: 'floor-token', testApi: false });
    const client = new ScimClient({
      baseUrl: target.baseUrl,
      token: 'floor-token',
      timeoutMs: config.scim.timeoutMs,
      connectTimeoutMs: config.scim.connectTimeoutMs,
      maxConnections: Number(CONCURRENCY),
      pageSize: config.scim.pageSize,
      memberBatchSize: config.scim.memberBatchSize,
      retry: config.retry,
      ca: undefined,
    });
    const writing = await measured(async () => {
      const newIds = new Map<string, string>();
      await forEachConcurrently(state.groups, Number(CONCURRENCY), async (g) => {
        await client.createGroup({
          displayName: g.displayName,
          ...(g.externalId === undefined ? {} : { externalId: g.externalId }),
        });
      });
      await forEachConcurrently(state.users, Number(CONCURRENCY), async (u) => {
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
        newIds.set(u.id, created.id);
      });
      const groupIds = new Map<string, string>();
      for await (const g of client.listGroups()) groupIds.set(g.displayName, g.id);
      await forEachConcurrently(state.groups, Number(CONCURRENCY), async (g) => {
        const members = g.members.map((m) => newIds.get(m) ?? m);
        const id = groupIds.get(g.displayName);
        if (id === undefined) return;
        for (let i = 0; i < members.length; i += client.memberBatchSize) {
          await client.patchMembers(id, members.slice(i, i + client.memberBatchSize), []);
        }
      });
    });
    await client.close();
    await target.close();
    const floorSeconds = listing.seconds + writing.seconds;
    report.floor = {
      listKeycloakSeconds: listing.seconds,
      listed: listing.result,
      writeScimSeconds: writing.seconds,
      seconds: Math.round(floorSeconds * 1000) / 1000,
    };
    report.coldOverFloor = Math.round((cold.seconds / floorSeconds) * 100) / 100;
    report.warmOverListing = Math.round((warm.seconds / listing.seconds) * 100) / 100;
    console.log(JSON.stringify(report, null, 2));
  } finally {
    await harness.close();
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
