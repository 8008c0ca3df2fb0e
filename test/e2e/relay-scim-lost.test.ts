import { afterEach, describe, expect, inject, it } from 'vitest';
import { createRelay } from '../../src/app/relay.js';
import { createLogger, memoryDestination } from '../../src/logger.js';
import { StateStore } from '../../src/state/state-store.js';
import { FULL_RECONCILE_APPLYING_CHECKPOINT } from '../../src/sync/full-reconcile-record.js';
import { eventually, startRelayHarness, type RelayHarness } from '../support/relay-harness.js';

/** One series of a counter in the relay's metrics, e.g. `{reason="scim_lost"}`; 0 when absent. */
async function sample(harness: RelayHarness, series: string): Promise<number> {
  const line = (await harness.relay.metrics.render())
    .split('\n')
    .find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/**
 * The SCIM side loses what the relay wrote (restored from a backup, the integration re-created):
 * the relay notices, says so, and puts everything back at once, not entity by entity as events
 * happen to touch them. The periodic full reconcile is a day away here.
 */
describe('run, when the SCIM side loses what the relay wrote', () => {
  const facts = inject('testStack');
  let harness: RelayHarness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  /** A relay that provisioned five users and two groups, one with three members. */
  async function provisioned(prefix: string, scimCheckIntervalMs: number): Promise<RelayHarness> {
    const started = await startRelayHarness(facts, {
      prefix,
      env: {
        SOURCE: 'poll',
        RESYNC_INTERVAL_MS: String(24 * 3_600_000),
        SCIM_CHECK_INTERVAL_MS: String(scimCheckIntervalMs),
      },
    });
    harness = started;
    const { admin } = started.realm;
    const { id: teamId } = await admin.groups.create({ name: 'team' });
    await admin.groups.create({ name: 'quiet' });
    for (let index = 1; index <= 5; index += 1) {
      const { id } = await admin.users.create({ username: `kept-${index}`, enabled: true });
      if (index <= 3) await admin.users.addToGroup({ id, groupId: teamId });
    }
    await expectAllInScim(started);
    return started;
  }

  async function expectAllInScim(target: RelayHarness): Promise<void> {
    await eventually(async () => {
      const state = await target.control.state();
      expect(state.users.map((u) => u.userName).sort()).toEqual([
        'kept-1',
        'kept-2',
        'kept-3',
        'kept-4',
        'kept-5',
      ]);
      expect(state.groups.map((g) => g.displayName).sort()).toEqual(['/quiet', '/team']);
      expect(state.groups.find((g) => g.displayName === '/team')?.members).toHaveLength(3);
    }, 20_000);
  }

  it('notices from the counts alone, without any event, and reconciles everything', async () => {
    const target = await provisioned('scim-lost-counts', 1_000);
    const before = await sample(target, 'scim_relay_full_reconciles_total{reason="scim_lost"}');
    await target.control.reset();
    const lostAt = Date.now();
    await expectAllInScim(target);
    console.error(`[scim-lost] counts: everything back in ${Date.now() - lostAt} ms`);
    expect(await sample(target, 'scim_relay_scim_lost_total')).toBe(1);
    expect(await sample(target, 'scim_relay_full_reconciles_total{reason="scim_lost"}')).toBe(
      before + 1,
    );
    const said = target.log.records().filter((r) => r.level === 'error' || r.level === 'fatal');
    // Said once, and why: the counts, or the 404s of a reconcile still in flight at the reset.
    expect(said.map((r) => String(r.msg))).toEqual([
      expect.stringMatching(
        /^the SCIM side lost what the relay wrote \((the SCIM side holds 0 users|3 resources the relay wrote answered 404)/,
      ),
    ]);
  });

  it('reconciles everything at its next start when a full reconcile was cut short', async () => {
    // No count check and no event: only the mark a cut-short full reconcile leaves can say
    // that the id map may lack links, or SCIM resources, that the reconcile was writing.
    const target = await provisioned('scim-lost-cut-short', 0);
    await target.relay.stop(10_000);
    await target.control.reset();
    const { config } = target.relay;
    const marked = StateStore.open(config.state.dir);
    marked.putCheckpoint(FULL_RECONCILE_APPLYING_CHECKPOINT, '{"startedAt":0}');
    await marked.close();

    const log = memoryDestination();
    const restarted = await createRelay(
      config,
      createLogger({ level: 'info', secrets: [target.scimToken], destination: log }),
    );
    try {
      await restarted.start();
      // The start itself put everything back, before it said the relay started.
      await expectAllInScim({ ...target, relay: restarted });
      expect(
        await sample(
          { ...target, relay: restarted },
          'scim_relay_full_reconciles_total{reason="interrupted"}',
        ),
      ).toBe(1);
      expect(restarted.store.checkpoint(FULL_RECONCILE_APPLYING_CHECKPOINT)).toBeUndefined();
      expect(log.records().map((r) => String(r.msg))).toContain(
        'a full reconcile was cut short: reconciling everything again',
      );
    } finally {
      await restarted.stop(10_000);
    }
  });

  it('notices from known resources answering 404, and puts back those no event touched', async () => {
    const target = await provisioned('scim-lost-404', 0);
    await target.control.reset();
    const lostAt = Date.now();
    // Three users change: their reconciles find their twins gone.
    const { admin } = target.realm;
    for (const username of ['kept-1', 'kept-4', 'kept-5']) {
      const [user] = await admin.users.find({ username, exact: true });
      await admin.users.update({ id: user?.id ?? '' }, { firstName: 'Changed' });
    }
    // The groups and the other users come back too, though no event named them.
    await expectAllInScim(target);
    console.error(`[scim-lost] 404s: everything back in ${Date.now() - lostAt} ms`);
    expect(await sample(target, 'scim_relay_scim_lost_total')).toBe(1);
    const state = await target.control.state();
    expect(state.users.find((u) => u.userName === 'kept-4')?.givenName).toBe('Changed');
  });
});
