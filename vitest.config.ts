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
    ],
  },
});
