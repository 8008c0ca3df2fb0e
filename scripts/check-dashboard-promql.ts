/**
 * Has promtool parse every PromQL expression of the Grafana dashboard (run by
 * `npm run deploy:check`): each becomes a recording rule in a temporary rules file, Grafana's
 * variables replaced by plain values, and `promtool check rules` reads it. A typo in a panel's
 * query then fails the check instead of showing "no data" in Grafana.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DASHBOARD_PATH,
  dashboardQueries,
  readDashboard,
  withGrafanaVariables,
} from './deploy-queries.js';

const queries = dashboardQueries(readDashboard()).filter((query) => !query.grafanaFunction);
const rules = queries.map((query, i) => ({
  record: `dashboard:query_${i + 1}`,
  expr: withGrafanaVariables(query.expr),
}));
const dir = mkdtempSync(join(tmpdir(), 'dashboard-promql-'));
try {
  // JSON is YAML: promtool reads it as a rules file.
  const file = join(dir, 'dashboard.rules.yml');
  writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }, null, 2));
  const check = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
  if (check.error !== undefined) {
    console.error(`cannot run promtool: ${check.error.message}`);
    process.exitCode = 1;
  } else if (check.status !== 0) {
    process.stderr.write(check.stdout + check.stderr);
    queries.forEach((query, i) => {
      console.error(`dashboard:query_${i + 1}: ${query.where}`);
    });
    process.exitCode = 1;
  } else {
    console.log(`${DASHBOARD_PATH}: promtool parsed all ${rules.length} queries`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
