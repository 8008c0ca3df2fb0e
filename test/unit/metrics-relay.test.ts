import { register } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  amqpSourceMetricsHooks,
  scimClientMetricsHooks,
  workQueueMetricsHooks,
} from '../../src/metrics/relay-metrics-hooks.js';
import { RECONCILE_SECONDS_BUCKETS, RelayMetrics } from '../../src/metrics/relay-metrics.js';

/**
 * The sample lines (no comments) of a rendering, for lookups by series: `name{a="1",b="2"}`,
 * labels in name order whatever order the exposition wrote them in (prom-client puts `le`
 * first), as Prometheus reads them.
 */
function samples(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    const series = line.slice(0, at);
    const brace = series.indexOf('{');
    if (brace === -1) {
      map.set(series, line.slice(at + 1));
      continue;
    }
    const labels = [...series.slice(brace).matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)]
      .map((match) => `${match[1] ?? ''}="${match[2] ?? ''}"`)
      .sort();
    map.set(`${series.slice(0, brace)}{${labels.join(',')}}`, line.slice(at + 1));
  }
  return map;
}

describe('RelayMetrics', () => {
  it('exposes every family with HELP and TYPE, and known kinds at 0 from the start', async () => {
    const text = await new RelayMetrics().render();
    const types = text
      .split('\n')
      .filter((line) => line.startsWith('# TYPE scim_relay_'))
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
      'scim_relay_last_full_reconcile_timestamp_seconds gauge',
      'scim_relay_resync_interval_seconds gauge',
      'scim_relay_credential_failures_total counter',
      'scim_relay_credentials_refused gauge',
    ]);
    const helps = text.split('\n').filter((line) => line.startsWith('# HELP scim_relay_'));
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
    for (const service of ['keycloak', 'scim']) {
      expect(s.get(`scim_relay_credential_failures_total{service="${service}"}`)).toBe('0');
      expect(s.get(`scim_relay_credentials_refused{service="${service}"}`)).toBe('0');
    }
    expect(s.has('scim_relay_last_sync_success_timestamp_seconds')).toBe(false);
    expect(s.has('scim_relay_oldest_unverified_age_seconds')).toBe(false);
    expect(s.has('scim_relay_last_full_reconcile_timestamp_seconds')).toBe(false);
    expect(s.has('scim_relay_resync_interval_seconds')).toBe(false);
    expect([...s.keys()].some((key) => key.startsWith('scim_relay_scim_responses_total'))).toBe(
      false,
    );
    expect(text.endsWith('\n')).toBe(true);
  });

  it('records what the relay reports through its methods', async () => {
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
    metrics.credentialFailure('keycloak');
    metrics.credentialFailure('keycloak');
    metrics.setCredentialsRefused('keycloak', true);
    metrics.credentialFailure('scim');
    metrics.setCredentialsRefused('scim', true);
    metrics.setCredentialsRefused('scim', false);

    const s = samples(await metrics.render());
    expect(s.get('scim_relay_credential_failures_total{service="keycloak"}')).toBe('2');
    expect(s.get('scim_relay_credential_failures_total{service="scim"}')).toBe('1');
    expect(s.get('scim_relay_credentials_refused{service="keycloak"}')).toBe('1');
    expect(s.get('scim_relay_credentials_refused{service="scim"}')).toBe('0');
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

  it('reports the age of the oldest verification, read when rendered', async () => {
    const metrics = new RelayMetrics();
    expect(samples(await metrics.render()).has('scim_relay_oldest_unverified_age_seconds')).toBe(
      false,
    );
    let oldest: number | undefined = Date.now() - 90_000;
    metrics.trackOldestVerified(() => oldest);
    const age = Number(
      samples(await metrics.render()).get('scim_relay_oldest_unverified_age_seconds'),
    );
    expect(age).toBeGreaterThanOrEqual(90);
    expect(age).toBeLessThan(95);
    // Nothing managed any more: no age, rather than the last one.
    oldest = undefined;
    expect(samples(await metrics.render()).has('scim_relay_oldest_unverified_age_seconds')).toBe(
      false,
    );
  });

  it('reports the last clean full reconcile, the verification period and the leadership', async () => {
    const metrics = new RelayMetrics();
    metrics.fullReconcile('first_start');
    metrics.fullReconcileSucceeded(new Date('2026-01-02T03:04:05Z'));
    metrics.setResyncInterval(3_600_000);
    metrics.setLeader(false);
    metrics.listenerLost('user');
    metrics.scimLost();
    metrics.setAside();
    const s = samples(await metrics.render());
    expect(s.get('scim_relay_full_reconciles_total{reason="first_start"}')).toBe('1');
    expect(s.get('scim_relay_full_reconciles_total{reason="scim_lost"}')).toBe('0');
    expect(s.get('scim_relay_last_full_reconcile_timestamp_seconds')).toBe('1767323045');
    expect(s.get('scim_relay_resync_interval_seconds')).toBe('3600');
    expect(s.get('scim_relay_is_leader')).toBe('0');
    expect(s.get('scim_relay_listener_lost_events_total{kind="user"}')).toBe('1');
    expect(s.get('scim_relay_listener_lost_events_total{kind="admin"}')).toBe('0');
    expect(s.get('scim_relay_scim_lost_total')).toBe('1');
    expect(s.get('scim_relay_set_aside_total')).toBe('1');
  });

  it('serves the default process and Node.js metrics from its own registry, not the global one', async () => {
    const metrics = new RelayMetrics();
    const text = await metrics.render();
    expect(text).toContain('# TYPE process_resident_memory_bytes gauge');
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    expect(text).toContain('# TYPE nodejs_gc_duration_seconds histogram');
    expect(metrics.registry.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await register.metrics()).not.toContain('scim_relay_');
    // A second relay in the same process counts apart.
    const other = new RelayMetrics();
    metrics.eventReceived('user');
    expect(samples(await other.render()).get('scim_relay_events_received_total{kind="user"}')).toBe(
      '0',
    );
  });

  it('has one bucket line per bound plus +Inf for each kind', async () => {
    const buckets = [...samples(await new RelayMetrics().render())].filter(
      ([series]) =>
        series.startsWith('scim_relay_reconcile_duration_seconds_bucket{') &&
        series.includes('kind="user"'),
    );
    expect(buckets.map(([series]) => /le="([^"]+)"/.exec(series)?.[1])).toEqual([
      ...RECONCILE_SECONDS_BUCKETS.map(String),
      '+Inf',
    ]);
    expect(buckets.at(-1)).toEqual([
      'scim_relay_reconcile_duration_seconds_bucket{kind="user",le="+Inf"}',
      '0',
    ]);
  });
});

describe('metrics hooks', () => {
  it('feed the work queue, SCIM client and AMQP source reports into the metrics', async () => {
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

    const s = samples(await metrics.render());
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
