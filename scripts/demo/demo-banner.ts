import { relative } from 'node:path';
import { REPO_ROOT } from '../../test/support/repo-paths.js';
import type { RunningDemo } from './demo-stack.js';

/** The user, group and membership the walkthrough (and the browser test) creates. */
export const WALKTHROUGH = {
  username: 'alice',
  email: 'alice@example.com',
  firstName: 'Alice',
  lastName: 'Liddell',
  group: 'engineering',
} as const;

/** A path as the person at the terminal would type it: relative to the repository when inside. */
function shown(path: string): string {
  const inRepo = relative(REPO_ROOT, path);
  return inRepo.startsWith('..') ? path : inRepo;
}

/** What `npm run demo` prints once everything answers: the URLs and a short walkthrough. */
export function demoBanner(demo: RunningDemo): string {
  const { keycloak, scimServer, relay } = demo;
  const w = WALKTHROUGH;
  const delay =
    demo.mode === 'amqp'
      ? 'It takes about a second: Keycloak publishes each change to RabbitMQ.'
      : 'It takes a few seconds: the relay polls Keycloak every 2 s.';
  const table: [string, string, string][] = [
    [
      'Keycloak admin console',
      keycloak.adminConsoleUrl,
      `sign in as ${keycloak.adminUsername} / ${keycloak.adminPassword}`,
    ],
    ['SCIM server page', scimServer.pageUrl, 'what the relay provisioned; reloads every 3 s'],
    ['Relay readiness', relay.readyzUrl, '200 once the relay is in step'],
    ['Relay metrics', relay.metricsUrl, 'Prometheus text'],
  ];
  const width = Math.max(...table.map(([what]) => what.length));
  const urlWidth = Math.max(...table.map(([, url]) => url.length));
  const rows = table.map(
    ([what, url, note]) => `  ${what.padEnd(width)}  ${url.padEnd(urlWidth)}  ${note}`,
  );
  const source =
    demo.mode === 'amqp' ? `AMQP mode: ${demo.modeReason}` : `poll mode: ${demo.modeReason}`;
  return [
    '',
    `keycloak-scim-relay demo: Keycloak ${keycloak.version}, realm "${keycloak.realm}"; relay in ${source}.`,
    '',
    ...rows,
    '',
    `  Logs: ${shown(relay.logFile)}, ${shown(scimServer.logFile)}, ${shown(keycloak.logFile)}`,
    '',
    'Walkthrough:',
    `  1. Open the admin console and sign in. In realm "${keycloak.realm}": Users > Add user, username`,
    `     "${w.username}", email ${w.email}, first name ${w.firstName}, last name ${w.lastName}; Create.`,
    `  2. Groups > Create group, name "${w.group}"; Create. Open it: Members > Add member, tick`,
    `     "${w.username}"; Add.`,
    `  3. Watch ${scimServer.pageUrl}: "${w.username}" appears under Users (its externalId is its`,
    `     Keycloak id), and "/${w.group}" under Groups with "${w.username}" as member.`,
    `     ${delay}`,
    `  4. Rename or disable "${w.username}", rename or delete the group: the page follows. The`,
    '     relay says what it does below.',
    '',
    'Ctrl-C stops everything the demo started.',
    '',
  ].join('\n');
}
