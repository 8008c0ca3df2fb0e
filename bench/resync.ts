/**
 * `npm run bench:resync -- --users 100000 --groups 10000 --memberships 500000`: the cost of a
 * full resync of a large realm against a real Keycloak (on PostgreSQL) and the project's SCIM
 * server, each in a process of its own.
 *
 * The relay runs as the real CLI (`resync`, then `run`) in a child process, so its RSS is its
 * own: sampled from /proc with the kernel's high-water mark. Measured, in one run: a cold resync
 * (everything created), a warm one (no drift: must write nothing), the floor (the same Keycloak
 * listing with the relay's reader, plus the cold run's writes made again on an empty SCIM server
 * with the relay's client, no reads or checks, each half in a process of its own), and `run`
 * idle after them (steady-state RSS).
 *
 * The seeded realm is cached as a PostgreSQL database per shape (see keycloak-cache.ts): only
 * the first run of a shape seeds. Prints progress to stderr and a JSON report to stdout.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadConfig } from '../src/config.js';
import { freePort } from '../test/support/free-port.js';
import { RELAY_CLIENT_ID } from '../test/support/realm-template.js';
import { startCachedKeycloak } from './resync-keycloak.js';
import { listKeycloak } from './resync-floor.js';
import { idleRun, resyncOnce } from './resync-relay.js';
import {
  BENCH_REALM,
  BENCH_RELAY_SECRET,
  seedBenchRealm,
  seedKey,
  type SeedShape,
} from './resync-seed.js';
import { buildRelay, runMeasured, spawnTs } from './resync-child.js';
import { startScimServerProcess, type ResyncScimServer } from './resync-scim.js';

const USAGE = `Usage: npm run bench:resync -- [options]

  --users N          Keycloak users (default BENCH_USERS, else 10000)
  --groups N         groups, in a forest 9 wide (default BENCH_GROUPS, else users / 10)
  --memberships N    direct memberships in all (default BENCH_MEMBERSHIPS, else users * 5)
  --concurrency N    the resync's --concurrency (default BENCH_CONCURRENCY, else 8)
  --idle-seconds N   how long to watch \`run\` idle after the resyncs (default 60; 0: skip)
  --repeat N         cold run and floor N times from empty, and report their medians (default 1)
  --reseed           seed again instead of starting from the cached database
  --seed-only        seed (or find) the cached database and stop
  --no-warm-up       skip the listings that warm Keycloak up before the cold run`;

function options() {
  const { values } = parseArgs({
    options: {
      users: { type: 'string' },
      groups: { type: 'string' },
      memberships: { type: 'string' },
      concurrency: { type: 'string' },
      'idle-seconds': { type: 'string' },
      repeat: { type: 'string' },
      reseed: { type: 'boolean', default: false },
      'no-warm-up': { type: 'boolean', default: false },
      'seed-only': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const whole = (flag: string, text: string | undefined, fallback: number): number => {
    if (text === undefined || text === '') return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`--${flag}: "${text}" is not a whole number`);
    return n;
  };
  const env = process.env;
  const users = whole('users', values.users ?? env.BENCH_USERS, 10_000);
  return {
    help: values.help,
    shape: {
      users,
      groups: Math.max(
        1,
        whole('groups', values.groups ?? env.BENCH_GROUPS, Math.ceil(users / 10)),
      ),
      memberships: whole('memberships', values.memberships ?? env.BENCH_MEMBERSHIPS, users * 5),
    } satisfies SeedShape,
    concurrency: Math.max(1, whole('concurrency', values.concurrency ?? env.BENCH_CONCURRENCY, 8)),
    idleSeconds: whole('idle-seconds', values['idle-seconds'], 60),
    repeat: Math.max(1, whole('repeat', values.repeat, 1)),
    reseed: values.reseed,
    seedOnly: values['seed-only'],
    warmUp: !values['no-warm-up'],
  };
}

const say = (line: string): void => {
  console.error(`[bench:resync ${new Date().toISOString().slice(11, 19)}] ${line}`);
};

/** The 1-minute load average, reported beside each figure: this machine is shared. */
const load = (): number => Math.round((loadavg()[0] ?? 0) * 100) / 100;

const round = (n: number): number => Math.round(n * 1000) / 1000;

async function main(): Promise<void> {
  const opts = options();
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const { shape, concurrency } = opts;
  say(`shape ${JSON.stringify(shape)}, concurrency ${concurrency}, load ${load()}`);
  const started = await startCachedKeycloak({
    cacheKey: seedKey(shape),
    reseed: opts.reseed,
    seed: (url) => seedBenchRealm(url, shape, say),
    report: say,
  });
  const { keycloak } = started;
  if (opts.seedOnly) {
    await keycloak.close();
    return;
  }
  const cli = await buildRelay(say);
  const target = await startScimServerProcess();
  const floorTarget = await startScimServerProcess();
  const stateDir = mkdtempSync(join(tmpdir(), 'bench-resync-'));
  const relayEnv = (scim: { baseUrl: string; token: string }): Record<string, string> => ({
    KEYCLOAK_URL: keycloak.url,
    KEYCLOAK_REALM: BENCH_REALM,
    KEYCLOAK_CLIENT_ID: RELAY_CLIENT_ID,
    KEYCLOAK_CLIENT_SECRET: BENCH_RELAY_SECRET,
    SCIM_URL: scim.baseUrl,
    SCIM_TOKEN: scim.token,
    STATE_DIR: stateDir,
    LOG_LEVEL: 'warn',
    CONCURRENCY: String(concurrency),
    SCIM_MAX_CONNECTIONS: String(concurrency),
  });
  const report: Record<string, unknown> = {
    keycloak: keycloak.version,
    ...shape,
    concurrency,
    seed: { seeded: started.seeded, seconds: started.seedSeconds, load: load() },
  };
  try {
    const env = relayEnv(target);
    const config = loadConfig(env);
    // Before the cold run, so that it and the floor both meet a Keycloak with warm caches and
    // compiled code: its first listing of a realm took 12.8 s here where the floor's, two
    // listings later, took 4.8 s. Listed again until two listings agree within a tenth.
    if (opts.warmUp) {
      const listings: { seconds: number; load: number }[] = [];
      const settled = (): boolean => {
        const [before, last] = listings.slice(-2).map((l) => l.seconds);
        return before !== undefined && last !== undefined && last > before * 0.9;
      };
      while (listings.length < MAX_WARM_UP_LISTINGS && !settled()) {
        const t = performance.now();
        await listKeycloak(config, concurrency);
        listings.push({ seconds: round((performance.now() - t) / 1000), load: load() });
        say(`warm-up listing ${listings.length}: ${JSON.stringify(listings.at(-1))}`);
      }
      report.warmUpListings = listings;
    }

    // Keycloak's listing of one realm varies by a quarter from run to run here: with
    // --repeat, the ratio that counts is the median of the rounds, each from empty.
    const rounds: Round[] = [];
    for (let n = 1; n <= opts.repeat; n++) {
      if (n > 1) {
        await Promise.all([target.control.reset(), floorTarget.control.reset()]);
        rmSync(stateDir, { recursive: true, force: true });
        mkdirSync(stateDir);
      }
      const result = await coldAndFloor(cli, env, relayEnv(floorTarget), target, concurrency);
      rounds.push(result);
      say(`round ${n} of ${opts.repeat}: cold over floor ${result.coldOverFloor}`);
    }
    const last = rounds.at(-1);
    if (last === undefined) throw new Error('no round ran');
    report.cold = last.cold;
    report.floor = last.floor;
    report.coldOverFloor = last.coldOverFloor;
    if (rounds.length > 1) {
      report.rounds = rounds.map((r) => ({
        coldSeconds: r.cold.seconds,
        floorSeconds: r.floor.seconds,
        coldOverFloor: r.coldOverFloor,
      }));
      report.median = {
        coldSeconds: median(rounds.map((r) => r.cold.seconds)),
        floorSeconds: median(rounds.map((r) => r.floor.seconds)),
        coldOverFloor: median(rounds.map((r) => r.coldOverFloor)),
      };
      say(`medians of ${rounds.length} rounds: ${JSON.stringify(report.median)}`);
    }
    const listSeconds = last.floor.listKeycloakSeconds;
    await floorTarget.stop();

    const warm = await resyncOnce(cli, env, concurrency, target.control);
    report.warm = { ...warm, load: load() };
    say(`warm: ${JSON.stringify(report.warm)}`);
    report.warmOverListing = round(warm.seconds / listSeconds);

    if (opts.idleSeconds > 0) {
      const port = await freePort();
      report.run = {
        ...(await idleRun(
          cli,
          { ...env, HTTP_PORT: String(port) },
          port,
          opts.idleSeconds,
          target.control,
          say,
        )),
        load: load(),
      };
      say(`run: ${JSON.stringify(report.run)}`);
    }
    console.log(JSON.stringify(report, null, 2));
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
    await Promise.allSettled([target.stop(), floorTarget.stop()]);
    await keycloak.close();
  }
}

/** One cold run from empty, and its floor: the same listing and the same writes. */
interface Round {
  readonly cold: Awaited<ReturnType<typeof resyncOnce>> & { readonly load: number };
  readonly floor: {
    readonly seconds: number;
    readonly listKeycloakSeconds: number;
    readonly listed: z.infer<typeof floorListing>['listed'];
    readonly writeScimSeconds: number;
    readonly writePhaseSeconds: z.infer<typeof floorWriting>['phaseSeconds'];
    readonly writes: number;
    readonly load: readonly number[];
  };
  readonly coldOverFloor: number;
}

async function coldAndFloor(
  cli: string,
  env: Record<string, string>,
  floorEnv: Record<string, string>,
  target: ResyncScimServer,
  concurrency: number,
): Promise<Round> {
  const cold = { ...(await resyncOnce(cli, env, concurrency, target.control)), load: load() };
  say(`cold: ${JSON.stringify(cold)}`);
  // The floor before the warm run: on a busy machine a long bench may have to be cut short,
  // and the cold run's ratio to its floor is the figure that matters most.
  const listing = floorListing.parse(await floorHalf(['list'], env));
  const loadAfterListing = load();
  const writing = floorWriting.parse(
    await floorHalf(['write', new URL(target.baseUrl).origin], floorEnv),
  );
  const floorSeconds = listing.seconds + writing.seconds;
  const floor = {
    seconds: round(floorSeconds),
    listKeycloakSeconds: round(listing.seconds),
    listed: listing.listed,
    writeScimSeconds: round(writing.seconds),
    writePhaseSeconds: writing.phaseSeconds,
    writes: writing.requests,
    load: [loadAfterListing, load()],
  };
  say(`floor: ${JSON.stringify(floor)}`);
  return { cold, floor, coldOverFloor: round(cold.seconds / floorSeconds) };
}

/** Warm-up listings at most: a Keycloak still speeding up after these is a busy machine's. */
const MAX_WARM_UP_LISTINGS = 4;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : round(((sorted[middle - 1] ?? upper) + upper) / 2);
}

const floorListing = z.object({
  seconds: z.number(),
  listed: z.object({ users: z.number(), groups: z.number(), members: z.number() }),
});
const floorWriting = z.object({
  seconds: z.number(),
  requests: z.number(),
  phaseSeconds: z.object({ groups: z.number(), users: z.number(), members: z.number() }),
});

/** One half of the floor in a process of its own (see resync-floor-child.ts): its JSON line. */
async function floorHalf(args: readonly string[], env: Record<string, string>): Promise<unknown> {
  const run = await runMeasured(spawnTs('bench/resync-floor-child.ts', args, env));
  if (run.code !== 0) throw new Error(`the floor's ${args[0] ?? ''} failed: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
