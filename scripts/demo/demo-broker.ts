import { connect } from 'amqplib';
import { DEFAULT_AMQP_URL, canConnectAmqp } from '../../test/support/rabbitmq-local.js';
import { createRabbitMqNode, rabbitMqScriptsDir } from '../../test/support/rabbitmq-node.js';

/**
 * Which RabbitMQ the demo uses. `auto`: the machine's broker at 127.0.0.1:5672 (guest/guest)
 * when it answers, else a node of the demo's own when RabbitMQ is installed, else none (the
 * relay then polls). `private`: always a node of the demo's own. `none`: poll mode.
 */
export type DemoBrokerChoice = 'auto' | 'private' | 'none';

/** The broker the demo runs against. `stop()` undoes only what the demo did to it. */
export type DemoBroker =
  | {
      kind: 'shared' | 'private';
      /** amqp:// URL with guest/guest, on loopback. */
      url: string;
      /** Where a private node keeps its data and logs. */
      dir: string | undefined;
      /** Deletes `queues` (on the shared broker), or stops and removes the private node. */
      stop(queues: readonly string[]): Promise<void>;
    }
  | { kind: 'none'; reason: string; stop(queues: readonly string[]): Promise<void> };

/** Starts or finds the broker for `choice`; a private node lives in a directory under `baseDir`. */
export async function startDemoBroker(options: {
  choice: DemoBrokerChoice;
  baseDir: string;
  sharedUrl?: string;
  report?: (line: string) => void;
}): Promise<DemoBroker> {
  const report = options.report ?? (() => undefined);
  const noop = (): Promise<void> => Promise.resolve();
  if (options.choice === 'none')
    return { kind: 'none', reason: 'asked to run without RabbitMQ', stop: noop };
  const sharedUrl = options.sharedUrl ?? DEFAULT_AMQP_URL;
  if (options.choice === 'auto' && (await canConnectAmqp(sharedUrl))) {
    report(`RabbitMQ: the machine's broker answers at ${redacted(sharedUrl)}; using it`);
    return {
      kind: 'shared',
      url: sharedUrl,
      dir: undefined,
      stop: (queues) => deleteQueues(sharedUrl, queues),
    };
  }
  try {
    await rabbitMqScriptsDir();
  } catch {
    return {
      kind: 'none',
      reason: 'RabbitMQ is not installed (no rabbitmq-server) and none answers on 127.0.0.1:5672',
      stop: noop,
    };
  }
  report("RabbitMQ: starting a node of the demo's own (own ports, data and logs)");
  const node = await createRabbitMqNode({ baseDir: options.baseDir, namePrefix: 'demo' });
  try {
    const { startupMs } = await node.start();
    report(`RabbitMQ: node ${node.nodeName} on 127.0.0.1:${node.amqpPort} in ${startupMs} ms`);
  } catch (error) {
    await node.cleanup();
    throw error;
  }
  return {
    kind: 'private',
    url: node.url,
    dir: node.dir,
    stop: () => node.cleanup(),
  };
}

/** The URL without its password, for messages. */
export function redacted(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString().replace(/\/$/, '');
}

/** Deletes the demo's queues from a broker it shares with others; a missing queue is fine. */
async function deleteQueues(url: string, queues: readonly string[]): Promise<void> {
  if (queues.length === 0) return;
  const connection = await connect(url, { timeout: 5_000 });
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) await channel.deleteQueue(queue);
    await channel.close();
  } finally {
    await connection.close();
  }
}
