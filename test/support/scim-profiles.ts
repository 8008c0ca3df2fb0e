import { describe, expect } from 'vitest';
import { PROFILE_NAMES, type ProfileName } from '../../packages/scim-server/src/profile.js';
import type { StateUser } from '../../packages/scim-server/src/test-api-schema.js';
import type { HarnessScim } from './relay-harness.js';

/**
 * The SCIM server profiles the e2e suites that write to SCIM run against, so that a server less
 * kind than Kestra's (the `generic` profile: unlocked PATCH, case-exact `userName eq`, hard
 * DELETE, body-less POST, lower-case attribute names...) catches what Kestra's would let pass.
 *
 * `SCIM_PROFILES` narrows the run: `kestra`, `generic`, or both comma-separated (the default).
 */

/**
 * The generic profile's wait between a PATCH's read and its write: long enough that two PATCHes
 * to one group really overlap on a loaded machine, short enough to cost little per write.
 */
export const GENERIC_PATCH_DELAY_MS = 20;

/** One profile as a suite runs it: its name, the harness option, and where it differs. */
export interface ScimProfileCase {
  readonly name: ProfileName;
  /** What to pass as `startRelayHarness`'s `scim` option. */
  readonly scim: HarnessScim;
  /**
   * Whether the server keeps users without access to the tenant: Kestra's users are global, a
   * SCIM DELETE only takes the tenant's access away, and a create with the same userName gives
   * the old id back (`seedUser` makes such users by default). A plain server deletes for good.
   */
  readonly keepsUsersWithoutAccess: boolean;
  /**
   * Asserts that the SCIM user the relay deprovisioned (looked up in `GET /_test/state`, or
   * `undefined` when no user there matched) no longer has access to the tenant: Kestra keeps
   * the global user, and its id, with `tenantAccess: false`; a plain server deletes it.
   */
  expectAccessRemoved(user: StateUser | undefined): void;
}

const CASES: Readonly<Record<ProfileName, ScimProfileCase>> = {
  kestra: {
    name: 'kestra',
    scim: { profile: 'kestra' },
    keepsUsersWithoutAccess: true,
    expectAccessRemoved(user) {
      expect(user, 'Kestra keeps a deprovisioned user').toBeDefined();
      expect(user?.tenantAccess).toBe(false);
    },
  },
  generic: {
    name: 'generic',
    scim: { profile: 'generic', patchDelayMs: GENERIC_PATCH_DELAY_MS },
    keepsUsersWithoutAccess: false,
    expectAccessRemoved(user) {
      expect(user, 'a plain SCIM server deletes a deprovisioned user').toBeUndefined();
    },
  },
};

function isProfileName(value: string): value is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(value);
}

/**
 * The profiles `value` (a `SCIM_PROFILES` setting) names, in the order given; every profile
 * when it is unset or blank. An unknown name throws, so a typo cannot run nothing unnoticed.
 */
export function scimProfilesFrom(value: string | undefined): readonly ScimProfileCase[] {
  const names = (value ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.length === 0) return PROFILE_NAMES.map((name) => CASES[name]);
  return [...new Set(names)].map((name) => {
    if (!isProfileName(name)) {
      throw new Error(
        `SCIM_PROFILES: unknown profile "${name}" (expected a comma-separated list of ${PROFILE_NAMES.join(', ')})`,
      );
    }
    return CASES[name];
  });
}

/** The profiles this run covers, from `SCIM_PROFILES` (see {@link describeEachProfile}). */
export const SCIM_PROFILES: readonly ScimProfileCase[] = scimProfilesFrom(
  process.env.SCIM_PROFILES,
);

/**
 * Declares `suite` once per profile of this run. The profiles' copies run side by side (each
 * has its own realm, relay and SCIM server, so they share nothing but Keycloak), which keeps a
 * file's time near what one profile took; the tests inside each copy keep their order.
 */
export function describeEachProfile(
  title: string,
  suite: (profile: ScimProfileCase) => void,
): void {
  describe.concurrent.each(SCIM_PROFILES)('$name SCIM profile', (profile) => {
    describe(title, { concurrent: false }, () => {
      suite(profile);
    });
  });
}
