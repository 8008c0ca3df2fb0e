import { createHash } from 'node:crypto';
import type { Hint } from '../domain/hint.js';
import { parseMessage } from './amqp-source.js';
import { DEAD_LETTER_HEADERS } from './dead-letter-headers.js';
import { eventKindOf } from './routing-key.js';

/** What a dead-lettered message is read from: the parts of an AMQP message the relay uses. */
export interface DeadLetterMessage {
  readonly content: Buffer;
  readonly fields: { readonly routingKey: string };
  readonly properties: { readonly headers?: Record<string, unknown> | undefined };
}

/** A dead-lettered message as an operator sees it. */
export interface DeadLetterInfo {
  /**
   * Stable while the message stays in the queue: the `x-relay-dead-letter-id` header, or, for
   * a message dead-lettered before the relay set it, `sha1:` and a hash of the routing key,
   * the dead-lettering time and the body.
   */
  readonly id: string;
  /** The routing key the listener published it with, as far as the headers tell. */
  readonly routingKey: string;
  readonly reason: string | undefined;
  /** When it was dead-lettered (ISO 8601), as the relay recorded it. */
  readonly deadLetteredAt: string | undefined;
  readonly bytes: number;
}

/** Reads what the relay's headers say about a dead-lettered message. Pure. */
export function describeDeadLetter(message: DeadLetterMessage): DeadLetterInfo {
  const headers = message.properties.headers ?? {};
  const text = (name: string): string | undefined => {
    const value = headers[name];
    if (typeof value === 'string') return value;
    // amqplib hands long strings of some publishers over as buffers.
    return Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
  };
  // Published to the dead-letter queue through the default exchange: its routing key is the
  // queue's name, and the listener's own is in the header.
  const routingKey = text(DEAD_LETTER_HEADERS.routingKey) ?? message.fields.routingKey;
  const deadLetteredAt = text(DEAD_LETTER_HEADERS.deadLetteredAt);
  const given = text(DEAD_LETTER_HEADERS.id);
  const id =
    given !== undefined && given !== ''
      ? given
      : `sha1:${createHash('sha1')
          .update(routingKey)
          .update('\n')
          .update(deadLetteredAt ?? '')
          .update('\n')
          .update(message.content)
          .digest('base64url')
          .slice(0, 16)}`;
  return {
    id,
    routingKey,
    reason: text(DEAD_LETTER_HEADERS.reason),
    deadLetteredAt,
    bytes: message.content.length,
  };
}

/** What replaying a dead-lettered message would do: reconcile these entities, or nothing, why. */
export type ReplayPlan = { readonly hints: readonly Hint[] } | { readonly unreplayable: string };

/**
 * The entities a dead-lettered message names, read with the relay's own parsing of the routing
 * key and body. Only the entities' ids are taken from it: a replay reads each one from
 * Keycloak afresh, as every event does, so an old or wrong body costs nothing. A message that
 * names no entity of this realm (not JSON, the wrong shape, another realm's, an event that
 * changes nothing provisioned) cannot be replayed. Pure.
 */
export function replayPlan(
  message: Pick<DeadLetterMessage, 'content'>,
  routingKey: string,
  /** True for this realm's id; otherwise why the message is not taken as this realm's. */
  realmCheck: (realmId: string) => true | string,
): ReplayPlan {
  const meaning = parseMessage(eventKindOf(routingKey), message);
  if ('error' in meaning) return { unreplayable: meaning.error };
  const ours = realmCheck(meaning.event.event.realmId);
  if (ours !== true) return { unreplayable: ours };
  if ('ignored' in meaning)
    return { unreplayable: `names nothing to provision: ${meaning.ignored}` };
  if (meaning.hints.length === 0) return { unreplayable: 'names nothing to provision' };
  return { hints: meaning.hints };
}
