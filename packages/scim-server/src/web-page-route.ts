import type { Request, Response } from 'express';
import type { ProfileName } from './profile.js';
import type { StoredUser } from './records.js';
import type { ScimStore } from './store.js';
import { renderWebPage, type WebPageUser, type WebPageView } from './web-page.js';

/** What the demo page needs to know besides the store. */
export interface WebPageContext {
  readonly store: ScimStore;
  readonly profile: ProfileName;
  readonly tenant: string;
  readonly integrationId: string;
  readonly basePath: string;
  /** Default 3. */
  readonly refreshSeconds?: number;
  /** Default 500. */
  readonly maxRows?: number;
}

const byText = (a: string, b: string): number =>
  a.localeCompare(b, 'en', { sensitivity: 'base' }) || a.localeCompare(b);

function userRow(user: StoredUser): WebPageUser {
  const a = user.attributes;
  const email = (a.emails.find((e) => e.primary === true) ?? a.emails[0])?.value ?? '';
  return {
    userName: a.userName,
    name: [a.givenName, a.familyName].filter((part) => part !== undefined).join(' '),
    email,
    active: a.active,
    externalId: a.externalId,
  };
}

/** Reads the store into the page's view: users with tenant access and every group, sorted. */
export function webPageView(context: WebPageContext, now: Date = new Date()): WebPageView {
  const { store } = context;
  const users: StoredUser[] = [];
  const userNames = new Map<string, string>();
  let usersWithoutAccess = 0;
  for (const user of store.allUsers()) {
    userNames.set(user.id, user.attributes.userName);
    if (user.tenantAccess) users.push(user);
    else usersWithoutAccess += 1;
  }
  const groups = Array.from(store.allGroups(), (group) => ({
    displayName: group.attributes.displayName,
    externalId: group.attributes.externalId,
    // A member id the store does not know cannot happen through SCIM; show the id if it does.
    members: Array.from(group.members.keys(), (id) => userNames.get(id) ?? id).sort(byText),
  }));
  return {
    profile: context.profile,
    tenant: context.tenant,
    integrationId: context.integrationId,
    basePath: context.basePath,
    integrationEnabled: store.enabled,
    users: users.map(userRow).sort((a, b) => byText(a.userName, b.userName)),
    groups: groups.sort((a, b) => byText(a.displayName, b.displayName)),
    usersWithoutAccess,
    generatedAt: now,
    refreshSeconds: context.refreshSeconds ?? 3,
    maxRows: context.maxRows ?? 500,
  };
}

/**
 * The express handler for `GET /`. It has no token check on purpose: it is a read-only demo
 * view, mounted only when the server is started with `web: true` (`--web`).
 */
export function webPageHandler(context: WebPageContext): (req: Request, res: Response) => void {
  return (_req, res) => {
    const html = renderWebPage(webPageView(context));
    res.status(200);
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    // Everything on the page is data from SCIM clients: forbid scripts outright, whatever slips in.
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.send(html);
  };
}
