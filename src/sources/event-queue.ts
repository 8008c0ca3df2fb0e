import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';
import type { Logger } from 'pino';

/** The header that keeps a message's routing key when the relay moves it between queues. */
export const ORIGINAL_ROUTING_KEY = 'x-relay-routing-key';

/** What a moved message keeps besides its body and headers (never `userId`, which the broker checks). */
const KEPT_PROPERTIES = [
  'contentType',
  'contentEncoding',
  'timestamp',
  'messageId',
  'type',
  'appId',
] as const;

/** Where the relay's queue gets the listener's messages from. */
export interface QueueBindings {
  readonly exchange: string;
  readonly keys: readonly string[];
}

/**
 * The relay's queue: quorum (replicated where the broker is clustered) and single active
 * consumer, so that even two replicas consuming at once (a leader and one that has not yet
 * noticed it lost its lock) get the messages one at a time, never split between them.
 */
export const EVENT_QUEUE_ARGUMENTS = {
  'x-queue-type': 'quorum',
  'x-single-active-consumer': true,
} as const;

/**
 * Declares and binds the relay's queue. A queue declared by an earlier version, without
 * single active consumer, cannot be changed in place (RabbitMQ refuses a declaration whose
 * arguments differ), so it is rebuilt through a temporary queue, `<queue>.migrating`, without
 * losing a message:
 *
 * 1. the temporary queue is bound too, so new events reach both;
 * 2. the old queue is unbound, and its messages moved to the temporary one (each published
 *    with a broker confirm before it is acked; a message moved twice is a hint applied twice,
 *    which is harmless);
 * 3. the old queue is deleted, declared again with the new arguments and bound;
 * 4. the temporary queue is unbound, its messages moved back, and deleted.
 *
 * Each step can be repeated, so a relay killed halfway finishes the work at its next start.
 * Run it with no other consumer on the queue: the replica that is the leader, at its start.
 */
export async function declareEventQueue(
  model: ChannelModel,
  queue: string,
  bindings: QueueBindings,
  logger?: Logger,
): Promise<void> {
  const temporary = `${queue}.migrating`;
  const leftover = await exists(model, temporary);
  if (!leftover && (await declaredAsWanted(model, queue))) {
    await bind(model, queue, bindings);
    return;
  }
  logger?.warn(
    { queue, temporary },
    'the event queue was declared without single active consumer by an earlier version: rebuilding it, no message is lost',
  );
  const channel = await model.createConfirmChannel();
  try {
    await channel.assertQueue(temporary, {
      durable: true,
      arguments: { 'x-queue-type': 'quorum' },
    });
    await bindAll(channel, temporary, bindings);
    if (!(await declaredAsWanted(model, queue))) {
      await unbindAll(channel, queue, bindings);
      await move(channel, queue, temporary);
      await deleteEmptied(channel, queue);
      await channel.assertQueue(queue, { durable: true, arguments: EVENT_QUEUE_ARGUMENTS });
    }
    await bindAll(channel, queue, bindings);
    await unbindAll(channel, temporary, bindings);
    const moved = await move(channel, temporary, queue);
    await deleteEmptied(channel, temporary);
    logger?.info({ queue, moved }, 'rebuilt the event queue with single active consumer');
  } finally {
    await channel.close().catch(() => undefined);
  }
}

/** Binds on a channel of its own; the queue exists as wanted. */
async function bind(model: ChannelModel, queue: string, bindings: QueueBindings): Promise<void> {
  const channel = await model.createChannel();
  try {
    await bindAll(channel, queue, bindings);
  } finally {
    await channel.close().catch(() => undefined);
  }
}

async function bindAll(channel: Channel, queue: string, bindings: QueueBindings): Promise<void> {
  for (const key of bindings.keys) await channel.bindQueue(queue, bindings.exchange, key);
}

async function unbindAll(channel: Channel, queue: string, bindings: QueueBindings): Promise<void> {
  for (const key of bindings.keys) await channel.unbindQueue(queue, bindings.exchange, key);
}

/**
 * Whether `queue` is declared (now, if it was missing) with the wanted arguments. A refusal
 * closes the channel it came on, so each try has a channel of its own.
 */
async function declaredAsWanted(model: ChannelModel, queue: string): Promise<boolean> {
  const channel = await model.createChannel();
  channel.on('error', () => undefined);
  try {
    await channel.assertQueue(queue, { durable: true, arguments: EVENT_QUEUE_ARGUMENTS });
    await channel.close();
    return true;
  } catch (error) {
    if (error instanceof Error && /PRECONDITION_FAILED - inequivalent arg/.test(error.message)) {
      return false;
    }
    throw error;
  }
}

/** Whether `queue` exists (a passive declaration, on a channel of its own). */
async function exists(model: ChannelModel, queue: string): Promise<boolean> {
  const channel = await model.createChannel();
  channel.on('error', () => undefined);
  try {
    await channel.checkQueue(queue);
    await channel.close();
    return true;
  } catch (error) {
    if (error instanceof Error && /NOT_FOUND/.test(error.message)) return false;
    throw error;
  }
}

/** Moves every message of `from` to `to`: each is confirmed there before it is acked here. */
async function move(channel: ConfirmChannel, from: string, to: string): Promise<number> {
  let moved = 0;
  for (;;) {
    const message = await channel.get(from, { noAck: false });
    if (message === false) return moved;
    const original: unknown = message.properties.headers?.[ORIGINAL_ROUTING_KEY];
    const headers = {
      ...message.properties.headers,
      // Read by the consumer: the kind of event is in the key (see amqp-source.ts).
      [ORIGINAL_ROUTING_KEY]: typeof original === 'string' ? original : message.fields.routingKey,
    };
    const kept: Record<string, unknown> = {};
    for (const name of KEPT_PROPERTIES) {
      const value: unknown = message.properties[name];
      if (value !== undefined && value !== null) kept[name] = value;
    }
    channel.sendToQueue(to, message.content, { ...kept, headers, persistent: true });
    await channel.waitForConfirms();
    channel.ack(message);
    moved++;
  }
}

/**
 * Deletes a queue that `move` emptied and that nothing is bound to any more. Quorum queues
 * refuse `ifEmpty`, so the count is checked first: a message that is still there stops the
 * rebuild (it is not lost) and the next start tries again.
 */
async function deleteEmptied(channel: Channel, queue: string): Promise<void> {
  const { messageCount } = await channel.checkQueue(queue);
  if (messageCount > 0) {
    throw new Error(`queue ${queue} still holds ${messageCount} message(s) after they were moved`);
  }
  await channel.deleteQueue(queue);
}
