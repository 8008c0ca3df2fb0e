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
 * An admin event exactly as the RabbitMQ listener publishes it the moment Keycloak emits it:
 * routing key and body (null fields omitted, `representation` a JSON string).
 */
export function listenerAdminEvent(
  realm: string,
  event: {
    resourceType: string;
    operationType: string;
    resourcePath: string;
    representation?: unknown;
  },
): { routingKey: string; body: Buffer } {
  return {
    routingKey: `KK.EVENT.ADMIN.${routingKeyWord(realm)}.SUCCESS.${event.resourceType}.${event.operationType}`,
    body: Buffer.from(
      JSON.stringify({
        '@class': 'com.github.aznamier.keycloak.event.provider.EventAdminNotificationMqMsg',
        time: Date.now(),
        realmId: realm,
        authDetails: { realmId: 'master', clientId: 'admin-cli', ipAddress: '127.0.0.1' },
        resourceType: event.resourceType,
        operationType: event.operationType,
        resourcePath: event.resourcePath,
        ...(event.representation === undefined
          ? {}
          : { representation: JSON.stringify(event.representation) }),
        resourceTypeAsString: event.resourceType,
      }),
    ),
  };
}

/** A user admin event as the listener publishes it (see {@link listenerAdminEvent}). */
export function listenerUserEvent(
  realm: string,
  userId: string,
  operation: 'CREATE' | 'UPDATE' | 'DELETE',
): { routingKey: string; body: Buffer } {
  return listenerAdminEvent(realm, {
    resourceType: 'USER',
    operationType: operation,
    resourcePath: `users/${userId}`,
  });
}

/**
 * A user (login-flow) event as the listener publishes it: `KK.EVENT.CLIENT.<realm>.SUCCESS.
 * <clientId>.<TYPE>`, with the client's body class.
 */
export function listenerClientEvent(
  realm: string,
  clientId: string,
  type: string,
  userId: string,
): { routingKey: string; body: Buffer } {
  return {
    routingKey: `KK.EVENT.CLIENT.${routingKeyWord(realm)}.SUCCESS.${routingKeyWord(clientId)}.${type}`,
    body: Buffer.from(
      JSON.stringify({
        '@class': 'com.github.aznamier.keycloak.event.provider.EventClientNotificationMqMsg',
        time: Date.now(),
        type,
        realmId: realm,
        clientId,
        userId,
        sessionId: 'session-1',
        ipAddress: '127.0.0.1',
        details: { auth_method: 'openid-connect', username: 'someone' },
      }),
    ),
  };
}
