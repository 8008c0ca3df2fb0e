/**
 * The PromQL in `deploy/`: every expression of the Grafana dashboard (panel targets and
 * template-variable queries) and of the Prometheus rules, read from the files as shipped. Used
 * by the unit test that checks every metric they name is one the relay exports, and by
 * `check-dashboard-promql.ts`, which has promtool parse the dashboard's expressions.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const DASHBOARD_PATH = fileURLToPath(
  new URL('../deploy/grafana/keycloak-scim-relay.dashboard.json', import.meta.url),
);
export const RULES_PATH = fileURLToPath(
  new URL('../deploy/prometheus/keycloak-scim-relay.rules.yml', import.meta.url),
);

/** One expression and where it is, for messages. */
export interface DeployQuery {
  readonly where: string;
  readonly expr: string;
  /** Grafana's `label_values(…)` of a template variable: not PromQL as it stands. */
  readonly grafanaFunction: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The dashboard, parsed. */
export function readDashboard(path = DASHBOARD_PATH): Record<string, unknown> {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!isRecord(parsed)) throw new Error(`${path}: not a JSON object`);
  return parsed;
}

/** Every panel, those inside collapsed rows too. */
export function dashboardPanels(dashboard: Record<string, unknown>): Record<string, unknown>[] {
  return records(dashboard['panels']).flatMap((panel) => [panel, ...records(panel['panels'])]);
}

/** The expressions of the dashboard's panels and template variables. */
export function dashboardQueries(dashboard: Record<string, unknown>): DeployQuery[] {
  const queries: DeployQuery[] = [];
  for (const panel of dashboardPanels(dashboard)) {
    for (const target of records(panel['targets'])) {
      const expr = text(target['expr']);
      if (expr === undefined) continue;
      const where = `panel "${text(panel['title']) ?? '?'}" target ${text(target['refId']) ?? '?'}`;
      queries.push({ where, expr, grafanaFunction: false });
    }
  }
  const templating = isRecord(dashboard['templating']) ? dashboard['templating'] : {};
  for (const variable of records(templating['list'])) {
    if (variable['type'] !== 'query') continue;
    const query = variable['query'];
    const expr = isRecord(query) ? text(query['query']) : text(query);
    if (expr === undefined) continue;
    const where = `variable $${text(variable['name']) ?? '?'}`;
    queries.push({ where, expr, grafanaFunction: /^\s*\w+\(/.test(expr) && !expr.includes('[') });
  }
  return queries;
}

/** The rules file's groups, parsed. */
export function readRules(path = RULES_PATH): Record<string, unknown>[] {
  const parsed: unknown = parse(readFileSync(path, 'utf8'));
  if (!isRecord(parsed)) throw new Error(`${path}: not a YAML mapping`);
  return records(parsed['groups']);
}

/** Every rule of every group. */
export function rulesOf(groups: Record<string, unknown>[]): Record<string, unknown>[] {
  return groups.flatMap((group) => records(group['rules']));
}

/** The expressions of the rules. */
export function rulesQueries(groups: Record<string, unknown>[]): DeployQuery[] {
  return rulesOf(groups).map((rule) => ({
    where: `rule ${text(rule['alert']) ?? text(rule['record']) ?? '?'}`,
    expr: text(rule['expr']) ?? '',
    grafanaFunction: false,
  }));
}

/**
 * The relay's and prom-client's metric names an expression uses (`scim_relay_*`, `process_*`,
 * `nodejs_*`), as written: a histogram's `_bucket`, `_sum` and `_count` are left on.
 */
export function metricNamesIn(expr: string): string[] {
  return [...expr.matchAll(/\b(?:scim_relay|process|nodejs)_[a-zA-Z0-9_]*/g)].map(
    (match) => match[0],
  );
}

/**
 * A dashboard expression as Prometheus would receive it: Grafana's variables replaced by
 * values of the same kind (a range, a regular expression).
 */
export function withGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, '5m')
    .replace(/\$__range|\$\{__range\}/g, '6h')
    .replace(/\$__interval|\$\{__interval\}/g, '1m')
    .replace(/\$\{?\w+\}?/g, '.*');
}
