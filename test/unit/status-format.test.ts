import { describe, expect, it } from 'vitest';
import { ageText, timeText } from '../../src/app/age-text.js';
import {
  checkpointSummary,
  parseStreamCheckpoint,
  streamOf,
} from '../../src/app/checkpoint-summary.js';
import { parseStatusArgs } from '../../src/app/status-command.js';
import {
  statusExitCode,
  statusJson,
  statusLines,
  type StatusReport,
} from '../../src/app/status-format.js';
import { groupHint } from '../../src/domain/hint.js';
import { ConfigError } from '../../src/errors.js';

const AT = Date.parse('2025-06-01T12:00:00.000Z');
const MIN = 60_000;

/** A relay in poll mode that is running, caught up, with nothing stuck. */
const healthy: StatusReport = {
  at: AT,
  realm: 'demo',
  source: 'poll',
  state: { kind: 'sqlite', dir: '/var/lib/keycloak-scim-relay' },
  relay: { ok: true, value: { state: 'sqlite', running: true, pid: 4242 } },
  stateSummary: {
    ok: true,
    value: {
      checkpoints: [
        {
          name: 'full-reconcile.last',
          value: JSON.stringify({
            reason: 'first_start',
            startedAt: AT - 125 * MIN,
            endedAt: AT - 124 * MIN,
            failures: 0,
            complete: true,
            lastCompleteAt: AT - 124 * MIN,
          }),
          updatedAt: AT - 124 * MIN,
        },
        {
          name: 'poll.admin',
          value: JSON.stringify({
            watermark: AT - 30 * MIN,
            seen: [],
            checkedAt: AT - 3_000,
            modern: false,
          }),
          updatedAt: AT - 3_000,
        },
      ],
      parkedCount: 0,
      parked: [],
    },
  },
  lag: {
    ok: true,
    value: {
      source: 'poll',
      streams: [
        {
          stream: 'admin',
          coveredUntil: AT - 3_000,
          pending: 0,
          capped: false,
          oldestPendingAt: undefined,
        },
      ],
    },
  },
  deadLetters: undefined,
};

const parkedItem = {
  key: 'group:g-1',
  hint: groupHint('g-1'),
  reason: 'SCIM group name "shared" already belongs to Keycloak group g-0',
  attempts: 3,
  firstFailedAt: AT - 90 * MIN,
  lastFailedAt: AT - 5 * MIN,
};

/** An AMQP relay with parked work and dead letters. */
const stuck: StatusReport = {
  ...healthy,
  source: 'amqp',
  stateSummary: {
    ok: true,
    value: { checkpoints: [], parkedCount: 2, parked: [parkedItem] },
  },
  lag: {
    ok: true,
    value: { source: 'amqp', queue: 'relay.demo', ready: 7, consumers: 1 },
  },
  deadLetters: { ok: true, value: { queue: 'relay.demo.dead-letter', depth: 3 } },
};

describe('status, for people and for machines', () => {
  it('says nothing needs attention, and exits 0, when a relay runs caught up', () => {
    expect(statusExitCode(healthy)).toBe(0);
    const lines = statusLines(healthy);
    expect(lines).toContain('relay:          running (holds the STATE_DIR lock, pid 4242)');
    expect(lines).toContain(
      'lag:            none (Keycloak stores no event the relay has not read)',
    );
    expect(lines).toContain('full reconcile: 2 h 4 min ago (first_start), complete, took 1 min');
    expect(lines.at(-1)).toBe('nothing needs attention');
    const json = statusJson(healthy);
    expect(json).toMatchObject({
      relay: { running: true, pid: 4242 },
      lag: { source: 'poll', lagSeconds: 0 },
      parked: { count: 0, items: [] },
      deadLetters: null,
      attention: [],
      errors: [],
      exitCode: 0,
      lastFullReconcile: {
        reason: 'first_start',
        complete: true,
        endedAt: '2025-06-01T09:56:00.000Z',
        ageSeconds: 7440,
      },
    });
    expect(json.checkpoints).toEqual([
      expect.objectContaining({ name: 'full-reconcile.last' }),
      expect.objectContaining({
        name: 'poll.admin',
        updatedAt: '2025-06-01T11:59:57.000Z',
        ageSeconds: 3,
        summary:
          'admin events read up to 2025-06-01T11:59:57.000Z; newest applied from 2025-06-01T11:30:00.000Z',
      }),
    ]);
  });

  it('measures the lag by the oldest stored event not yet read', () => {
    const behind: StatusReport = {
      ...healthy,
      lag: {
        ok: true,
        value: {
          source: 'poll',
          streams: [
            {
              stream: 'user',
              coveredUntil: AT - 20 * MIN,
              pending: 1_000,
              capped: true,
              oldestPendingAt: AT - 12 * MIN,
            },
          ],
        },
      },
    };
    expect(statusJson(behind).lag).toMatchObject({ lagSeconds: 720 });
    expect(statusLines(behind)).toContain(
      'lag:            12 min (the age of the oldest stored event not yet read)',
    );
    expect(statusLines(behind)).toContain(
      '  user events   read up to 20 min ago; at least 1000 newer stored, the oldest from 12 min ago',
    );
  });

  it('names parked work and dead letters, and exits 1', () => {
    expect(statusExitCode(stuck)).toBe(1);
    const lines = statusLines(stuck);
    expect(lines).toContain('lag:            7 message(s) waiting in relay.demo, 1 consumer(s)');
    expect(lines).toContain('parked:         2');
    expect(lines).toContain(
      '  group:g-1: group g-1, 3 attempt(s), failing since 1 h 30 min ago (last 5 min ago): SCIM group name "shared" already belongs to Keycloak group g-0',
    );
    expect(lines).toContain('  ... and 1 more (`parked list`)');
    expect(lines).toContain('dead letters:   3 in relay.demo.dead-letter');
    expect(lines.at(-1)).toBe(
      'needs attention: 2 parked item(s): see `parked list`; 3 dead-lettered message(s) in relay.demo.dead-letter: see `dead-letter list`',
    );
    expect(statusJson(stuck)).toMatchObject({
      parked: {
        count: 2,
        items: [
          {
            key: 'group:g-1',
            kind: 'group',
            attempts: 3,
            firstFailedAt: '2025-06-01T10:30:00.000Z',
            lastFailedAt: '2025-06-01T11:55:00.000Z',
          },
        ],
      },
      deadLetters: { queue: 'relay.demo.dead-letter', depth: 3, declared: true },
      lag: { source: 'amqp', readyMessages: 7, consumers: 1 },
      exitCode: 1,
    });
  });

  it('counts no relay, and no leader, as needing attention', () => {
    const stopped: StatusReport = {
      ...healthy,
      relay: { ok: true, value: { state: 'sqlite', running: false } },
    };
    expect(statusExitCode(stopped)).toBe(1);
    expect(statusLines(stopped)).toContain(
      'relay:          not running (nothing holds the STATE_DIR lock)',
    );
    const leaderless: StatusReport = {
      ...healthy,
      state: { kind: 'postgres' },
      relay: { ok: true, value: { state: 'postgres', leader: undefined } },
    };
    expect(statusJson(leaderless)).toMatchObject({
      relay: { leader: null },
      attention: ['no replica holds the leader lock on this STATE_URL'],
      exitCode: 1,
    });
    const led: StatusReport = {
      ...leaderless,
      relay: {
        ok: true,
        value: {
          state: 'postgres',
          leader: {
            pid: 77,
            applicationName: 'keycloak-scim-relay run (pod-a pid 1)',
            clientAddress: '10.0.0.5/32',
            since: AT - 10 * MIN,
          },
        },
      },
    };
    expect(statusExitCode(led)).toBe(0);
    expect(statusLines(led)).toContain(
      'leader:         keycloak-scim-relay run (pod-a pid 1) (PostgreSQL backend 77 from 10.0.0.5/32, connected 10 min ago)',
    );
  });

  it('says which part it could not read, and exits 3', () => {
    const broken: StatusReport = {
      ...stuck,
      deadLetters: { ok: false, error: 'cannot reach RabbitMQ: connect ECONNREFUSED' },
    };
    expect(statusExitCode(broken)).toBe(3);
    expect(statusLines(broken)).toContain(
      'dead letters:   unknown (cannot reach RabbitMQ: connect ECONNREFUSED)',
    );
    expect(statusJson(broken)).toMatchObject({
      deadLetters: { error: 'cannot reach RabbitMQ: connect ECONNREFUSED' },
      errors: ['dead letters: cannot reach RabbitMQ: connect ECONNREFUSED'],
      exitCode: 3,
    });
  });

  it('summarises the checkpoints the relay writes', () => {
    const row = (name: string, value: string) => ({ name, value, updatedAt: AT });
    expect(streamOf('backstop.user')).toEqual({ reader: 'backstop', stream: 'user' });
    expect(streamOf('sweep.cursor')).toBeUndefined();
    expect(parseStreamCheckpoint('{"watermark":1,"checkedAt":2,"modern":true}')).toEqual({
      watermark: 1,
      checkedAt: 2,
      modern: true,
    });
    expect(parseStreamCheckpoint('nope')).toBeUndefined();
    expect(checkpointSummary(row('amqp.baseline', '2025-01-01T00:00:00.000Z'))).toBe(
      'the queue holds every change since the full reconcile that began 2025-01-01T00:00:00.000Z',
    );
    expect(checkpointSummary(row('relay.run', '{"running":false,"crashes":0}'))).toBe(
      'the last run stopped cleanly',
    );
    expect(checkpointSummary(row('relay.run', '{"running":true,"crashes":2}'))).toBe(
      'a run began and has not stopped cleanly (it runs, or died); 2 run(s) in a row died',
    );
    expect(checkpointSummary(row('poll.user', '{}'))).toBe('unreadable user-event checkpoint');
    expect(checkpointSummary(row('other', 'x'.repeat(100)))).toBe(`${'x'.repeat(77)}...`);
  });

  it('words ages and times', () => {
    expect(ageText(850)).toBe('850 ms');
    expect(ageText(42_000)).toBe('42 s');
    expect(ageText(192_000)).toBe('3 min 12 s');
    expect(ageText(2 * 3_600_000)).toBe('2 h');
    expect(ageText(76 * 3_600_000)).toBe('3 d 4 h');
    expect(timeText(undefined)).toBe('never');
    expect(timeText(0)).toBe('1970-01-01T00:00:00.000Z');
  });

  it('reads its options', () => {
    expect(parseStatusArgs([])).toEqual({ json: false, parkedLimit: 10 });
    expect(parseStatusArgs(['--json', '--parked', '0'])).toEqual({ json: true, parkedLimit: 0 });
    expect(() => parseStatusArgs(['--parked', 'many'])).toThrow(ConfigError);
    expect(() => parseStatusArgs(['--all'])).toThrow(ConfigError);
  });
});
