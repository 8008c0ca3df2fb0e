import { defineConfig } from 'vitest/config';

/**
 * The chaos suite takes minutes, runs its own Keycloak on PostgreSQL and its own RabbitMQ node,
 * and kills processes on purpose: it runs only when asked for by name (`npm run test:chaos`,
 * i.e. `vitest run --project chaos`), never as part of a plain `vitest run` (`npm test`).
 */
const requested = (name: string): boolean =>
  process.argv.some(
    (arg, i, all) => arg === `--project=${name}` || (arg === '--project' && all[i + 1] === name),
  );
const chaosRequested = requested('chaos');

/**
 * The browser suite starts `npm run demo`'s stack and drives it in Debian's Chromium (which
 * `npm ci` does not install): only when asked for (`npm run test:browser`), like chaos.
 */
const browserRequested = requested('browser');

// Two projects: `unit` is pure logic and runs anywhere in seconds; `integration` talks to a
// real Keycloak, a real RabbitMQ and the project's Kestra-compatible SCIM server.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 300_000,
        },
      },
      {
        // `e2e`: a real Keycloak (KEYCLOAK_VERSION, default 25.0.6) started once per run by the
        // globalSetup, from the cached Maven distribution or, where Docker runs, testcontainers.
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
        },
      },
      ...(chaosRequested
        ? [
            {
              // `chaos`: faults (SIGKILL, broker and Keycloak restarts, SCIM outages) against
              // one shared stack, so the scenarios run one at a time, in one worker.
              test: {
                name: 'chaos',
                include: ['test/chaos/**/*.test.ts'],
                environment: 'node',
                globalSetup: ['test/chaos/support/global-setup.ts'],
                fileParallelism: false,
                maxWorkers: 1,
                testTimeout: 300_000,
                hookTimeout: 600_000,
              },
            },
          ]
        : []),
      ...(browserRequested
        ? [
            {
              // `browser`: one demo stack and one Chromium for the file; minutes, not seconds.
              test: {
                name: 'browser',
                include: ['test/browser/**/*.test.ts'],
                environment: 'node',
                fileParallelism: false,
                testTimeout: 600_000,
                hookTimeout: 900_000,
              },
            },
          ]
        : []),
    ],
  },
});
