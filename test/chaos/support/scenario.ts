import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type KeycloakAdminClient from '@keycloak/keycloak-admin-client';
import { freePort } from '../../support/free-port.js';
import { createTestRealm, masterAdminClient, type TestRealm } from '../../support/test-realm.js';
import { withBroker } from './broker-client.js';
import type { ChaosFacts } from './chaos-facts.js';
import { ChangeStream } from './change-stream.js';
import { RelayProcess } from './relay-process.js';
import { resyncDryRun } from './resync-dry-run.js';
import { recordResult } from './scenario-results.js';
import { scimDifferences, scimDuplicates } from './scim-comparison.js';
import { ScimProcess } from './scim-process.js';

/** The relay's event source in a scenario. */
export type Mode = 'amqp' | 'poll';

/** The periodic full reconcile is a day away: the event path and the backstop do the work. */
const RESYNC_INTERVAL_MS = 86_400_000;

export interface ScenarioOptions {
  /** Short, kebab-case: names the realm, the queue and the log files. */
  readonly name: string;
  readonly mode: Mode;
  /**
   * AMQP mode's read of the realm's stored events behind the lossy listener. The relay's
   * default, 30 s, is what the broker-restart scenario proves; the others take 10 s so that an
   * event the listener dropped costs less waiting (none should be dropped there).
   */
  readonly backstopIntervalMs?: number;
  /** Further relay settings for every run. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * One scenario's private world on the shared stack: its realm (with the real listener), its
 * SCIM server process, its queue on the private broker, its relay process and state directory.
 * `finish` runs the three closing checks; `dispose` removes everything but the logs.
 */
export class Scenario {
  /** From the end of the fault to the comparison passing, set by {@link finish}. */
  convergenceMs: number | undefined;
  boundMs: number | undefined;
  /** What the scenario measured besides convergence, for the summary's notes column. */
  readonly notes: string[] = [];
  readonly changes: ChangeStream;
  readonly began = Date.now();
  #admin: KeycloakAdminClient;

  private constructor(
    readonly facts: ChaosFacts,
    readonly options: ScenarioOptions,
    readonly realm: TestRealm,
    readonly scim: ScimProcess,
    readonly relay: RelayProcess,
    readonly queue: string,
    readonly stateDir: string,
    private readonly httpPort: number,
  ) {
    this.#admin = realm.admin;
    const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
    this.changes = new ChangeStream(() => this.#admin, options.name.slice(0, 12), seed);
    console.error(
      `[chaos] ${this.label}: realm ${realm.name}, seed ${seed} (CHAOS_SEED=${seed} replays the changes), relay log ${relay.logFile}`,
    );
  }

  static async create(facts: ChaosFacts, options: ScenarioOptions): Promise<Scenario> {
    const label = `${options.name}-${options.mode}`;
    // The realm lists the real listener, so Keycloak publishes its events to the private broker.
    const realm = await createTestRealm(facts, { prefix: `chaos-${label}`, realListener: true });
    let scim: ScimProcess;
    try {
      scim = await ScimProcess.start({
        entry: facts.scimServerEntry,
        token: randomBytes(24).toString('base64url'),
        logFile: join(facts.logDir, `${label}-scim.log`),
      });
    } catch (error) {
      await realm.delete().catch(() => undefined);
      throw error;
    }
    const stateDir = await mkdtemp(join(tmpdir(), `chaos-${label}-`));
    const httpPort = await freePort();
    const queue = `chaos.${realm.name}`;
    const holder: { scenario?: Scenario } = {};
    const relay = new RelayProcess({
      entry: facts.relayEntry,
      env: () => {
        if (holder.scenario === undefined) throw new Error('scenario not ready');
        return holder.scenario.env();
      },
      logFile: join(facts.logDir, `${label}-relay.log`),
      httpPort,
    });
    const scenario = new Scenario(facts, options, realm, scim, relay, queue, stateDir, httpPort);
    holder.scenario = scenario;
    return scenario;
  }

  /** The master admin's client for the scenario's realm. */
  get admin(): KeycloakAdminClient {
    return this.#admin;
  }

  /**
   * Logs the admin in again: Keycloak keeps sessions in memory, so a restart invalidates the
   * admin's token (401) though the realm and its data are still there.
   */
  renewAdmin(): void {
    this.#admin = masterAdminClient(this.facts, this.realm.name);
  }

  get label(): string {
    return `${this.options.name} (${this.options.mode})`;
  }

  /**
   * The relay's whole environment: nothing inherited but the basics, so a developer's own
   * KEYCLOAK_* or SCIM_* cannot leak into a scenario.
   */
  env(overrides: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
    const { facts, options } = this;
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: process.env.TMPDIR,
      KEYCLOAK_URL: facts.keycloakUrl,
      KEYCLOAK_REALM: this.realm.name,
      KEYCLOAK_CLIENT_ID: this.realm.relay.clientId,
      KEYCLOAK_CLIENT_SECRET: this.realm.relay.clientSecret,
      SCIM_URL: this.scim.baseUrl,
      SCIM_TOKEN: this.scim.token,
      SOURCE: options.mode,
      ...(options.mode === 'amqp'
        ? {
            AMQP_URL: facts.amqpUrl,
            AMQP_EXCHANGE: 'amq.topic',
            AMQP_QUEUE: this.queue,
            BACKSTOP_INTERVAL_MS: String(options.backstopIntervalMs ?? 10_000),
          }
        : { POLL_INTERVAL_MS: '1000' }),
      STATE_DIR: this.stateDir,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(this.httpPort),
      RESYNC_INTERVAL_MS: String(RESYNC_INTERVAL_MS),
      LOG_LEVEL: 'info',
      ...options.env,
      ...overrides,
    };
  }

  /** Waits until SCIM holds at least `count` users with access (e.g. a first reconcile's). */
  async waitForScimUsers(count: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const users = (await this.scim.control.state()).users.filter((u) => u.tenantAccess);
      if (users.length >= count) return;
      if (Date.now() > deadline) {
        throw new Error(`SCIM holds ${users.length} users after ${timeoutMs} ms, wanted ${count}`);
      }
      await sleep(50);
    }
  }

  /**
   * Waits until SCIM equals what Keycloak means; returns the time since `since` (epoch ms).
   * Throws with the differences left once `boundMs` have passed since then.
   */
  async waitForConvergence(since: number, boundMs: number): Promise<number> {
    for (;;) {
      const differences = await scimDifferences(this.admin, await this.scim.control.state());
      if (differences.length === 0) return Date.now() - since;
      if (Date.now() - since > boundMs) {
        throw new Error(
          `${this.label}: SCIM still differs from Keycloak ${Math.round((Date.now() - since) / 1000)} s after the fault ended (bound ${boundMs / 1000} s), ${differences.length} difference(s):\n  ${differences.slice(0, 25).join('\n  ')}\nrelay log: ${this.relay.logFile}`,
        );
      }
      await sleep(500);
    }
  }

  /**
   * The three closing checks, after the fault ended at `faultEndedAt` (epoch ms):
   * 1. SCIM equals what Keycloak means, within `boundMs` of the fault's end (the convergence
   *    time is recorded);
   * 2. the relay's own `resync --dry-run --prune` plans nothing;
   * 3. SCIM holds no duplicates.
   */
  async finish(faultEndedAt: number, boundMs: number): Promise<void> {
    this.boundMs = boundMs;
    this.convergenceMs = await this.waitForConvergence(faultEndedAt, boundMs);

    const plan = await resyncDryRun(this.facts.relayEntry, this.env());
    if (plan.exitCode !== 0 || plan.changes.length > 0 || plan.failures > 0 || plan.guardBlocked) {
      throw new Error(
        `${this.label}: resync --dry-run after convergence exited ${plan.exitCode} and planned ${plan.changes.length} change(s), ${plan.failures} failure(s)${plan.guardBlocked ? ', prune guard blocked' : ''}:\n  ${plan.changes.slice(0, 25).join('\n  ')}\n${plan.stderr.slice(-1_500)}`,
      );
    }

    const duplicates = scimDuplicates(await this.scim.control.state());
    if (duplicates.length > 0) {
      throw new Error(`${this.label}: SCIM holds duplicates:\n  ${duplicates.join('\n  ')}`);
    }
  }

  /** Writes the SCIM server's request log beside the relay's, to read a failure by. */
  async saveScimRequests(): Promise<void> {
    const file = join(
      this.facts.logDir,
      `${this.options.name}-${this.options.mode}-scim-requests.json`,
    );
    try {
      await writeFile(file, JSON.stringify(await this.scim.control.requests(), null, 1));
      console.error(`[chaos] ${this.label}: SCIM request log in ${file}`);
    } catch (error) {
      console.error(`[chaos] ${this.label}: no SCIM request log: ${String(error)}`);
    }
  }

  /** Stops the relay and the SCIM server, deletes the realm, the queues and the state. */
  async dispose(): Promise<void> {
    await this.relay.dispose();
    await this.scim.dispose();
    if (this.options.mode === 'amqp') {
      await withBroker(this.facts.amqpUrl, async (channel) => {
        await channel.deleteQueue(this.queue);
        await channel.deleteQueue(`${this.queue}.dead-letter`);
      }).catch((error: unknown) => {
        console.error(`[chaos] ${this.label}: could not delete its queues: ${String(error)}`);
      });
    }
    await this.admin.realms.del({ realm: this.realm.name }).catch((error: unknown) => {
      console.error(`[chaos] ${this.label}: could not delete realm: ${String(error)}`);
    });
    await rm(this.stateDir, { recursive: true, force: true });
  }
}

/**
 * Runs one scenario on a fresh {@link Scenario}, records its result (passed or failed) for the
 * closing summary, and disposes of it whatever happened.
 */
export async function runScenario(
  facts: ChaosFacts,
  options: ScenarioOptions,
  body: (scenario: Scenario) => Promise<void>,
): Promise<void> {
  const scenario = await Scenario.create(facts, options);
  let failure: unknown;
  try {
    await body(scenario);
  } catch (error) {
    failure = error;
    await scenario.saveScimRequests();
    throw error;
  } finally {
    await recordResult(facts.resultsFile, {
      scenario: options.name,
      mode: options.mode,
      outcome: failure === undefined ? 'passed' : 'failed',
      convergenceMs: scenario.convergenceMs,
      boundMs: scenario.boundMs,
      peakRssKb: scenario.relay.peakRssKb,
      relayStarts: scenario.relay.starts,
      durationMs: Date.now() - scenario.began,
      detail:
        failure === undefined
          ? scenario.notes.join('; ')
          : (failure instanceof Error ? failure.message : JSON.stringify(failure)).split('\n')[0],
    });
    await scenario.dispose();
  }
}
