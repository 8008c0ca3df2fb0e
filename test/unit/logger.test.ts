import { describe, expect, it } from 'vitest';
import {
  addLoggedSecret,
  createLogger,
  createTextRedactor,
  maskUrlPasswords,
  memoryDestination,
  REDACTED,
} from '../../src/logger.js';

const TOKEN = 'kestra-api-token-3b9d0c27e1f4';
const CLIENT_SECRET = 'kc-secret-a81f3d';

function capture(secrets: readonly string[] = [TOKEN, CLIENT_SECRET], level = 'info') {
  const destination = memoryDestination();
  const logger = createLogger({ level, secrets, destination });
  const output = (): string => destination.lines.join('');
  return { logger, destination, output };
}

describe('output', () => {
  it('writes one JSON line per record, with a level label and an ISO time', () => {
    const { logger, destination } = capture();
    logger.info({ userId: 'u1' }, 'user reconciled');
    expect(destination.lines).toHaveLength(1);
    expect(destination.lines[0]?.endsWith('\n')).toBe(true);
    const [record] = destination.records();
    expect(record).toMatchObject({ level: 'info', userId: 'u1', msg: 'user reconciled' });
    expect(new Date(String(record?.time)).toISOString()).toBe(record?.time);
  });

  it('honours the level', () => {
    const { logger, destination } = capture(undefined, 'warn');
    logger.info('dropped');
    logger.debug('dropped too');
    logger.warn('kept');
    expect(destination.records().map((r) => r.msg)).toEqual(['kept']);
  });
});

describe('redaction by path', () => {
  it.each([
    ['authorization', { authorization: `Bearer ${'x'.repeat(40)}` }],
    ['headers.authorization', { headers: { authorization: 'Basic dXNlcjpwYXNz' } }],
    ['headers.Authorization', { headers: { Authorization: 'Basic dXNlcjpwYXNz' } }],
    ['*.authorization', { request: { authorization: 'opaque-value-1' } }],
    ['Authorization', { Authorization: 'opaque-value-2' }],
    ['token', { token: 'opaque-value-3' }],
    ['*.token', { scim: { token: 'opaque-value-4' } }],
    ['clientSecret', { clientSecret: 'opaque-value-5' }],
    ['*.clientSecret', { keycloak: { clientSecret: 'opaque-value-6' } }],
    ['password', { password: 'opaque-value-7' }],
    ['*.password', { user: { password: 'opaque-value-8' } }],
    ['secret', { secret: 'opaque-value-9' }],
    ['access_token', { access_token: 'opaque-value-10' }],
  ])('censors %s', (_path, fields) => {
    const { logger, output } = capture([]);
    logger.info(fields, 'request');
    expect(output()).not.toMatch(/opaque-value|dXNlcjpwYXNz|xxxx/);
    expect(output()).toContain(REDACTED);
  });

  it('leaves neighbouring fields alone', () => {
    const { logger, destination } = capture([]);
    logger.info({ headers: { authorization: 'opaque', accept: 'application/scim+json' } });
    expect(destination.records()[0]).toMatchObject({
      headers: { authorization: REDACTED, accept: 'application/scim+json' },
    });
  });
});

describe('redaction by value', () => {
  it('blanks a known secret in the message, in nested objects and in arrays', () => {
    const { logger, output } = capture();
    logger.info(
      { a: { b: { c: { d: `prefix ${TOKEN} suffix` } } }, list: [CLIENT_SECRET] },
      `calling with ${TOKEN}`,
    );
    expect(output()).not.toContain(TOKEN);
    expect(output()).not.toContain(CLIENT_SECRET);
    expect(JSON.parse(output())).toMatchObject({
      msg: `calling with ${REDACTED}`,
      a: { b: { c: { d: `prefix ${REDACTED} suffix` } } },
      list: [REDACTED],
    });
  });

  it('blanks a token in an Error message and stack, the cause included', () => {
    const { logger, destination, output } = capture();
    const cause = new Error(`upstream refused ${CLIENT_SECRET}`);
    const error = new Error(`request with token ${TOKEN} failed`, { cause });
    expect(error.stack).toContain(TOKEN);
    logger.error({ err: error }, 'SCIM call failed');
    logger.error(error);
    expect(output()).not.toContain(TOKEN);
    expect(output()).not.toContain(CLIENT_SECRET);
    const [first, second] = destination.records();
    expect(first?.err).toMatchObject({ type: 'Error' });
    const serialized = first?.err as { message: string; stack: string };
    expect(serialized.message).toContain(`request with token ${REDACTED} failed`);
    expect(serialized.stack).toContain(`request with token ${REDACTED} failed`);
    expect(serialized.stack).toContain(`upstream refused ${REDACTED}`);
    expect(second?.msg).toBe(`request with token ${REDACTED} failed`);
  });

  it('blanks a Bearer header, whether the token is known or not', () => {
    const { logger, output } = capture();
    logger.info({ sent: { header: `Bearer ${TOKEN}` } }, 'known');
    logger.info(`retrying with Authorization: Bearer unknownOpaque.Token_value-9~+/=`);
    expect(output()).not.toContain(TOKEN);
    expect(output()).not.toContain('unknownOpaque');
    expect(output().match(/Bearer \[REDACTED\]/g)).toHaveLength(2);
  });

  it('blanks JWTs, which are fetched at run time and so cannot be known', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZXJ2aWNlLWFjY291bnQifQ.c2lnbmF0dXJlLWJ5dGVz';
    const { logger, output } = capture([]);
    logger.info({ body: `{"access":"${jwt}"}` }, 'token response');
    expect(output()).not.toContain('eyJzdWIi');
  });

  it('matches a secret that JSON escapes, and keeps the line valid JSON', () => {
    const tricky = 'pa"ss\\word\nline';
    const { logger, output } = capture([tricky]);
    logger.info({ note: `value=${tricky}` }, `message ${tricky}`);
    expect(JSON.parse(output())).toMatchObject({
      note: `value=${REDACTED}`,
      msg: `message ${REDACTED}`,
    });
  });

  it('matches a secret that was URL-encoded into a query or URL', () => {
    const secret = 'p@ss/word+1';
    const { logger, output } = capture([secret]);
    logger.info(`GET /token?client_secret=${encodeURIComponent(secret)}`);
    expect(output()).not.toContain(encodeURIComponent(secret));
    expect(output()).toContain(`client_secret=${REDACTED}`);
  });

  it('ignores secrets shorter than four characters', () => {
    const { logger, destination } = capture(['abc', '']);
    logger.info('abc is a fine word');
    expect(destination.records()[0]?.msg).toBe('abc is a fine word');
  });

  it('applies to child loggers', () => {
    const { logger, output } = capture();
    logger.child({ component: 'scim' }).warn(`token ${TOKEN}`);
    expect(output()).not.toContain(TOKEN);
    expect(output()).toContain('"component":"scim"');
  });
});

describe('secrets added at run time (re-read from their file)', () => {
  const ROTATED = 'kc-secret-rotated-7e2c91';

  it('blanks a secret added after the logger was made, in its children too, from then on', () => {
    const { logger, output } = capture();
    const child = logger.child({ part: 'keycloak' });
    expect(addLoggedSecret(child, ROTATED)).toBe(true);
    logger.info(`new secret ${ROTATED}`);
    child.warn({ detail: { secret2: ROTATED } }, 'rotated');
    logger.child({ later: true }).error(new Error(`refused ${ROTATED}; old ${CLIENT_SECRET}`));
    expect(output()).not.toContain(ROTATED);
    expect(output()).not.toContain(CLIENT_SECRET);
    expect(output().split(REDACTED).length - 1).toBeGreaterThanOrEqual(4);
  });

  it('says so when the logger was not made by createLogger, which alone can blank values', async () => {
    const { pino } = await import('pino');
    expect(addLoggedSecret(pino({ level: 'silent' }), ROTATED)).toBe(false);
  });
});

describe('URL passwords', () => {
  it('masks the password of any URL in the line, keeping user and host', () => {
    const { logger, destination } = capture([]);
    logger.info(
      { broker: 'amqp://relay:rabbit-pw@rabbit:5672/kc' },
      'connecting to amqps://relay:other-pw@rabbit.example.com/vhost and https://u:p%40ss@kc/admin',
    );
    const [record] = destination.records();
    expect(record?.broker).toBe('amqp://relay:***@rabbit:5672/kc');
    expect(record?.msg).toBe(
      'connecting to amqps://relay:***@rabbit.example.com/vhost and https://u:***@kc/admin',
    );
  });

  it('leaves URLs without a password as they are', () => {
    const text = 'see http://host:8080/path, amqp://user@rabbit/ and https://kc/?a=b:c@d';
    expect(maskUrlPasswords(text)).toBe(
      'see http://host:8080/path, amqp://user@rabbit/ and https://kc/?a=b:c@d',
    );
    expect(maskUrlPasswords('amqp://:pw@rabbit')).toBe('amqp://:***@rabbit');
  });
});

describe('createTextRedactor', () => {
  it('blanks the longer of two overlapping secrets whole', () => {
    const redact = createTextRedactor(['secret-one', 'secret-one-two']);
    expect(redact('a secret-one-two b secret-one')).toBe(`a ${REDACTED} b ${REDACTED}`);
  });

  it('treats secrets as text, not as patterns', () => {
    const redact = createTextRedactor(['a.b*c(d)']);
    expect(redact('x a.b*c(d) y aXbbc(d)')).toBe(`x ${REDACTED} y aXbbc(d)`);
  });
});
