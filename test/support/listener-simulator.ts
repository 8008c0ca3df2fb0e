import { connect, type Channel, type ChannelModel } from 'amqplib';
import type KeycloakAdminClient from '@keycloak/keycloak-admin-client';
import { fingerprint } from '../../src/sources/event-window.js';
import { routingKeyWord } from '../../src/sources/routing-key.js';

/**
 * Stands in for the Keycloak RabbitMQ listener: it reads the real admin and user events Keycloak
 * stored, rebuilds each message as the listener would (body fields, `@class`, routing key), and
 * publishes it to a real RabbitMQ exchange. The e2e stack runs the real listener too; this one
 * remains for what the real one cannot do: publish to a private exchange per suite, replay
 * stored events, and (with `forward: false`) publish only what a test hands it, such as
 * malformed messages, beside the real listener's own.
 */
export class ListenerSimulator {
  private readonly published = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> = Promise.resolve();

  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: Channel,
    private readonly admin: KeycloakAdminClient,
    private readonly realm: string,
    readonly exchange: string,
    private readonly variant: 'aznamier' | 'focus-shift',
    private readonly ownsExchange: boolean,
  ) {}

  static async start(options: {
    amqpUrl: string;
    admin: KeycloakAdminClient;
    realm: string;
    exchange: string;
    variant?: 'aznamier' | 'focus-shift';
    /**
     * Republish the events Keycloak stores. Default: true. False leaves only
     * {@link publishRaw}, for a suite whose realm publishes through the real listener.
     */
    forward?: boolean;
  }): Promise<ListenerSimulator> {
    const connection = await connect(options.amqpUrl);
    const channel = await connection.createChannel();
    // The listener never declares its exchange; here the test owns a private one. RabbitMQ's
    // own amq.* exchanges (the real listener's amq.topic) exist already and are never deleted.
    const ownsExchange = !options.exchange.startsWith('amq.');
    if (ownsExchange) {
      await channel.assertExchange(options.exchange, 'topic', {
        durable: false,
        autoDelete: false,
      });
    }
    const simulator = new ListenerSimulator(
      connection,
      channel,
      options.admin,
      options.realm,
      options.exchange,
      options.variant ?? 'aznamier',
      ownsExchange,
    );
    if (options.forward === false) return simulator;
    // Events that exist before the test starts are not the test's to publish.
    await simulator.forward(true);
    simulator.timer = setInterval(() => {
      simulator.busy = simulator.busy.then(() => simulator.forward(false)).catch(() => undefined);
    }, 150);
    return simulator;
  }

  /** Publishes a raw message as-is, for poison-message tests. */
  publishRaw(routingKey: string, body: string, headers?: Record<string, unknown>): void {
    this.channel.publish(this.exchange, routingKey, Buffer.from(body), {
      ...(headers === undefined ? {} : { headers }),
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.busy;
    if (this.ownsExchange) await this.channel.deleteExchange(this.exchange).catch(() => undefined);
    await this.connection.close();
  }

  private async forward(skip: boolean): Promise<void> {
    const realmWord = routingKeyWord(this.realm);
    const adminEvents = (await this.admin.realms.findAdminEvents({
      realm: this.realm,
      max: 200,
    })) as unknown as Record<string, unknown>[];
    const userEvents = (await this.admin.realms.findEvents({
      realm: this.realm,
      max: 200,
    })) as unknown as Record<string, unknown>[];
    // Stored newest first; the listener publishes in the order things happened.
    for (const event of [...adminEvents].reverse()) {
      const key = fingerprint({ time: Number(event['time']), raw: event });
      if (this.published.has(key)) continue;
      this.published.add(key);
      if (skip) continue;
      const body = {
        '@class': 'com.github.aznamier.keycloak.event.provider.EventAdminNotificationMqMsg',
        ...event,
        resourceTypeAsString: event['resourceType'],
        ...(this.variant === 'focus-shift' ? { details: {} } : {}),
      };
      const status = event['error'] === undefined ? 'SUCCESS' : 'ERROR';
      const routingKey = `KK.EVENT.ADMIN.${realmWord}.${status}.${String(event['resourceType'])}.${String(event['operationType'])}`;
      this.channel.publish(this.exchange, routingKey, Buffer.from(JSON.stringify(body)), {
        contentType: 'application/json',
      });
    }
    for (const event of [...userEvents].reverse()) {
      const key = fingerprint({ time: Number(event['time']), raw: event });
      if (this.published.has(key)) continue;
      this.published.add(key);
      if (skip) continue;
      const body = {
        '@class': 'com.github.aznamier.keycloak.event.provider.EventClientNotificationMqMsg',
        ...event,
      };
      const status = event['error'] === undefined ? 'SUCCESS' : 'ERROR';
      const clientId = event['clientId'];
      const client = routingKeyWord(typeof clientId === 'string' ? clientId : '');
      const routingKey = `KK.EVENT.CLIENT.${realmWord}.${status}.${client}.${String(event['type'])}`;
      this.channel.publish(this.exchange, routingKey, Buffer.from(JSON.stringify(body)), {
        contentType: 'application/json',
      });
    }
  }
}
