import type { ProfileName } from './profile.js';

/** One user row of the demo page. */
export interface WebPageUser {
  readonly userName: string;
  /** Given and family name joined, or empty. */
  readonly name: string;
  /** The primary email, else the first, else empty. */
  readonly email: string;
  readonly active: boolean;
  readonly externalId: string | undefined;
}

/** One group of the demo page, with its members named by userName where the user is known. */
export interface WebPageGroup {
  readonly displayName: string;
  readonly externalId: string | undefined;
  readonly members: readonly string[];
}

/** Everything the demo page shows: one tenant's users and groups, as the SCIM side holds them. */
export interface WebPageView {
  /** Names the server in the heading, so nobody mistakes a generic server for Kestra's. */
  readonly profile: ProfileName;
  readonly tenant: string;
  readonly integrationId: string;
  /** The SCIM base path clients talk to, shown so a reader knows which endpoint this mirrors. */
  readonly basePath: string;
  readonly integrationEnabled: boolean;
  readonly users: readonly WebPageUser[];
  readonly groups: readonly WebPageGroup[];
  /** Global users whose tenant access was removed by a SCIM DELETE (Kestra keeps them). */
  readonly usersWithoutAccess: number;
  readonly generatedAt: Date;
  /** Seconds between two automatic reloads of the page. */
  readonly refreshSeconds: number;
  /** Most rows a table shows; the rest is counted, so a big tenant keeps the page small. */
  readonly maxRows: number;
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Escapes text for an HTML element or a quoted attribute. Every value on the page comes from a
 * SCIM client, that is from whoever can edit users in Keycloak, so none of it is trusted.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function cell(text: string | undefined): string {
  return text === undefined || text === ''
    ? '<td class="none">-</td>'
    : `<td>${escapeHtml(text)}</td>`;
}

function more(total: number, shown: number, what: string): string {
  return total > shown ? `<p class="more">and ${total - shown} more ${what}</p>` : '';
}

function usersTable(view: WebPageView): string {
  if (view.users.length === 0) return '<p class="none">No users yet.</p>';
  const rows = view.users
    .slice(0, view.maxRows)
    .map(
      (user) =>
        `<tr>${cell(user.userName)}${cell(user.name)}${cell(user.email)}` +
        `<td class="${user.active ? 'yes' : 'no'}">${user.active ? 'yes' : 'no'}</td>` +
        `${cell(user.externalId)}</tr>`,
    );
  return (
    '<table><thead><tr><th>userName</th><th>name</th><th>email</th><th>active</th>' +
    `<th>externalId</th></tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>` +
    more(view.users.length, rows.length, 'users')
  );
}

function groupsTable(view: WebPageView): string {
  if (view.groups.length === 0) return '<p class="none">No groups yet.</p>';
  const rows = view.groups.slice(0, view.maxRows).map((group) => {
    const shown = group.members.slice(0, view.maxRows);
    const members =
      shown.length === 0
        ? '<td class="none">no members</td>'
        : `<td>${shown.map((m) => `<span class="member">${escapeHtml(m)}</span>`).join(' ')}` +
          `${group.members.length > shown.length ? ` and ${group.members.length - shown.length} more` : ''}</td>`;
    return `<tr>${cell(group.displayName)}${cell(group.externalId)}${members}</tr>`;
  });
  return (
    '<table><thead><tr><th>displayName</th><th>externalId</th><th>members</th></tr></thead>' +
    `<tbody>\n${rows.join('\n')}\n</tbody></table>` +
    more(view.groups.length, rows.length, 'groups')
  );
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f4f4f4}.none{color:#999}.no{color:#b00}.yes{color:#070}.off{color:#b00;font-weight:bold}
.member{display:inline-block;background:#eef;border-radius:3px;padding:0 .3rem;margin:.1rem}
.meta{color:#666;font-size:.9rem}`;

/**
 * The demo page: plain server-rendered HTML that reloads itself, so a person who creates a user
 * or a group in Keycloak watches it arrive here. Read-only; no script runs on it.
 */
export function renderWebPage(view: WebPageView): string {
  const status = view.integrationEnabled
    ? ''
    : '<p class="off">The integration is switched off: every SCIM request is refused.</p>';
  const withoutAccess =
    view.usersWithoutAccess === 0
      ? ''
      : `<p class="meta">${view.usersWithoutAccess} more user(s) exist globally without access to this tenant (removed by a SCIM DELETE).</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="${view.refreshSeconds}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SCIM demo: ${escapeHtml(view.tenant)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${view.profile === 'generic' ? 'Generic RFC 7644' : 'Kestra-compatible'} SCIM server: tenant ${escapeHtml(view.tenant)}</h1>
<p class="meta">Integration <code>${escapeHtml(view.integrationId)}</code> at <code>${escapeHtml(view.basePath)}</code>. Updated ${escapeHtml(view.generatedAt.toISOString())}; reloads every ${view.refreshSeconds} s.</p>
${status}
<h2>Users (${view.users.length})</h2>
${usersTable(view)}
${withoutAccess}
<h2>Groups (${view.groups.length})</h2>
${groupsTable(view)}
</body>
</html>
`;
}
