import { ORIGINAL_ROUTING_KEY } from './event-queue.js';

/** The headers the relay sets on a message it dead-letters (see `AmqpSource.deadLetter`). */
export const DEAD_LETTER_HEADERS = {
  /** Why the message was dead-lettered. */
  reason: 'x-relay-reason',
  /** The routing key the listener published it with. */
  routingKey: ORIGINAL_ROUTING_KEY,
  /** The exchange it came through. */
  exchange: 'x-relay-exchange',
  /** When, as ISO 8601. */
  deadLetteredAt: 'x-relay-dead-lettered-at',
  /** A UUID given at dead-lettering: names the message for `dead-letter replay --id`. */
  id: 'x-relay-dead-letter-id',
} as const;

/** The dead-letter queue of the relay's queue `queue`. */
export function deadLetterQueueOf(queue: string): string {
  return `${queue}.dead-letter`;
}
