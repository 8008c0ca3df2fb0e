import { connect, type ConfirmChannel } from 'amqplib';

/**
 * Runs `task` on a confirm channel of the private broker and closes the connection after: the
 * scenarios inspect the relay's queues and publish malformed messages with it.
 */
export async function withBroker<T>(
  amqpUrl: string,
  task: (channel: ConfirmChannel) => Promise<T>,
): Promise<T> {
  const connection = await connect(amqpUrl);
  try {
    const channel = await connection.createConfirmChannel();
    return await task(channel);
  } finally {
    await connection.close();
  }
}

/** Messages ready in `queue` (0 when it does not exist). */
export async function queueDepth(amqpUrl: string, queue: string): Promise<number> {
  try {
    return await withBroker(
      amqpUrl,
      async (channel) => (await channel.checkQueue(queue)).messageCount,
    );
  } catch (error) {
    // A queue that was never declared holds nothing; any other failure is one.
    if (typeof error === 'object' && error !== null && Reflect.get(error, 'code') === 404) return 0;
    throw error;
  }
}
