import { USER_EVENT_TYPES } from '../domain/keycloak-event.js';

/**
 * A realm name or client id as the RabbitMQ event listener writes it into routing keys: dots
 * removed (they separate words), characters outside `[*#a-zA-Z0-9 _-]` dropped, spaces turned
 * into `_`; case kept.
 */
export function routingKeyWord(value: string): string {
  return value
    .replaceAll('.', '')
    .replace(/[^*#a-zA-Z0-9 _-]/g, '')
    .replaceAll(' ', '_');
}

/**
 * The bindings the relay's queue needs for one realm: every successful admin event, and the
 * user events that can change a user. Login events and failures are not bound, so they never
 * cost the relay a delivery.
 */
export function bindingKeys(realm: string): string[] {
  const word = bindingWord(routingKeyWord(realm));
  return [
    `KK.EVENT.ADMIN.${word}.SUCCESS.#`,
    // The client id sits between SUCCESS and the type, and may be missing: `#` covers both.
    ...USER_EVENT_TYPES.map((type) => `KK.EVENT.CLIENT.${word}.SUCCESS.#.${type}`),
  ];
}

/**
 * A routing-key word as a binding word. A realm whose word is a lone `#` would bind every realm's
 * events and a lone `*` every one-word realm's; AMQP has no escape for them, so both bind as `*`
 * (one word, any), and the events of other realms that come with it are refused by their
 * `realmId`. Inside a longer word, `#` and `*` are plain characters to RabbitMQ.
 */
function bindingWord(word: string): string {
  return word === '#' || word === '*' ? '*' : word;
}

/** Which kind of event a routing key carries, or `undefined` for a key the relay did not bind. */
export function eventKindOf(routingKey: string): 'admin' | 'user' | undefined {
  if (routingKey.startsWith('KK.EVENT.ADMIN.')) return 'admin';
  if (routingKey.startsWith('KK.EVENT.CLIENT.')) return 'user';
  return undefined;
}
