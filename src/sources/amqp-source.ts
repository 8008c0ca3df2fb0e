import { createHash, randomUUID } from 'node:crypto';
import {
  connect,
  type Channel,
  type ChannelModel,
  type ConsumeMessage,
  type Message,
  type RecoveringChannelModel,
} from 'amqplib';
import type { Logger } from 'pino';
import type { Hint } from '../domain/hint.js';
import {
  adminEventSchema,
  describeParseError,
  eventFingerprint,
  hintsFromAdminEvent,
  hintsFromUserEvent,
  userEventSchema,
  type AdminEvent,
  type EventMeaning,
  type UserEvent,
} from '../domain/keycloak-event.js';
import { describeError } from '../errors.js';
import type { Outcome } from '../sync/work-queue.js';
import type { CrashGuard } from './crash-guard.js';
import type { RealmIdentity } from './realm-identity.js';
import { amqpTrust } from './amqp-trust.js';
import { bindingKeys, eventKindOf } from './routing-key.js';
import { DEAD_LETTER_HEADERS, deadLetterQueueOf } from './dead-letter-headers.js';
import { declareEventQueue } from './event-queue.js';

export interface AmqpSourceOptions {
  /** `amqp://user:pass@host:5672/vhost`; may carry a password, so it is never logged. */
  readonly url: string;
  /** Where the Keycloak listener publishes; `amq.topic` unless configured otherwise. */
  readonly exchange: string;
  readonly queue: string;
  readonly realm: string;
  /** Unacked messages in flight at most: bounds memory and the work a crash repeats. */
  readonly prefetch: number;
  /**
   * How long after its time an event is applied at the soonest. Keycloak publishes before it
   * drops the entity from its cache, so a read at once may return the values before the change.
   */
  readonly settleMs?: number | undefined;
  /**
   * PEM text of CA certificates to trust for `amqps://` (the content of `AMQP_CA_FILE`), in
   * addition to the public roots; `check` trusts the same file, so both commands agree.
   */
  readonly ca?: string | undefined;
  readonly logger?: Logger;
}

/** Counters a caller may want; the source calls them once per message. */
export interface AmqpSourceHooks {
  readonly onReceived?: (kind: 'admin' | 'user' | 'unknown') => void;
  readonly onDeadLettered?: (reason: string) => void;
  /** A valid event arrived: its fingerprint, so the backstop knows the queue brought it. */
  readonly onEvent?: (fingerprint: string) => void;
}

/** What the source needs besides the queue: where hints go, and what tells messages apart. */
export interface AmqpSourceDeps {
  readonly submit: (hint: Hint) => Promise<Outcome>;
  /** Keeps a message's hints as parked work, with why, when the message is set aside. */
  readonly setAside: (hints: readonly Hint[], reason: string) => void;
  /** Tells the configured realm's events from those of realms sharing its routing key. */
  readonly realm?: RealmIdentity | undefined;
  /** Detects a message that keeps killing the relay, from the relay's own records. */
  readonly crashGuard?: CrashGuard | undefined;
  /** Resolves once what the work kept is durable (the state store's replication caught up). */
  readonly durable?: (() => Promise<void>) | undefined;
}

/**
 * Consumes the Keycloak RabbitMQ listener's messages from a durable queue that the relay itself
 * declares and binds (the listener publishes transient messages to a topic exchange and drops
 * them when nothing is bound, so the queue must outlive the relay).
 *
 * Each message is acked only after its hints are applied (or parked, which keeps them). The
 * dead-letter queue is for poison only, messages that can never be applied: not JSON, the wrong
 * shape, another realm's. A valid message whose work keeps failing is parked, never dropped; one
 * that keeps killing the relay is set aside by the `CrashGuard` (its hints parked). After a lost
 * connection the source reconnects within seconds; messages in flight on the dead channel are
 * not acked there: the broker delivers them again, and reconciling twice is harmless.
 */
export class AmqpSource {
  private model: RecoveringChannelModel | undefined;
  private channel: Channel | undefined;
  private consumerTag: string | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = false;

  constructor(
    private readonly options: AmqpSourceOptions,
    private readonly deps: AmqpSourceDeps,
    private readonly hooks: AmqpSourceHooks = {},
  ) {}

  get deadLetterQueue(): string {
    return deadLetterQueueOf(this.options.queue);
  }

  /** Connects, declares the queues and bindings, and starts consuming. */
  async start(): Promise<void> {
    const log = this.options.logger;
    this.model = await connect(this.options.url, {
      ...amqpTrust(this.options.ca),
      // Named, so an operator sees in RabbitMQ's UI which queue a connection consumes.
      clientProperties: { connection_name: `keycloak-scim-relay ${this.options.queue}` },
      recovery: {
        initialMaxRetries: 3,
        // Back within a few seconds of the broker's return, not after a 30 s backoff.
        initialDelay: 200,
        maxDelay: 2_000,
        setup: async (model: ChannelModel): Promise<void> => {
          await declareEventQueue(
            model,
            this.options.queue,
            { exchange: this.options.exchange, keys: bindingKeys(this.options.realm) },
            log,
          );
          const channel = await model.createConfirmChannel();
          channel.on('error', (error: Error) =>
            log?.warn({ error: error.message }, 'AMQP channel error'),
          );
          await channel.assertQueue(this.deadLetterQueue, { durable: true });
          await channel.prefetch(this.prefetchNow());
          const { consumerTag } = await channel.consume(
            this.options.queue,
            (message: ConsumeMessage | null) => {
              if (message !== null) {
                this.track(
                  this.handle(channel, message).catch((error: unknown) =>
                    this.giveBack(channel, message, error),
                  ),
                );
              }
            },
            { noAck: false },
          );
          this.channel = channel;
          this.consumerTag = consumerTag;
          log?.info({ queue: this.options.queue }, 'consuming Keycloak events from RabbitMQ');
        },
      },
    });
    this.model.on('disconnect', (error: Error) => {
      // Not ready until the channel is set up again (readiness reads `connected`).
      this.channel = undefined;
      log?.warn({ error: error.message }, 'lost the RabbitMQ connection; reconnecting');
    });
    this.model.on('reconnect-failed', (error: Error) => {
      log?.error({ error: error.message }, 'gave up reconnecting to RabbitMQ');
    });
    this.model.on('error', (error: Error) => log?.warn({ error: error.message }, 'AMQP error'));
  }

  /** Stops consuming, lets in-flight messages finish (and ack), then closes. */
  async stop(): Promise<void> {
    this.stopping = true;
    const channel = this.channel;
    if (channel !== undefined && this.consumerTag !== undefined) {
      await channel.cancel(this.consumerTag).catch(() => undefined);
    }
    await Promise.allSettled([...this.inFlight]);
    // Close the channel before the connection: a quorum queue that sees the connection end right
    // after the last acks may return those messages instead (RabbitMQ 3.10 does), and every
    // message finished during the stop would be delivered again.
    await channel?.close().catch(() => undefined);
    await this.model?.close().catch(() => undefined);
  }

  /** Whether the connection is up and consuming. */
  get connected(): boolean {
    return this.channel !== undefined && !this.stopping;
  }

  /** One message at a time while the crash guard is careful; the configured window otherwise. */
  private prefetchNow(): number {
    return this.deps.crashGuard?.careful === true ? 1 : this.options.prefetch;
  }

  private track(task: Promise<void>): void {
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
  }

  private async handle(channel: Channel, message: ConsumeMessage): Promise<void> {
    const kind = eventKindOf(routingKeyOf(message));
    this.hooks.onReceived?.(kind ?? 'unknown');

    const meaning = parseMessage(kind, message);
    if ('error' in meaning) {
      await this.deadLetter(channel, message, meaning.error);
      return;
    }
    const realmId = meaning.event.event.realmId;
    if (this.deps.realm !== undefined && !(await this.deps.realm.isOurs(realmId))) {
      await this.deadLetter(
        channel,
        message,
        `an event of another realm (realmId ${realmId}) whose name gives the same routing key as realm ${this.options.realm}`,
      );
      return;
    }
    this.hooks.onEvent?.(eventFingerprint(meaning.event));
    if ('ignored' in meaning) {
      this.options.logger?.debug({ routingKey: routingKeyOf(message) }, meaning.ignored);
    }
    const guard = this.deps.crashGuard;
    const setAside = guard?.beforeMessage(messageFingerprint(message));
    if (setAside !== undefined) {
      this.deps.setAside(meaning.hints, setAside);
      this.options.logger?.error(
        { routingKey: routingKeyOf(message), reason: setAside },
        `set a message aside, its work parked: ${setAside}`,
      );
    } else {
      const wait = settleDelayMs(meaning.event.event.time, Date.now(), this.options.settleMs ?? 0);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      try {
        await Promise.all(meaning.hints.map((hint) => this.deps.submit(hint)));
      } catch (error) {
        // The queue is closing: leave the message unacked; the broker will deliver it again.
        this.options.logger?.info({ error: describeError(error) }, 'left a message for redelivery');
        return;
      }
    }
    // What the work kept (id maps, parked hints) must survive this replica before the message
    // leaves the queue; a store replicated to PostgreSQL may still hold it only locally.
    await this.deps.durable?.();
    ackIfOpen(channel, message, this.channel);
    if (guard?.afterMessage() === true) {
      await channel.prefetch(this.options.prefetch).catch(() => undefined);
    }
  }

  /**
   * A message whose handling failed unexpectedly (the dead-letter publish was not confirmed, the
   * channel broke) goes back to the queue after a pause, rather than hold a prefetch slot until
   * the next reconnect; the pause keeps a lasting fault from spinning.
   */
  private async giveBack(channel: Channel, message: ConsumeMessage, error: unknown): Promise<void> {
    this.options.logger?.warn(
      { routingKey: routingKeyOf(message), error: describeError(error) },
      'could not finish a message; it goes back to the queue',
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    if (channel !== this.channel) return;
    try {
      channel.nack(message, false, true);
    } catch {
      // The channel died meanwhile: the broker delivers the message again anyway.
    }
  }

  /** Publishes to the dead-letter queue with the reason, waits for the broker's confirm, acks. */
  private async deadLetter(
    channel: Channel,
    message: ConsumeMessage,
    reason: string,
  ): Promise<void> {
    const confirm = channel as Channel & { waitForConfirms(): Promise<void> };
    channel.sendToQueue(this.deadLetterQueue, message.content, {
      persistent: true,
      ...(typeof message.properties.contentType === 'string'
        ? { contentType: message.properties.contentType }
        : {}),
      headers: {
        ...message.properties.headers,
        [DEAD_LETTER_HEADERS.reason]: reason,
        [DEAD_LETTER_HEADERS.routingKey]: routingKeyOf(message),
        [DEAD_LETTER_HEADERS.exchange]: message.fields.exchange,
        [DEAD_LETTER_HEADERS.deadLetteredAt]: new Date().toISOString(),
        // Names the message for `dead-letter list` and `replay --id` while it stays there.
        [DEAD_LETTER_HEADERS.id]: randomUUID(),
      },
    });
    await confirm.waitForConfirms();
    this.hooks.onDeadLettered?.(reason);
    this.options.logger?.error(
      { routingKey: routingKeyOf(message), reason, queue: this.deadLetterQueue },
      `dead-lettered a message: ${reason}`,
    );
    ackIfOpen(channel, message, this.channel);
  }
}

/**
 * How long to hold an event that happened at `eventTime` before reading what it changed: what is
 * left of `settleMs` since then. Never more than `settleMs`, so a Keycloak clock ahead of ours
 * costs no more than the settle time; an event from a backlog waits not at all.
 */
export function settleDelayMs(eventTime: number, now: number, settleMs: number): number {
  return Math.min(settleMs, Math.max(0, eventTime + settleMs - now));
}

/** The event a message carries, by kind. */
export type ParsedEvent =
  | { readonly kind: 'admin'; readonly event: AdminEvent }
  | { readonly kind: 'user'; readonly event: UserEvent };

type ParsedMessage = (EventMeaning & { readonly event: ParsedEvent }) | { readonly error: string };

/** A message body as hints, or the reason it is poison. Pure apart from JSON parsing. */
export function parseMessage(
  kind: 'admin' | 'user' | undefined,
  message: Pick<ConsumeMessage, 'content'>,
): ParsedMessage {
  let body: unknown;
  try {
    body = JSON.parse(message.content.toString('utf8'));
  } catch {
    return { error: 'malformed event: the body is not JSON' };
  }
  const resolved = kind ?? guessKind(body);
  if (resolved === 'admin') {
    const parsed = adminEventSchema.safeParse(body);
    return parsed.success
      ? { ...hintsFromAdminEvent(parsed.data), event: { kind: 'admin', event: parsed.data } }
      : { error: describeParseError('admin event', parsed.error) };
  }
  if (resolved === 'user') {
    const parsed = userEventSchema.safeParse(body);
    return parsed.success
      ? { ...hintsFromUserEvent(parsed.data), event: { kind: 'user', event: parsed.data } }
      : { error: describeParseError('user event', parsed.error) };
  }
  return { error: 'malformed event: neither an admin event nor a user event' };
}

/**
 * The routing key the listener published a message with. A message moved between queues by
 * the relay (a queue rebuilt, see `event-queue.ts`) arrives through the default exchange, and
 * carries its original key in a header.
 */
function routingKeyOf(message: Message): string {
  const original: unknown = message.properties.headers?.[DEAD_LETTER_HEADERS.routingKey];
  return message.fields.exchange === '' && typeof original === 'string'
    ? original
    : message.fields.routingKey;
}

/** What identifies one message for the crash guard: its routing key and body. */
function messageFingerprint(message: ConsumeMessage): string {
  return createHash('sha1')
    .update(routingKeyOf(message))
    .update('\n')
    .update(message.content)
    .digest('base64url');
}

function guessKind(body: unknown): 'admin' | 'user' | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  if ('operationType' in body) return 'admin';
  if ('type' in body) return 'user';
  return undefined;
}

/**
 * Acks on the channel the message came from, and only while that channel is the live one: an
 * ack on a channel that has since closed would be refused, and the broker redelivers instead.
 */
function ackIfOpen(channel: Channel, message: ConsumeMessage, live: Channel | undefined): void {
  if (channel !== live) return;
  try {
    channel.ack(message);
  } catch {
    // The channel died between the check and the ack: the broker will deliver again.
  }
}
