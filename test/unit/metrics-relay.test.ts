import { describe, expect, it } from 'vitest';
import {
  amqpSourceMetricsHooks,
  scimClientMetricsHooks,
  workQueueMetricsHooks,
} from '../../src/metrics/relay-metrics-hooks.js';
import { RECONCILE_SECONDS_BUCKETS, RelayMetrics } from '../../src/metrics/relay-metrics.js';

/** The sample lines (no comments) of a rendering, for lookups by series. */
function samples(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    map.set(line.slice(0, at), line.slice(at + 1));
  }
  return map;
}

describe('RelayMetrics', () => {
  it('exposes every family with HELP and TYPE, and known kinds at 0 from the start', () => {
    const text = new RelayMetrics().render();
    const types = text
      .split('\n')
      .filter((line) => line.startsWith('# TYPE '))
      .map((line) => line.slice('# TYPE '.length));
    expect(types).toEqual([
      'scim_relay_events_received_total counter',
      'scim_relay_reconciles_applied_total counter',
      'scim_relay_reconciles_failed_total counter',
      'scim_relay_reconcile_duration_seconds histogram',
      'scim_relay_retries_total counter',
      'scim_relay_parked_items gauge',
      'scim_relay_oldest_unverified_age_seconds gauge',
      'scim_relay_is_leader gauge',
      'scim_relay_dead_lettered_total counter',
      'scim_relay_last_sync_success_timestamp_seconds gauge',
      'scim_relay_scim_responses_total counter',
      'scim_relay_listener_lost_events_total counter',
      'scim_relay_full_reconciles_total counter',
      'scim_relay_scim_lost_total counter',
      'scim_relay_set_aside_total counter',
    ]);
    const helps = text.split('\n').filter((line) => line.startsWith('# HELP '));
    expect(helps).toHaveLength(types.length);
    const s = samples(text);
    expect(s.get('scim_relay_is_leader')).toBe('1');
    for (const kind of ['admin', 'user', 'unknown']) {
      expect(s.get(`scim_relay_events_received_total{kind="${kind}"}`)).toBe('0');
    }
    for (const kind of ['user', 'group', 'membership']) {
      expect(s.get(`scim_relay_reconciles_applied_total{kind="${kind}"}`)).toBe('0');
      expect(s.get(`scim_relay_reconciles_failed_total{kind="${kind}"}`)).toBe('0');
      expect(s.get(`scim_relay_reconcile_duration_seconds_count{kind="${kind}"}`)).toBe('0');
    }
    expect(s.get('scim_relay_retries_total{scope="request"}')).toBe('0');
    expect(s.get('scim_relay_retries_total{scope="reconcile"}')).toBe('0');
    expect(s.get('scim_relay_parked_items')).toBe('0');
    expect(s.get('scim_relay_dead_lettered_total')).toBe('0');
    expect(s.has('scim_relay_last_sync_success_timestamp_seconds')).toBe(false);
    expect([...s.keys()].some((key) => key.startsWith('scim_relay_scim_responses_total'))).toBe(
      false,
    );
    expect(text.endsWith('\n')).toBe(true);
  });

  it('records what the relay reports through its methods', () => {
    const metrics = new RelayMetrics();
    metrics.eventReceived('admin');
    metrics.eventReceived('admin');
    metrics.eventReceived('unknown');
    metrics.applied('group', 0.2);
    metrics.applied('group', 3);
    metrics.failed('membership');
    metrics.retry('request');
    metrics.retry('request');
    metrics.retry('reconcile');
    metrics.setParked(4);
    metrics.setParked(2);
    metrics.deadLettered();
    metrics.syncSucceeded(new Date('2026-01-02T03:04:05.678Z'));
    metrics.scimResponse('POST', 201);
    metrics.scimResponse('PATCH', 204);
    metrics.scimResponse('POST', 201);
    metrics.scimResponse('GET', 429);

    const s = samples(metrics.render());
    expect(s.get('scim_relay_events_received_total{kind="admin"}')).toBe('2');
    expect(s.get('scim_relay_events_received_total{kind="unknown"}')).toBe('1');
    expect(s.get('scim_relay_events_received_total{kind="user"}')).toBe('0');
    expect(s.get('scim_relay_reconciles_applied_total{kind="group"}')).toBe('2');
    expect(s.get('scim_relay_reconciles_failed_total{kind="membership"}')).toBe('1');
    expect(s.get('scim_relay_reconcile_duration_seconds_bucket{kind="group",le="0.1"}')).toBe('0');
    expect(s.get('scim_relay_reconcile_duration_seconds_bucket{kind="group",le="0.25"}')).toBe('1');
    expect(s.get('scim_relay_reconcile_duration_seconds_bucket{kind="group",le="2.5"}')).toBe('1');
    expect(s.get('scim_relay_reconcile_duration_seconds_bucket{kind="group",le="5"}')).toBe('2');
    expect(s.get('scim_relay_reconcile_duration_seconds_bucket{kind="group",le="+Inf"}')).toBe('2');
    expect(s.get('scim_relay_reconcile_duration_seconds_sum{kind="group"}')).toBe('3.2');
    expect(s.get('scim_relay_reconcile_duration_seconds_count{kind="group"}')).toBe('2');
    expect(s.get('scim_relay_retries_total{scope="request"}')).toBe('2');
    expect(s.get('scim_relay_retries_total{scope="reconcile"}')).toBe('1');
    expect(s.get('scim_relay_parked_items')).toBe('2');
    expect(s.get('scim_relay_dead_lettered_total')).toBe('1');
    expect(s.get('scim_relay_last_sync_success_timestamp_seconds')).toBe('1767323045.678');
    expect(s.get('scim_relay_scim_responses_total{method="POST",status="201"}')).toBe('2');
    expect(s.get('scim_relay_scim_responses_total{method="PATCH",status="204"}')).toBe('1');
    expect(s.get('scim_relay_scim_responses_total{method="GET",status="429"}')).toBe('1');
  });

  it('reports the age of the oldest verification, read when rendered', () => {
    const metrics = new RelayMetrics();
    expect(samples(metrics.render()).has('scim_relay_oldest_unverified_age_seconds')).toBe(false);
    metrics.trackOldestVerified(() => Date.now() - 90_000);
    const age = Number(samples(metrics.render()).get('scim_relay_oldest_unverified_age_seconds'));
    expect(age).toBeGreaterThanOrEqual(90);
    expect(age).toBeLessThan(95);
  });

  it('has one bucket line per bound plus +Inf for each kind', () => {
    const lines = new RelayMetrics()
      .render()
      .split('\n')
      .filter((line) =>
        line.startsWith('scim_relay_reconcile_duration_seconds_bucket{kind="user"'),
      );
    expect(lines).toHaveLength(RECONCILE_SECONDS_BUCKETS.length + 1);
    expect(lines.at(-1)).toBe(
      'scim_relay_reconcile_duration_seconds_bucket{kind="user",le="+Inf"} 0',
    );
  });
});

describe('metrics hooks', () => {
  it('feed the work queue, SCIM client and AMQP source reports into the metrics', () => {
    const metrics = new RelayMetrics();
    const queue = workQueueMetricsHooks(metrics);
    queue.onApplied({ kind: 'membership', userId: 'u', groupId: 'g' }, 1500);
    queue.onParked({ kind: 'user', userId: 'u' }, 'HTTP 400');
    queue.onRetry({ kind: 'group', groupId: 'g', subtree: false }, new Error('HTTP 503'));
    const scim = scimClientMetricsHooks(metrics);
    scim.onResponse('PATCH', 204);
    scim.onResponse('GET', 0);
    scim.onRetry('GET /Users');
    const amqp = amqpSourceMetricsHooks(metrics);
    amqp.onReceived('user');
    amqp.onDeadLettered('unreadable JSON');

    const s = samples(metrics.render());
    expect(s.get('scim_relay_reconciles_applied_total{kind="membership"}')).toBe('1');
    expect(s.get('scim_relay_reconcile_duration_seconds_sum{kind="membership"}')).toBe('1.5');
    expect(s.get('scim_relay_reconcile_duration_seconds_bucket{kind="membership",le="1"}')).toBe(
      '0',
    );
    expect(s.get('scim_relay_reconcile_duration_seconds_bucket{kind="membership",le="2.5"}')).toBe(
      '1',
    );
    expect(s.get('scim_relay_reconciles_failed_total{kind="user"}')).toBe('1');
    expect(s.get('scim_relay_retries_total{scope="reconcile"}')).toBe('1');
    expect(s.get('scim_relay_retries_total{scope="request"}')).toBe('1');
    expect(s.get('scim_relay_scim_responses_total{method="PATCH",status="204"}')).toBe('1');
    expect(s.get('scim_relay_scim_responses_total{method="GET",status="0"}')).toBe('1');
    expect(s.get('scim_relay_events_received_total{kind="user"}')).toBe('1');
    expect(s.get('scim_relay_dead_lettered_total')).toBe('1');
  });
});
