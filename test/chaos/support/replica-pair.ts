import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { leaderLockHolder } from '../../../src/ha/leader-lock.js';
import { freePort } from '../../support/free-port.js';
import { RelayProcess } from './relay-process.js';
import type { Scenario } from './scenario.js';

/** One replica's pino line, with its time. */
export interface TimedLine {
  readonly time: number;
  readonly msg: string;
}

/**
 * Two replicas of one relay on one PostgreSQL state (the scenario's `STATE_URL`): the
 * scenario's own relay process and a second one with its own health port and log.
 */
export class ReplicaPair {
  private constructor(
    readonly replicas: readonly [RelayProcess, RelayProcess],
    private readonly stateUrl: string,
  ) {}

  static async create(scenario: Scenario, stateUrl: string): Promise<ReplicaPair> {
    const httpPort = await freePort();
    const second = new RelayProcess({
      entry: scenario.facts.relayEntry,
      env: () => scenario.env({ HTTP_PORT: String(httpPort) }),
      logFile: join(
        scenario.facts.logDir,
        `${scenario.options.name}-${scenario.options.mode}-relay-2.log`,
      ),
      httpPort,
    });
    return new ReplicaPair([scenario.relay, second], stateUrl);
  }

  /** The replica that serves as leader now (`scim_relay_is_leader` 1 and `/readyz` 200). */
  async leader(): Promise<RelayProcess | undefined> {
    for (const replica of this.replicas) {
      if (!replica.running) continue;
      const leads = await replica.metric('scim_relay_is_leader').catch(() => 0);
      if (leads === 1 && (await replica.readyStatus()) === 200) return replica;
    }
    return undefined;
  }

  /** Waits until `replica` leads; returns when (epoch ms). Throws after `timeoutMs`. */
  async waitLeader(replica: RelayProcess, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ((await this.leader()) === replica) return Date.now();
      if (!replica.running) throw new Error(`the replica exited: ${replica.logFile}`);
      if (Date.now() > deadline) throw new Error(`no takeover within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  other(replica: RelayProcess): RelayProcess {
    return replica === this.replicas[0] ? this.replicas[1] : this.replicas[0];
  }

  /** The PostgreSQL backend that holds the leader lock. */
  async lockHolderBackend(): Promise<number> {
    const pid = await this.withState((client) => leaderLockHolder(client));
    if (pid === undefined) throw new Error('nobody holds the leader lock');
    return pid;
  }

  async terminateBackend(pid: number): Promise<void> {
    await this.withState((client) => client.query('SELECT pg_terminate_backend($1)', [pid]));
  }

  /** A replica's log lines since `offset`, with their times. */
  async timedLines(replica: RelayProcess, offset = 0): Promise<TimedLine[]> {
    return (await replica.logLines(offset)).flatMap((line) => {
      const time: unknown = Reflect.get(JSON.parse(line.raw) as object, 'time');
      return typeof time === 'string' ? [{ time: Date.parse(time), msg: line.msg }] : [];
    });
  }

  async dispose(): Promise<void> {
    await this.replicas[1].dispose();
  }

  private async withState<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: this.stateUrl });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }
}
