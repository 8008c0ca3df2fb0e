import { defineConfig } from 'vitest/config';

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
    ],
  },
});
