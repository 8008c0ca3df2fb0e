import { expect, inject, it } from 'vitest';
import type { RequestLogEntry } from '../../packages/scim-server/src/test-api-schema.js';
import { eventually } from '../support/relay-harness.js';
import { runScenario } from './support/scenario.js';

const facts = inject('chaosStack');
const STORM = 100;
const RETRY_AFTER_S = 2;

it.concurrent.each(['amqp', 'poll'] as const)(
  'a 429 storm with Retry-After during changes (%s)',
  async (mode) => {
    await runScenario(facts, { name: 'scim-429-storm', mode }, async (scenario) => {
      const { relay, changes, scim } = scenario;
      await changes.populate({ users: 20, groups: 5, memberships: 20 });
      await relay.start();
      await relay.waitReady();
      const since = (await scim.control.requests()).at(-1)?.seq ?? 0;

      await scim.control.injectFaults({ status: 429, retryAfter: RETRY_AFTER_S, count: STORM });
      const made = await changes.run(80, { pauseMs: 50 });
      // The storm ends when its last 429 has been served.
      const limited = await eventually(async () => {
        const requests = await scim.control.requests({ since });
        const answered = requests.filter((r) => r.status === 429);
        expect(answered.length).toBe(STORM);
        return requests;
      }, 120_000);
      const faultEndedAt = Date.now();
      const answered = limited.filter((r) => r.status === 429);
      const stormMs = Date.parse(answered.at(-1)?.time ?? '') - Date.parse(answered[0]?.time ?? '');
      scenario.notes.push(
        `${made} changes, ${STORM} 429s (Retry-After ${RETRY_AFTER_S} s) over ${(stormMs / 1000).toFixed(0)} s`,
      );
      await scenario.finish(faultEndedAt, 60_000);
      // Retry-After honoured: a request refused with 429 is not sent again sooner, neither by
      // the SCIM client's own retries nor by a retry of the whole reconcile after it gave up.
      const early = earlyRetries(limited, RETRY_AFTER_S * 1_000);
      expect(early, 'requests repeated before their Retry-After').toEqual([]);
    });
  },
);

/**
 * Requests sent again sooner than `retryAfterMs` after the same request (method, path, query
 * and body) was answered 429. 200 ms of slack covers the server's own logging time.
 */
function earlyRetries(requests: readonly RequestLogEntry[], retryAfterMs: number): string[] {
  const key = (r: RequestLogEntry): string =>
    `${r.method} ${r.path} ${JSON.stringify(r.query)} ${JSON.stringify(r.body)}`;
  const refusedAt = new Map<string, number>();
  const early: string[] = [];
  for (const request of requests) {
    const at = Date.parse(request.time);
    const refused = refusedAt.get(key(request));
    if (refused !== undefined && at - refused < retryAfterMs - 200) {
      early.push(`${request.method} ${request.path} again after ${at - refused} ms`);
    }
    if (request.status === 429) refusedAt.set(key(request), at + request.durationMs);
    else refusedAt.delete(key(request));
  }
  return early;
}
