import { parseArgs } from 'node:util';
import { connect, type ChannelModel } from 'amqplib';
import type { Config } from '../config.js';
import { ConfigError, describeError } from '../errors.js';
import { amqpTrust } from '../sources/amqp-trust.js';
import { deadLetterQueueOf } from '../sources/dead-letter-headers.js';
import { parseStreamCheckpoint } from './checkpoint-summary.js';
import { amqpCaOf, keycloakReaderFrom } from './clients.js';
import { streamLag } from './event-lag.js';
import { OPERATOR_EXIT, OPERATOR_EXIT_TEXT } from './operator-exit-codes.js';
import { probe, type Probe } from './probe.js';
import { processOutput, type CommandOutput } from './resync-command.js';
import { readStateSummary, stateLocation, type StateSummary } from './state-summary.js';
import {
  statusExitCode,
  statusJson,
  statusLines,
  type DeadLetterDepth,
  type Lag,
  type StatusReport,
} from './status-format.js';

export const STATUS_USAGE = `Usage: keycloak-scim-relay status [--json] [--parked N]

Shows, without writing anything and beside a running relay: whether a relay runs on the state
(SQLite: who holds STATE_DIR's lock; PostgreSQL: which session holds the leader lock), the
checkpoints and their age, the lag behind Keycloak (poll mode: the stored events not yet read,
and how long the oldest has waited; AMQP mode: the messages waiting in the queue), the last
full reconcile, the parked work and, in AMQP mode, the dead-letter queue's depth.

Options:
  --json        print one JSON document on stdout
  --parked N    parked items to show (default 10; the count is always given)

${OPERATOR_EXIT_TEXT}`;

const TIMEOUT_MS = 10_000;

/** `status`'s options. */
export interface StatusOptions {
  readonly json: boolean;
  readonly parkedLimit: number;
}

/** Parses `status`'s own arguments; a problem is a {@link ConfigError}. */
export function parseStatusArgs(argv: readonly string[]): StatusOptions {
  let values: { json?: boolean | undefined; parked?: string | undefined };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { json: { type: 'boolean' }, parked: { type: 'string' } },
      strict: true,
    }));
  } catch (error) {
    throw new ConfigError([describeError(error)]);
  }
  return { json: values.json === true, parkedLimit: wholeNumber('parked', values.parked, 10) };
}

/** A whole number flag of at least `min` (0 unless said), or its default. */
export function wholeNumber(
  flag: string,
  text: string | undefined,
  fallback: number,
  min = 0,
): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min) {
    throw new ConfigError([`--${flag}: expected a whole number of at least ${min}, got "${text}"`]);
  }
  return n;
}

/** `keycloak-scim-relay status`: prints the status, returns the exit code. */
export async function statusCommand(
  argv: readonly string[],
  config: Config,
  output: CommandOutput = processOutput(),
): Promise<number> {
  let options: StatusOptions;
  try {
    options = parseStatusArgs(argv);
  } catch (error) {
    output.err(`${describeError(error)}\n\n${STATUS_USAGE}`);
    return OPERATOR_EXIT.usage;
  }
  const report = await gatherStatus(config, options);
  if (options.json) {
    output.out(JSON.stringify(statusJson(report), null, 2));
  } else {
    for (const line of statusLines(report)) output.out(line);
  }
  return statusExitCode(report);
}

/** Reads every part of the status; a part that fails is reported as such, never thrown. */
export async function gatherStatus(config: Config, options: StatusOptions): Promise<StatusReport> {
  const at = Date.now();
  const { summary, holder } = await readStateSummary(config, {
    parkedLimit: options.parkedLimit,
  });
  const amqp = config.source === 'amqp' ? readAmqpDepths(config) : undefined;
  const [lag, deadLetters] = await Promise.all([
    amqp === undefined ? pollLag(config, summary) : amqp.then((d) => d.lag),
    amqp?.then((d) => d.deadLetters),
  ]);
  return {
    at,
    realm: config.keycloak.realm,
    source: config.source,
    state: stateLocation(config),
    relay: holder,
    stateSummary: summary,
    lag,
    deadLetters,
  };
}

/** Poll mode: per stream, the stored events newer than its checkpoint covers. */
async function pollLag(config: Config, summary: Probe<StateSummary>): Promise<Probe<Lag>> {
  if (!summary.ok) return { ok: false, error: 'needs the state, which could not be read' };
  const checkpoints = (['admin', 'user'] as const).flatMap((stream) => {
    const row = summary.value.checkpoints.find((c) => c.name === `poll.${stream}`);
    const checkpoint = row === undefined ? undefined : parseStreamCheckpoint(row.value);
    return checkpoint === undefined ? [] : [{ stream, checkpoint }];
  });
  if (checkpoints.length === 0) return { ok: true, value: { source: 'poll', streams: [] } };
  return probe(async () => {
    const keycloak = await keycloakReaderFrom(config, { requestTimeoutMs: TIMEOUT_MS });
    try {
      const streams = [];
      for (const { stream, checkpoint } of checkpoints) {
        streams.push(await streamLag(keycloak, stream, checkpoint));
      }
      return { source: 'poll' as const, streams };
    } finally {
      await keycloak.close();
    }
  });
}

/** AMQP mode: the relay queue's waiting messages and consumers, and the dead-letter depth. */
async function readAmqpDepths(
  config: Config,
): Promise<{ lag: Probe<Lag>; deadLetters: Probe<DeadLetterDepth> }> {
  if (config.source !== 'amqp') throw new Error('not in AMQP mode');
  const queue = config.amqp.queue;
  const deadLetterQueue = deadLetterQueueOf(queue);
  let model: ChannelModel;
  try {
    model = await connect(config.amqp.url, {
      ...amqpTrust(amqpCaOf(config)),
      timeout: TIMEOUT_MS,
      clientProperties: { connection_name: `keycloak-scim-relay status ${queue}` },
    });
  } catch (error) {
    const failed = { ok: false, error: `cannot reach RabbitMQ: ${describeError(error)}` } as const;
    return { lag: failed, deadLetters: failed };
  }
  model.on('error', () => undefined);
  try {
    const main = await probe(() => passiveDeclare(model, queue));
    const dead = await probe(() => passiveDeclare(model, deadLetterQueue));
    return {
      lag: main.ok
        ? {
            ok: true,
            value: {
              source: 'amqp',
              queue,
              ready: main.value?.messageCount,
              consumers: main.value?.consumerCount,
            },
          }
        : main,
      deadLetters: dead.ok
        ? { ok: true, value: { queue: deadLetterQueue, depth: dead.value?.messageCount } }
        : dead,
    };
  } finally {
    await model.close().catch(() => undefined);
  }
}

/**
 * A queue's counts, declaring nothing (a passive declare); undefined when it does not exist.
 * A refusal closes the channel it came on, so each queue gets a channel of its own.
 */
export async function passiveDeclare(
  model: ChannelModel,
  queue: string,
): Promise<{ readonly messageCount: number; readonly consumerCount: number } | undefined> {
  const channel = await model.createChannel();
  channel.on('error', () => undefined);
  try {
    const { messageCount, consumerCount } = await channel.checkQueue(queue);
    await channel.close();
    return { messageCount, consumerCount };
  } catch (error) {
    if (error instanceof Error && /NOT_FOUND/.test(error.message)) return undefined;
    throw error;
  }
}
