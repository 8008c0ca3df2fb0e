import { connect } from 'amqplib';
import { routingKeyWord } from '../../src/sources/routing-key.js';

/** Removes what a relay test declared on the shared broker: its queue, dead letters, exchange. */
export async function deleteRelayQueues(
  amqpUrl: string,
  queue: string,
  exchange?: string,
): Promise<void> {
  const connection = await connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    await channel.deleteQueue(queue);
    await channel.deleteQueue(`${queue}.dead-letter`);
    if (exchange !== undefined) await channel.deleteExchange(exchange);
  } finally {
    await connection.close();
  }
}

/**
 * A user admin event exactly as the RabbitMQ listener publishes it the moment Keycloak emits
 * it: routing key and body.
 */
export function listenerUserEvent(
  realm: string,
  userId: string,
  operation: 'CREATE' | 'UPDATE' | 'DELETE',
): { routingKey: string; body: Buffer } {
  return {
    routingKey: `KK.EVENT.ADMIN.${routingKeyWord(realm)}.SUCCESS.USER.${operation}`,
    body: Buffer.from(
      JSON.stringify({
        '@class': 'com.github.aznamier.keycloak.event.provider.EventAdminNotificationMqMsg',
        time: Date.now(),
        realmId: realm,
        resourceType: 'USER',
        operationType: operation,
        resourcePath: `users/${userId}`,
        resourceTypeAsString: 'USER',
      }),
    ),
  };
}
