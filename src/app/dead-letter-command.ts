import { parseArgs } from 'node:util';
import { connect, type Channel, type ChannelModel, type GetMessage } from 'amqplib';
import type { Config } from '../config.js';
import { describeHint } from '../domain/hint.js';
import { ConfigError, describeError } from '../errors.js';
import type { KeycloakReader } from '../keycloak/keycloak-reader.js';
import { amqpTrust } from '../sources/amqp-trust.js';
import { deadLetterQueueOf } from '../sources/dead-letter-headers.js';
import { describeDeadLetter, replayPlan } from '../sources/dead-letters.js';
import {
  RelayRunningError,
  commandLogger,
  openCommandEngine,
  type CommandEngine,
  type HintResult,
} from './command-engine.js';
import { amqpCaOf, keycloakReaderFrom } from './clients.js';
import {
  deadLetterListExitCode,
  deadLetterListJson,
  deadLetterListLines,
  replayExitCode,
  replayJson,
  replayLines,
  type DeadLetterEntry,
  type ReplayResult,
} from './dead-letter-format.js';
import { OPERATOR_EXIT, OPERATOR_EXIT_TEXT } from './operator-exit-codes.js';
import { timeoutFlag, unavailable } from './parked-command.js';
import { learnRealmId } from './relay.js';
import { processOutput, type CommandOutput } from './resync-command.js';
import { wholeNumber } from './status-command.js';

/**
 * `list` takes the messages it shows off the queue until it puts them back: a bound keeps a
 * queue of a million poison messages from filling the command's memory and the screen.
 */
const DEFAULT_LIST_LIMIT = 100;

export const DEAD_LETTER_USAGE = `Usage: keycloak-scim-relay dead-letter list [--limit N] [--json]
       keycloak-scim-relay dead-letter replay (--id ID... | --all [--limit N]) [--json] [--timeout SECONDS]

AMQP mode only. The relay moves poison to <AMQP_QUEUE>.dead-letter: a message that is not JSON,
has the wrong shape, or carries another realm's realmId.

  list     every message in the dead-letter queue: its id, routing key, why and when it was
           dead-lettered, and what a replay would reconcile (or why it cannot be replayed).
           The messages are read and put back in their order; nothing is removed.
  replay   reconciles the entities a message names (from its routing key and body, read as
           the relay reads them) from fresh Keycloak reads, never from the old body, as \`run\`
           does; a message is removed once its work is applied. One that names no entity of
           this realm (not JSON, another realm's) cannot be replayed: it is reported and left,
           as is every message not selected. Refused while a relay runs on the state: stop
           it, replay, and start it again.

Options:
  --json             print one JSON document on stdout
  --id ID            replay the message with this id (as \`dead-letter list\` shows it); repeatable
  --all              replay every message
  --limit N          list: show the N oldest messages (default ${DEFAULT_LIST_LIMIT}) and count the rest;
                     replay --all: replay only the N oldest, so that a deep queue is worked
                     through in bounded steps
  --timeout SECONDS  stop replaying after this long (default 300); what is left stays queued

${OPERATOR_EXIT_TEXT}`;

/** What `dead-letter` was asked to do. */
export type DeadLetterCommandOptions =
  | { readonly action: 'list'; readonly json: boolean; readonly limit: number }
  | {
      readonly action: 'replay';
      readonly json: boolean;
      /** Empty with `all`. */
      readonly ids: readonly string[];
      readonly all: boolean;
      /** With `all`: replay at most this many, oldest first. */
      readonly limit?: number;
      readonly timeoutMs: number;
    };

/** Parses `dead-letter`'s own arguments; every problem is a {@link ConfigError}. */
export function parseDeadLetterArgs(argv: readonly string[]): DeadLetterCommandOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        json: { type: 'boolean' },
        all: { type: 'boolean' },
        id: { type: 'string', multiple: true },
        timeout: { type: 'string' },
        limit: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new ConfigError([describeError(error)]);
  }
  const { values, positionals } = parsed;
  const [action, ...extra] = positionals;
  const json = values.json === true;
  const ids = values.id ?? [];
  const all = values.all === true;
  if (extra.length > 0) {
    throw new ConfigError([`dead-letter: unexpected ${extra.join(' ')} (ids go after --id)`]);
  }
  const limit = values.limit === undefined ? undefined : wholeNumber('limit', values.limit, 0, 1);
  if (action === 'list') {
    if (all || ids.length > 0 || values.timeout !== undefined) {
      throw new ConfigError(['dead-letter list takes only --limit and --json']);
    }
    return { action, json, limit: limit ?? DEFAULT_LIST_LIMIT };
  }
  if (action === 'replay') {
    if (all === ids.length > 0) {
      throw new ConfigError([
        all
          ? 'dead-letter replay: give either --id or --all, not both'
          : 'dead-letter replay: name the messages with --id ID (see `dead-letter list`), or give --all',
      ]);
    }
    if (limit !== undefined && !all) {
      throw new ConfigError([
        'dead-letter replay: --limit goes with --all (each --id names one message already)',
      ]);
    }
    return {
      action,
      json,
      ids,
      all,
      ...(limit === undefined ? {} : { limit }),
      timeoutMs: timeoutFlag(values.timeout),
    };
  }
  throw new ConfigError([
    action === undefined
      ? 'dead-letter: say `list` or `replay`'
      : `dead-letter: unknown action "${action}"; say \`list\` or \`replay\``,
  ]);
}

/** `keycloak-scim-relay dead-letter …`; returns the exit code. */
export async function deadLetterCommand(
  argv: readonly string[],
  config: Config,
  output: CommandOutput = processOutput(),
): Promise<number> {
  let options: DeadLetterCommandOptions;
  try {
    options = parseDeadLetterArgs(argv);
    if (config.source !== 'amqp') {
      throw new ConfigError([
        'dead-letter: there is no dead-letter queue with SOURCE=poll; it is for SOURCE=amqp',
      ]);
    }
  } catch (error) {
    output.err(`${describeError(error)}\n\n${DEAD_LETTER_USAGE}`);
    return OPERATOR_EXIT.usage;
  }
  return options.action === 'list'
    ? listDeadLetters(config, options, output)
    : replayDeadLetters(config, options, output);
}

const TIMEOUT_MS = 10_000;

async function connectBroker(config: Config, purpose: string): Promise<ChannelModel> {
  if (config.source !== 'amqp') throw new Error('not in AMQP mode');
  const model = await connect(config.amqp.url, {
    ...amqpTrust(amqpCaOf(config)),
    timeout: TIMEOUT_MS,
    clientProperties: { connection_name: `keycloak-scim-relay ${purpose} ${config.amqp.queue}` },
  });
  model.on('error', () => undefined);
  return model;
}

/**
 * Takes the oldest messages of the dead-letter queue, unacked, until `enough` says so or the
 * queue runs dry: each stays the broker's until it is acked (removed) or nacked back, which puts
 * it at its place again. While taken, no other reader sees it. `depth` is the queue's length
 * before: 0 when the queue does not exist (nothing was ever dead-lettered).
 */
async function take(
  model: ChannelModel,
  queue: string,
  enough: (taken: readonly GetMessage[]) => boolean = () => false,
): Promise<{
  readonly channel: Channel;
  readonly messages: readonly GetMessage[];
  readonly depth: number;
}> {
  const channel = await model.createChannel();
  channel.on('error', () => undefined);
  const messages: GetMessage[] = [];
  let depth: number;
  try {
    depth = (await channel.checkQueue(queue)).messageCount;
  } catch (error) {
    if (error instanceof Error && /NOT_FOUND/.test(error.message)) {
      return { channel: await model.createChannel(), messages, depth: 0 };
    }
    throw error;
  }
  while (!enough(messages)) {
    const message = await channel.get(queue, { noAck: false });
    if (message === false) break;
    messages.push(message);
  }
  // A message dead-lettered while we read still counts.
  return { channel, messages, depth: Math.max(depth, messages.length) };
}

/**
 * Whether a realm id is the configured realm's: its name, or the id learnt from the realm's
 * own stored events. When the id cannot be learnt, only the name is taken: a replay must not
 * act on what may be another realm's event.
 */
async function realmCheck(
  config: Config,
  keycloak: () => Promise<KeycloakReader>,
): Promise<(realmId: string) => true | string> {
  const name = config.keycloak.realm;
  let learnt: string | undefined;
  let why = 'Keycloak stores no event of the realm to learn its id from (turn on admin events)';
  try {
    learnt = await learnRealmId(await keycloak());
  } catch (error) {
    why = `its id could not be learnt from Keycloak: ${describeError(error)}`;
  }
  return (realmId) => {
    if (realmId === name || realmId === learnt) return true;
    return learnt === undefined
      ? `cannot tell whether realmId ${realmId} is realm ${name}'s: ${why}`
      : `an event of another realm (realmId ${realmId}; realm ${name} is ${learnt})`;
  };
}

function entriesOf(
  messages: readonly GetMessage[],
  check: (realmId: string) => true | string,
): DeadLetterEntry[] {
  return messages.map((message) => {
    const info = describeDeadLetter(message);
    return { info, plan: replayPlan(message, info.routingKey, check) };
  });
}

async function listDeadLetters(
  config: Config,
  options: Extract<DeadLetterCommandOptions, { action: 'list' }>,
  output: CommandOutput,
): Promise<number> {
  const { json, limit } = options;
  if (config.source !== 'amqp') throw new Error('not in AMQP mode');
  const queue = deadLetterQueueOf(config.amqp.queue);
  let model: ChannelModel;
  try {
    model = await connectBroker(config, 'dead-letter list');
  } catch (error) {
    return unavailable(output, json, `cannot reach RabbitMQ: ${describeError(error)}`);
  }
  let keycloak: KeycloakReader | undefined;
  try {
    const { channel, messages, depth } = await take(model, queue, (taken) => taken.length >= limit);
    let entries: DeadLetterEntry[];
    try {
      const check =
        messages.length === 0
          ? () => true as const
          : await realmCheck(config, async () => {
              keycloak = await keycloakReaderFrom(config, { requestTimeoutMs: TIMEOUT_MS });
              return keycloak;
            });
      entries = entriesOf(messages, check);
    } finally {
      // Every message goes back where it was; a list removes nothing.
      channel.nackAll(true);
      await channel.close().catch(() => undefined);
    }
    const listing = { queue, depth, entries };
    if (json) output.out(JSON.stringify(deadLetterListJson(listing), null, 2));
    else for (const line of deadLetterListLines(listing)) output.out(line);
    return deadLetterListExitCode(listing);
  } catch (error) {
    return unavailable(output, json, `cannot read ${queue}: ${describeError(error)}`);
  } finally {
    await keycloak?.close();
    await model.close().catch(() => undefined);
  }
}

async function replayDeadLetters(
  config: Config,
  options: Extract<DeadLetterCommandOptions, { action: 'replay' }>,
  output: CommandOutput,
): Promise<number> {
  if (config.source !== 'amqp') throw new Error('not in AMQP mode');
  const queue = deadLetterQueueOf(config.amqp.queue);
  const logger = commandLogger(config);
  let engine: CommandEngine;
  try {
    engine = await openCommandEngine(config, {
      command: 'dead-letter replay',
      logger,
      timeoutMs: options.timeoutMs,
      whileRunning: 'stop it, run `dead-letter replay`, and start it again',
    });
  } catch (error) {
    return unavailable(
      output,
      options.json,
      error instanceof RelayRunningError
        ? `refused: ${error.message}`
        : `dead-letter replay cannot start: ${describeError(error)}`,
    );
  }
  let model: ChannelModel | undefined;
  try {
    model = await connectBroker(config, 'dead-letter replay');
    const { channel, messages } = await take(model, queue, selectionTaken(options));
    let results: ReplayResult[];
    try {
      const check = await realmCheck(config, () => Promise.resolve(engine.keycloak));
      const entries = entriesOf(messages, check);
      const unknown = options.ids.filter((id) => !entries.some((e) => e.info.id === id));
      if (unknown.length > 0) {
        output.err(
          `no message in ${queue} has the id ${unknown.map((id) => `"${id}"`).join(', ')} (see \`dead-letter list\`); nothing was replayed`,
        );
        return OPERATOR_EXIT.usage;
      }
      results = [];
      for (const [i, entry] of entries.entries()) {
        if (!options.all && !options.ids.includes(entry.info.id)) continue;
        const message = messages[i];
        if (message === undefined) continue;
        results.push(await replayOne(engine, channel, message, entry));
      }
    } finally {
      // What was not replayed goes back where it was, untouched.
      channel.nackAll(true);
      await channel.close().catch(() => undefined);
    }
    const remaining = await countMessages(model, queue);
    const report = { queue, results, remaining };
    if (options.json) output.out(JSON.stringify(replayJson(report), null, 2));
    else for (const line of replayLines(report)) output.out(line);
    return replayExitCode(report);
  } catch (error) {
    return unavailable(output, options.json, `cannot replay ${queue}: ${describeError(error)}`);
  } finally {
    await model?.close().catch(() => undefined);
    await engine.close();
  }
}

/**
 * When `replay` has read far enough: with `--all`, once it holds `--limit` messages; with `--id`,
 * once every named message is found, whose id is worked out once per message as it arrives.
 */
function selectionTaken(
  options: Extract<DeadLetterCommandOptions, { action: 'replay' }>,
): (taken: readonly GetMessage[]) => boolean {
  if (options.all) {
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    return (taken) => taken.length >= limit;
  }
  const missing = new Set(options.ids);
  return (taken) => {
    const newest = taken.at(-1);
    if (newest !== undefined) missing.delete(describeDeadLetter(newest).id);
    return missing.size === 0;
  };
}

/**
 * Reconciles what one message names from Keycloak; only once every entity's work is applied,
 * and kept durably, is the message acked, which removes it from the queue.
 */
async function replayOne(
  engine: CommandEngine,
  channel: Channel,
  message: GetMessage,
  entry: DeadLetterEntry,
): Promise<ReplayResult> {
  if ('unreplayable' in entry.plan) {
    return { entry, outcome: 'unreplayable', reason: entry.plan.unreplayable };
  }
  const results = await engine.run(entry.plan.hints);
  const failed = results.filter((r) => r.outcome !== 'applied');
  if (failed.length > 0) {
    return {
      entry,
      outcome: 'failed',
      reason: failed.map((r) => failureText(r)).join('; '),
    };
  }
  await engine.store.durable();
  channel.ack(message);
  return { entry, outcome: 'replayed' };
}

function failureText(result: HintResult): string {
  switch (result.outcome) {
    case 'applied':
      return `${describeHint(result.hint)} applied`;
    case 'parked':
      return `${describeHint(result.hint)} failed and is parked (a running relay retries it): ${result.reason}`;
    case 'cut':
      return `${describeHint(result.hint)} not finished: ${result.reason}`;
  }
}

async function countMessages(model: ChannelModel, queue: string): Promise<number> {
  const channel = await model.createChannel();
  channel.on('error', () => undefined);
  try {
    return (await channel.checkQueue(queue)).messageCount;
  } catch (error) {
    if (error instanceof Error && /NOT_FOUND/.test(error.message)) return 0;
    throw error;
  } finally {
    await channel.close().catch(() => undefined);
  }
}
