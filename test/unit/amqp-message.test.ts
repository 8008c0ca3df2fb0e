import { describe, expect, it } from 'vitest';
import { membershipHint, userHint } from '../../src/domain/hint.js';
import { parseMessage, settleDelayMs } from '../../src/sources/amqp-source.js';
import { bindingKeys, eventKindOf, routingKeyWord } from '../../src/sources/routing-key.js';

const message = (body: unknown) => ({
  content: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
});

describe('routing keys', () => {
  it('encodes a realm the way the listener does', () => {
    expect(routingKeyWord('my.realm')).toBe('myrealm');
    expect(routingKeyWord('Acme Corp (EU)/prod')).toBe('Acme_Corp_EUprod');
    expect(routingKeyWord('dev-realm_1')).toBe('dev-realm_1');
  });

  it('binds every successful admin event and the user events that change a user', () => {
    const keys = bindingKeys('acme.eu');
    expect(keys).toContain('KK.EVENT.ADMIN.acmeeu.SUCCESS.#');
    expect(keys).toContain('KK.EVENT.CLIENT.acmeeu.SUCCESS.#.REGISTER');
    expect(keys).toContain('KK.EVENT.CLIENT.acmeeu.SUCCESS.#.UPDATE_PROFILE');
    expect(keys.some((k) => k.endsWith('.LOGIN'))).toBe(false);
  });

  it('never binds a realm whose word is a lone wildcard as that wildcard', () => {
    expect(bindingKeys('#')).toContain('KK.EVENT.ADMIN.*.SUCCESS.#');
    expect(bindingKeys('#').some((k) => k.startsWith('KK.EVENT.ADMIN.#'))).toBe(false);
    expect(bindingKeys('*.')).toContain('KK.EVENT.CLIENT.*.SUCCESS.#.REGISTER');
    // Inside a longer word they are plain characters to RabbitMQ.
    expect(bindingKeys('a#b')).toContain('KK.EVENT.ADMIN.a#b.SUCCESS.#');
  });

  it('tells admin from user events by the key', () => {
    expect(eventKindOf('KK.EVENT.ADMIN.r.SUCCESS.USER.CREATE')).toBe('admin');
    expect(eventKindOf('KK.EVENT.CLIENT.r.SUCCESS.account.REGISTER')).toBe('user');
    expect(eventKindOf('something.else')).toBeUndefined();
  });
});

describe('listener messages', () => {
  it('reads an admin event in the listener’s format', () => {
    const body = {
      '@class': 'com.github.aznamier.keycloak.event.provider.EventAdminNotificationMqMsg',
      time: 1_700_000_000_000,
      realmId: 'r-id',
      authDetails: {
        realmId: 'master',
        clientId: 'admin-cli',
        userId: 'x',
        ipAddress: '127.0.0.1',
      },
      resourceType: 'GROUP_MEMBERSHIP',
      operationType: 'CREATE',
      resourcePath: 'users/u1/groups/g1',
      representation: '{"id":"g1","name":"eng","path":"/eng"}',
      resourceTypeAsString: 'GROUP_MEMBERSHIP',
    };
    const parsed = parseMessage('admin', message(body));
    expect(parsed).toMatchObject({ hints: [membershipHint('u1', 'g1')] });
    // The event itself travels along, so the realm check and the backstop can read it.
    expect('event' in parsed && parsed.event).toMatchObject({
      kind: 'admin',
      event: { realmId: 'r-id' },
    });
  });

  it('reads a user event in the listener’s format', () => {
    const body = {
      '@class': 'com.github.aznamier.keycloak.event.provider.EventClientNotificationMqMsg',
      time: 1,
      type: 'UPDATE_PROFILE',
      realmId: 'r-id',
      clientId: 'account-console',
      userId: 'u9',
      ipAddress: '127.0.0.1',
      details: { context: 'ACCOUNT' },
    };
    const parsed = parseMessage('user', message(body));
    expect(parsed).toMatchObject({ hints: [userHint('u9')] });
    expect('event' in parsed && parsed.event).toMatchObject({
      kind: 'user',
      event: { userId: 'u9' },
    });
  });

  it('names what is wrong with a poison message', () => {
    expect(parseMessage('admin', message('not json'))).toEqual({
      error: 'malformed event: the body is not JSON',
    });
    const bad = parseMessage('admin', message({ time: 1, realmId: 'r' }));
    expect(bad).toHaveProperty('error');
    expect('error' in bad && bad.error).toMatch(/malformed admin event: operationType/);
    expect(parseMessage(undefined, message({ hello: 'world' }))).toEqual({
      error: 'malformed event: neither an admin event nor a user event',
    });
  });
});

describe('settling an event before reading what it changed', () => {
  it('waits out what is left of the settle time since the event happened', () => {
    expect(settleDelayMs(1_000, 1_000, 100)).toBe(100);
    expect(settleDelayMs(1_000, 1_030, 100)).toBe(70);
  });

  it('does not wait for an event from a backlog', () => {
    expect(settleDelayMs(1_000, 1_100, 100)).toBe(0);
    expect(settleDelayMs(1_000, 60_000, 100)).toBe(0);
  });

  it("waits no longer than the settle time when Keycloak's clock is ahead", () => {
    expect(settleDelayMs(5_000, 1_000, 100)).toBe(100);
  });

  it('never waits with settling turned off', () => {
    expect(settleDelayMs(5_000, 1_000, 0)).toBe(0);
  });
});
