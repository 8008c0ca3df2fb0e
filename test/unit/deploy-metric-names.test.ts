import { describe, expect, it } from 'vitest';
import { RelayMetrics } from '../../src/metrics/relay-metrics.js';
import {
  dashboardPanels,
  dashboardQueries,
  metricNamesIn,
  readDashboard,
  readRules,
  rulesOf,
  rulesQueries,
  withGrafanaVariables,
} from '../../scripts/deploy-queries.js';

/** The families a fresh relay's /metrics declares, by name, with their types. */
async function exportedFamilies(): Promise<Map<string, string>> {
  const text = await new RelayMetrics().render();
  const families = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    families.set(match[1] ?? '', match[2] ?? '');
  }
  return families;
}

/** A name as written in PromQL, or a histogram's series named after its family. */
function exported(name: string, families: Map<string, string>): boolean {
  if (families.has(name)) return true;
  const suffix = /_(bucket|sum|count)$/.exec(name);
  if (suffix === null) return false;
  const type = families.get(name.slice(0, suffix.index));
  return type === 'histogram' || (type === 'summary' && suffix[1] !== 'bucket');
}

const dashboard = readDashboard();
const groups = readRules();
const queries = [...dashboardQueries(dashboard), ...rulesQueries(groups)];

describe('deploy/ dashboard and alert rules', () => {
  it('name only metrics the relay exports (a histogram by its _bucket, _sum or _count)', async () => {
    const families = await exportedFamilies();
    const unknown = queries.flatMap(({ where, expr }) =>
      metricNamesIn(expr)
        .filter((name) => !exported(name, families))
        .map((name) => `${where}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it('knows a name the relay does not export when it sees one', async () => {
    const families = await exportedFamilies();
    expect(exported('scim_relay_reconcile_duration_seconds_bucket', families)).toBe(true);
    expect(exported('scim_relay_parked_items_count', families)).toBe(false);
    expect(exported('scim_relay_events_total', families)).toBe(false);
    expect(metricNamesIn('rate(scim_relay_x_total{job=~"$job"}[5m]) / process_y')).toEqual([
      'scim_relay_x_total',
      'process_y',
    ]);
  });

  it('show what the operator needs, from the relay and the process', () => {
    const used = new Set(dashboardQueries(dashboard).flatMap(({ expr }) => metricNamesIn(expr)));
    for (const name of [
      'scim_relay_events_received_total',
      'scim_relay_reconciles_applied_total',
      'scim_relay_reconciles_failed_total',
      'scim_relay_last_sync_success_timestamp_seconds',
      'scim_relay_oldest_unverified_age_seconds',
      'scim_relay_parked_items',
      'scim_relay_dead_lettered_total',
      'scim_relay_listener_lost_events_total',
      'scim_relay_full_reconciles_total',
      'scim_relay_last_full_reconcile_timestamp_seconds',
      'scim_relay_reconcile_duration_seconds_bucket',
      'scim_relay_scim_responses_total',
      'scim_relay_credentials_refused',
      'scim_relay_credential_failures_total',
      'scim_relay_is_leader',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_gc_duration_seconds_sum',
    ]) {
      expect(used, name).toContain(name);
    }
  });

  it('query the data source chosen in the ${datasource} variable', () => {
    expect(dashboard['schemaVersion']).toBe(39);
    const templating = dashboard['templating'] as { list: Record<string, unknown>[] };
    expect(templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    const panels = dashboardPanels(dashboard).filter((panel) => panel['type'] !== 'row');
    expect(panels.length).toBeGreaterThan(10);
    for (const panel of panels) {
      expect(panel['datasource'], String(panel['title'])).toEqual({
        type: 'prometheus',
        uid: '${datasource}',
      });
    }
    const ids = dashboardPanels(dashboard).map((panel) => panel['id']);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('give each alert a wait, a severity, and a summary and description saying what to do', () => {
    const alerts = rulesOf(groups);
    expect(alerts.map((rule) => rule['alert'])).toEqual([
      'KeycloakScimRelayNoRecentSync',
      'KeycloakScimRelayWorkParked',
      'KeycloakScimRelayDeadLettered',
      'KeycloakScimRelayReconcileOverdue',
      'KeycloakScimRelayCredentialsRefused',
      'KeycloakScimRelayNoLeader',
    ]);
    for (const rule of alerts) {
      const name = String(rule['alert']);
      expect(rule['for'], name).toMatch(/^\d+[smh]$/);
      const labels = rule['labels'] as Record<string, unknown>;
      expect(Object.keys(labels), name).toEqual(['severity']);
      expect(labels['severity'], name).toMatch(/^(warning|critical)$/);
      const annotations = rule['annotations'] as Record<string, unknown>;
      expect(typeof annotations['summary'], name).toBe('string');
      expect(String(annotations['description']).length, name).toBeGreaterThan(100);
    }
  });

  it('turn Grafana variables into values Prometheus parses', () => {
    expect(
      withGrafanaVariables(
        'sum(increase(x{job=~"$job",instance=~"${instance}"}[$__range])) / rate(y[$__rate_interval])',
      ),
    ).toBe('sum(increase(x{job=~".*",instance=~".*"}[6h])) / rate(y[5m])');
  });
});
