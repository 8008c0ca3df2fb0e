import { describe, expect, it } from 'vitest';
import { groupHint, userHint } from '../../src/domain/hint.js';
import { DEAD_LETTER_HEADERS, deadLetterQueueOf } from '../../src/sources/dead-letter-headers.js';
import { describeDeadLetter, replayPlan } from '../../src/sources/dead-letters.js';

const adminKey = 'KK.EVENT.ADMIN.demo.SUCCESS.USER.UPDATE';
const adminBody = (extra: Record<string, unknown> = {}): Buffer =>
  Buffer.from(
    JSON.stringify({
      time: 1_700_000_000_000,
      realmId: 'realm-id',
      operationType: 'UPDATE',
      resourceType: 'USER',
      resourcePath: 'users/u-1',
      representation: JSON.stringify({ id: 'u-1', firstName: 'Stale' }),
      ...extra,
    }),
  );
const ours = (realmId: string): true | string =>
  realmId === 'realm-id' || `an event of another realm (realmId ${realmId})`;

describe('dead-lettered messages', () => {
  it('names the dead-letter queue after the relay queue', () => {
    expect(deadLetterQueueOf('keycloak-scim-relay.demo')).toBe(
      'keycloak-scim-relay.demo.dead-letter',
    );
  });

  it('reads the relay’s headers: id, original routing key, reason, time', () => {
    expect(
      describeDeadLetter({
        content: Buffer.from('{not json'),
        fields: { routingKey: 'q.dead-letter' },
        properties: {
          headers: {
            [DEAD_LETTER_HEADERS.id]: '6f7e2c1a-0000-4000-8000-000000000001',
            [DEAD_LETTER_HEADERS.reason]: 'malformed event: the body is not JSON',
            [DEAD_LETTER_HEADERS.routingKey]: adminKey,
            [DEAD_LETTER_HEADERS.deadLetteredAt]: '2025-01-02T03:04:05.000Z',
          },
        },
      }),
    ).toEqual({
      id: '6f7e2c1a-0000-4000-8000-000000000001',
      routingKey: adminKey,
      reason: 'malformed event: the body is not JSON',
      deadLetteredAt: '2025-01-02T03:04:05.000Z',
      bytes: 9,
    });
  });

  it('gives a message from before the id header a stable id of its content', () => {
    const message = {
      content: Buffer.from('{not json'),
      fields: { routingKey: 'q.dead-letter' },
      properties: {
        headers: {
          [DEAD_LETTER_HEADERS.routingKey]: Buffer.from(adminKey),
          [DEAD_LETTER_HEADERS.deadLetteredAt]: '2025-01-02T03:04:05.000Z',
        },
      },
    };
    const info = describeDeadLetter(message);
    expect(info.id).toMatch(/^sha1:[\w-]{16}$/);
    expect(info.routingKey).toBe(adminKey);
    expect(info.reason).toBeUndefined();
    expect(describeDeadLetter(message).id).toBe(info.id);
    expect(describeDeadLetter({ ...message, content: Buffer.from('{other') }).id).not.toBe(info.id);
  });

  it('falls back on the routing key the message arrived with when no header names one', () => {
    const info = describeDeadLetter({
      content: Buffer.from('x'),
      fields: { routingKey: adminKey },
      properties: {},
    });
    expect(info).toMatchObject({
      routingKey: adminKey,
      reason: undefined,
      deadLetteredAt: undefined,
    });
  });

  it('replays the entities a message names, never its body', () => {
    expect(replayPlan({ content: adminBody() }, adminKey, ours)).toEqual({
      hints: [userHint('u-1')],
    });
    expect(
      replayPlan(
        { content: adminBody({ resourceType: 'GROUP', resourcePath: 'groups/g-1' }) },
        'KK.EVENT.ADMIN.demo.SUCCESS.GROUP.UPDATE',
        ours,
      ),
    ).toEqual({ hints: [groupHint('g-1', true)] });
  });

  it('cannot replay what names no entity of this realm', () => {
    expect(replayPlan({ content: Buffer.from('{not json') }, adminKey, ours)).toEqual({
      unreplayable: 'malformed event: the body is not JSON',
    });
    expect(
      replayPlan(
        { content: Buffer.from(JSON.stringify({ time: 1, realmId: 'realm-id' })) },
        adminKey,
        ours,
      ),
    ).toMatchObject({ unreplayable: expect.stringMatching(/^malformed admin event: /) as unknown });
    expect(replayPlan({ content: adminBody({ realmId: 'other' }) }, adminKey, ours)).toEqual({
      unreplayable: 'an event of another realm (realmId other)',
    });
    expect(
      replayPlan(
        { content: adminBody({ resourceType: 'CLIENT', resourcePath: 'clients/c-1' }) },
        'KK.EVENT.ADMIN.demo.SUCCESS.CLIENT.UPDATE',
        ours,
      ),
    ).toEqual({ unreplayable: 'names nothing to provision: resource CLIENT is not provisioned' });
  });
});
