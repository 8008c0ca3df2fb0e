import { describe, expect, it } from 'vitest';
import { parseDeadLetterArgs } from '../../src/app/dead-letter-command.js';
import {
  deadLetterListExitCode,
  deadLetterListJson,
  deadLetterListLines,
  replayExitCode,
  replayJson,
  replayLines,
  type DeadLetterEntry,
  type ReplayReport,
} from '../../src/app/dead-letter-format.js';
import { userHint } from '../../src/domain/hint.js';
import { ConfigError } from '../../src/errors.js';

const queue = 'relay.demo.dead-letter';
const poison: DeadLetterEntry = {
  info: {
    id: 'id-1',
    routingKey: 'KK.EVENT.ADMIN.demo.SUCCESS.USER.CREATE',
    reason: 'malformed event: the body is not JSON',
    deadLetteredAt: '2025-06-01T11:00:00.000Z',
    bytes: 9,
  },
  plan: { unreplayable: 'malformed event: the body is not JSON' },
};
const stale: DeadLetterEntry = {
  info: {
    id: 'sha1:abcdefghijklmnop',
    routingKey: 'KK.EVENT.ADMIN.demo.SUCCESS.USER.UPDATE',
    reason: undefined,
    deadLetteredAt: undefined,
    bytes: 120,
  },
  plan: { hints: [userHint('u-1')] },
};

describe('dead-letter list and replay', () => {
  it('reads its actions and options', () => {
    expect(parseDeadLetterArgs(['list', '--json'])).toEqual({
      action: 'list',
      json: true,
      limit: 100,
    });
    expect(parseDeadLetterArgs(['list', '--limit', '5'])).toEqual({
      action: 'list',
      json: false,
      limit: 5,
    });
    expect(parseDeadLetterArgs(['replay', '--all', '--limit', '20'])).toEqual({
      action: 'replay',
      json: false,
      ids: [],
      all: true,
      limit: 20,
      timeoutMs: 300_000,
    });
    expect(parseDeadLetterArgs(['replay', '--all'])).toEqual({
      action: 'replay',
      json: false,
      ids: [],
      all: true,
      timeoutMs: 300_000,
    });
    expect(parseDeadLetterArgs(['replay', '--id', 'a', '--id', 'b', '--json'])).toEqual({
      action: 'replay',
      json: true,
      ids: ['a', 'b'],
      all: false,
      timeoutMs: 300_000,
    });
  });

  it('refuses what does not say what to do', () => {
    for (const argv of [
      [],
      ['replay'],
      ['replay', '--all', '--id', 'a'],
      ['replay', 'a'],
      ['list', '--all'],
      ['purge'],
      ['list', '--limit', '0'],
      ['list', '--limit', '2.5'],
      ['list', '--limit', 'ten'],
      ['replay', '--id', 'a', '--limit', '3'],
    ]) {
      expect(() => parseDeadLetterArgs(argv), argv.join(' ')).toThrow(ConfigError);
    }
  });

  it('lists each message with its id, key, reason, time and what a replay would do', () => {
    const empty = { queue, depth: 0, entries: [] };
    expect(deadLetterListLines(empty)).toEqual([`${queue} is empty`]);
    expect(deadLetterListExitCode(empty)).toBe(0);
    const both = { queue, depth: 2, entries: [poison, stale] };
    expect(deadLetterListLines(both)).toEqual([
      `2 message(s) in ${queue}, oldest first:`,
      '  id-1  KK.EVENT.ADMIN.demo.SUCCESS.USER.CREATE  dead-lettered 2025-06-01T11:00:00.000Z: malformed event: the body is not JSON; cannot be replayed: malformed event: the body is not JSON',
      '  sha1:abcdefghijklmnop  KK.EVENT.ADMIN.demo.SUCCESS.USER.UPDATE  dead-lettered at an unknown time: no reason recorded; replay reconciles user u-1',
    ]);
    expect(deadLetterListJson(both)).toEqual({
      queue,
      depth: 2,
      shown: 2,
      exitCode: 1,
      messages: [
        {
          id: 'id-1',
          routingKey: 'KK.EVENT.ADMIN.demo.SUCCESS.USER.CREATE',
          reason: 'malformed event: the body is not JSON',
          deadLetteredAt: '2025-06-01T11:00:00.000Z',
          bytes: 9,
          replayable: false,
          entities: null,
          unreplayable: 'malformed event: the body is not JSON',
        },
        {
          id: 'sha1:abcdefghijklmnop',
          routingKey: 'KK.EVENT.ADMIN.demo.SUCCESS.USER.UPDATE',
          reason: null,
          deadLetteredAt: null,
          bytes: 120,
          replayable: true,
          entities: ['user u-1'],
          unreplayable: null,
        },
      ],
    });
  });

  it('counts every message but shows only the oldest up to --limit', () => {
    const deep = { queue, depth: 250, entries: [poison, stale] };
    expect(deadLetterListLines(deep)).toEqual([
      `250 message(s) in ${queue}, oldest first:`,
      expect.stringMatching(/^ {2}id-1 /) as unknown,
      expect.stringMatching(/^ {2}sha1:abcdefghijklmnop /) as unknown,
      '  … and 248 more, not shown (--limit 2; raise it to see them)',
    ]);
    expect(deadLetterListJson(deep)).toMatchObject({ depth: 250, shown: 2, exitCode: 1 });
    expect(deadLetterListExitCode(deep)).toBe(1);
  });

  it('reports what was replayed and what was left, and exits 1 when something was left', () => {
    const report: ReplayReport = {
      queue,
      results: [
        { entry: stale, outcome: 'replayed' },
        { entry: poison, outcome: 'unreplayable', reason: 'malformed event: the body is not JSON' },
      ],
      remaining: 1,
    };
    expect(replayExitCode(report)).toBe(1);
    expect(replayLines(report)).toEqual([
      '✓ sha1:abcdefghijklmnop: reconciled user u-1 from Keycloak; removed from the queue',
      '✗ id-1: cannot be replayed, left in the queue: malformed event: the body is not JSON',
      `replayed 1 of 2 (1 cannot be replayed, 0 failed); 1 message(s) left in ${queue}`,
    ]);
    expect(replayJson(report)).toMatchObject({
      queue,
      remaining: 1,
      exitCode: 1,
      results: [
        { id: 'sha1:abcdefghijklmnop', outcome: 'replayed', entities: ['user u-1'] },
        { id: 'id-1', outcome: 'unreplayable', why: 'malformed event: the body is not JSON' },
      ],
    });
    expect(
      replayExitCode({ queue, results: [{ entry: stale, outcome: 'replayed' }], remaining: 0 }),
    ).toBe(0);
    expect(replayLines({ queue, results: [], remaining: 0 })).toEqual([
      `${queue} is empty: nothing to replay`,
    ]);
  });
});
