import { describe, expect, it } from 'vitest';
import { parseParkedArgs } from '../../src/app/parked-command.js';
import {
  parkedListExitCode,
  parkedListJson,
  parkedListLines,
  retryExitCode,
  retryJson,
  retryLines,
  type RetryReport,
} from '../../src/app/parked-format.js';
import { groupHint, membershipHint, userHint } from '../../src/domain/hint.js';
import { ConfigError } from '../../src/errors.js';
import type { ParkedItem } from '../../src/state/state-store.js';

const AT = Date.parse('2025-06-01T12:00:00.000Z');
const item = (key: string, hint: ParkedItem['hint'], reason: string): ParkedItem => ({
  key,
  hint,
  reason,
  attempts: 2,
  firstFailedAt: AT - 3_600_000,
  lastFailedAt: AT - 60_000,
});
const group = item('group:g-1', groupHint('g-1'), 'SCIM group name "shared" is taken');
const user = item('user:u-1', userHint('u-1'), 'SCIM answered 400');
const membership = item('membership:u-1:g-1', membershipHint('u-1', 'g-1'), 'user not provisioned');

describe('parked list and retry', () => {
  it('reads its actions and options', () => {
    expect(parseParkedArgs(['list'])).toEqual({ action: 'list', json: false });
    expect(parseParkedArgs(['list', '--json'])).toEqual({ action: 'list', json: true });
    expect(parseParkedArgs(['retry', '--all', '--json'])).toEqual({
      action: 'retry',
      json: true,
      keys: [],
      all: true,
      timeoutMs: 300_000,
    });
    expect(parseParkedArgs(['retry', 'group:g-1', 'user:u-1', '--timeout', '2.5'])).toEqual({
      action: 'retry',
      json: false,
      keys: ['group:g-1', 'user:u-1'],
      all: false,
      timeoutMs: 2_500,
    });
  });

  it('refuses what does not say what to do', () => {
    for (const argv of [
      [],
      ['retry'],
      ['retry', '--all', 'user:u-1'],
      ['list', 'user:u-1'],
      ['list', '--all'],
      ['drop', '--all'],
      ['retry', '--all', '--timeout', '0'],
      ['retry', '--all', '--bogus'],
    ]) {
      expect(() => parseParkedArgs(argv), argv.join(' ')).toThrow(ConfigError);
    }
  });

  it('lists parked work with its reason, and exits 1 while there is some', () => {
    expect(parkedListLines([], AT)).toEqual(['nothing is parked']);
    expect(parkedListExitCode([])).toBe(0);
    expect(parkedListLines([group], AT)).toEqual([
      '1 parked item(s), oldest first:',
      '  group:g-1: group g-1, 2 attempt(s), failing since 1 h ago (last 1 min ago): SCIM group name "shared" is taken',
    ]);
    expect(parkedListJson([group, membership])).toEqual({
      count: 2,
      exitCode: 1,
      items: [
        {
          key: 'group:g-1',
          kind: 'group',
          what: 'group g-1',
          reason: 'SCIM group name "shared" is taken',
          attempts: 2,
          firstFailedAt: '2025-06-01T11:00:00.000Z',
          lastFailedAt: '2025-06-01T11:59:00.000Z',
          hint: groupHint('g-1'),
        },
        expect.objectContaining({
          key: 'membership:u-1:g-1',
          kind: 'membership',
          what: 'membership of user u-1 in group g-1',
        }),
      ],
    });
  });

  it('reports each retried item: applied, still failing with the new reason, or not finished', () => {
    const report: RetryReport = {
      results: [
        { item: group, outcome: 'applied' },
        { item: user, outcome: 'parked', reason: 'SCIM answered 400 again', attempts: 3 },
      ],
      alsoApplied: ['membership:u-1:g-1'],
    };
    expect(retryExitCode(report)).toBe(1);
    expect(retryLines(report)).toEqual([
      '✓ group:g-1 (group g-1): applied, no longer parked',
      '✗ user:u-1 (user u-1): still fails, parked (3 attempts): SCIM answered 400 again',
      '✓ membership:u-1:g-1: applied on the way, no longer parked',
      'retried 2: 1 applied, 1 still failing, 0 not finished',
    ]);
    expect(retryJson(report)).toEqual({
      retried: 2,
      results: [
        {
          key: 'group:g-1',
          what: 'group g-1',
          outcome: 'applied',
          previousReason: 'SCIM group name "shared" is taken',
        },
        {
          key: 'user:u-1',
          what: 'user u-1',
          outcome: 'parked',
          reason: 'SCIM answered 400 again',
          attempts: 3,
          previousReason: 'SCIM answered 400',
        },
      ],
      alsoApplied: ['membership:u-1:g-1'],
      exitCode: 1,
    });
    const cut: RetryReport = {
      results: [{ item: user, outcome: 'cut', reason: 'SCIM refused the request (403)' }],
      alsoApplied: [],
    };
    expect(retryLines(cut)[0]).toBe(
      '… user:u-1 (user u-1): not finished, still parked as before: SCIM refused the request (403)',
    );
    expect(retryExitCode({ results: [{ item: group, outcome: 'applied' }], alsoApplied: [] })).toBe(
      0,
    );
    expect(retryLines({ results: [], alsoApplied: [] })).toEqual([
      'nothing is parked: nothing to retry',
    ]);
    expect(retryExitCode({ results: [], alsoApplied: [] })).toBe(0);
  });
});
