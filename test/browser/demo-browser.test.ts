import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WALKTHROUGH } from '../../scripts/demo/demo-banner.js';
import { startDemo, type RunningDemo } from '../../scripts/demo/demo-stack.js';
import { findChromium } from '../support/chromium.js';
import { REPO_ROOT } from '../support/repo-paths.js';

/**
 * `npm run demo`'s walkthrough, as a person does it: the demo is started as the script starts
 * it (free ports, a run directory of its own), then headless Chromium signs in to Keycloak's
 * admin console, creates a user and a group, adds the user to the group, and opens the SCIM
 * server's page, where the user and the group with its member must appear.
 */

/** Where the screenshots go (gitignored), printed as they are written. */
const ARTIFACTS = join(REPO_ROOT, 'test-results', 'demo-browser');

/** `DEMO_EXPECT_SOURCE=amqp` (CI) fails the run when the demo fell back to polling. */
const expectedSource = process.env.DEMO_EXPECT_SOURCE;

let baseDir: string | undefined;
let demo: RunningDemo | undefined;
let browser: Browser | undefined;
/** Set by the test once it passed; a failed run keeps the demo's logs. */
let passed = false;

beforeAll(async () => {
  // First, so that a machine without Chromium fails at once, before Keycloak starts.
  const executablePath = await findChromium();
  console.error(`[browser] Chromium: ${executablePath}`);
  await mkdir(ARTIFACTS, { recursive: true });
  baseDir = await mkdtemp(join(tmpdir(), 'demo-browser-'));
  demo = await startDemo({
    baseDir,
    ports: 'free',
    report: (line) => {
      console.error(`[demo] ${line}`);
    },
  });
  console.error(`[demo] ${demo.mode} mode (${demo.modeReason}); ready in ${demo.startupMs} ms`);
  browser = await chromium.launch({ executablePath, headless: true });
});

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
  if (baseDir === undefined) return;
  if (passed) await rm(baseDir, { recursive: true, force: true });
  else console.error(`[demo] logs kept in ${baseDir}`);
});

async function screenshot(page: Page, name: string): Promise<void> {
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage: true });
  console.error(`[browser] screenshot: ${path}`);
}

it('a user and a group with its member, made in the admin console, appear on the SCIM page', async () => {
  if (demo === undefined || browser === undefined) throw new Error('the demo did not start');
  if (expectedSource !== undefined && expectedSource !== '') {
    expect(demo.mode, demo.modeReason).toBe(expectedSource);
  }
  const { keycloak } = demo;
  const w = WALKTHROUGH;
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  // The admin console is a large single-page app; on a busy 2-core machine it is slow.
  page.setDefaultTimeout(90_000);
  try {
    // Sign in to the master realm; the console opens on the demo realm.
    await page.goto(keycloak.adminConsoleUrl);
    await page.locator('#username').fill(keycloak.adminUsername);
    await page.locator('#password').fill(keycloak.adminPassword);
    await page.locator('#kc-login').click();
    // Keycloak 25 shows a realm selector, 26 a realm list in the sidebar: both show the nav.
    await page.locator('#nav-item-users').waitFor();

    // Users > Add user.
    await page.locator('#nav-item-users').click();
    await page.getByRole('button', { name: /^(Add user|Create new user)$/ }).click();
    await page.getByTestId('username').fill(w.username);
    await page.getByTestId('email').fill(w.email);
    await page.getByTestId('firstName').fill(w.firstName);
    await page.getByTestId('lastName').fill(w.lastName);
    // Keycloak 25's button has a test id; 26's is found by its label.
    await page
      .getByTestId('create-user')
      .or(page.getByRole('button', { name: 'Create', exact: true }))
      .click();
    await page.getByText('The user has been created').waitFor();
    // The console then shows the new user at #/<realm>/users/<id>/settings.
    await page.waitForURL(/\/users\/[0-9a-f-]{36}\//);
    const userId = /\/users\/([0-9a-f-]{36})\//.exec(page.url())?.[1];
    expect(userId).toBeDefined();

    // Groups > Create group.
    await page.locator('#nav-item-groups').click();
    await page.getByRole('button', { name: 'Create group' }).first().click();
    await page.getByRole('dialog').getByTestId('name').fill(w.group);
    await page.getByRole('dialog').getByTestId('createGroup').click();
    await page.getByText('Group created').waitFor();

    // Open the group: Members > Add member, tick the user, Add.
    await page.getByRole('link', { name: w.group, exact: true }).click();
    await page.getByTestId('members').click();
    await page.getByRole('button', { name: 'Add member' }).first().click();
    const dialog = page.getByRole('dialog');
    await dialog
      .getByRole('row', { name: new RegExp(w.email) })
      .getByRole('checkbox')
      .check();
    await dialog.getByTestId('add').click();
    await page.getByText(/1 user added to the group/i).waitFor();
    await page.getByRole('row', { name: new RegExp(w.email) }).waitFor();
    await screenshot(page, 'admin-console-members.png');

    // The SCIM server's page: the user, and the group with the user as its member.
    const userRow = page.locator('table').first().locator('tr', { hasText: w.email });
    const groupRow = page
      .locator('table')
      .nth(1)
      .locator('tr', { hasText: `/${w.group}` });
    const deadline = Date.now() + 60_000;
    for (;;) {
      await page.goto(demo.scimServer.pageUrl);
      const ready =
        (await userRow.count()) === 1 &&
        (await groupRow.locator('.member', { hasText: w.username }).count()) === 1;
      if (ready || Date.now() > deadline) break;
      await sleep(1_000);
    }
    await screenshot(page, 'scim-page.png');
    const cells = async (row: typeof userRow): Promise<string[]> =>
      (await row.locator('td').allTextContents()).map((text) => text.trim());
    expect(await page.locator('h2').allTextContents()).toEqual(['Users (1)', 'Groups (1)']);
    // userName, name, email, active, externalId (the Keycloak id).
    expect(await cells(userRow)).toEqual([
      w.username,
      `${w.firstName} ${w.lastName}`,
      w.email,
      'yes',
      userId,
    ]);
    expect((await cells(groupRow))[0]).toBe(`/${w.group}`);
    expect(await groupRow.locator('.member').allTextContents()).toEqual([w.username]);
    passed = true;
  } catch (error) {
    await screenshot(page, 'failure.png').catch(() => undefined);
    throw error;
  } finally {
    await page.close();
  }
});
