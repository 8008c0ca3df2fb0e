import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The repository root, found from this file so that tests work from any working directory. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The realm files Keycloak imports at start and the tests use as a template. */
export const KEYCLOAK_CONFIG_DIR = join(REPO_ROOT, 'keycloak-config');

/** The demo realm import. */
export const DEMO_REALM_FILE = join(KEYCLOAK_CONFIG_DIR, 'realm-demo.json');
