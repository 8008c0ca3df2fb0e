import type { TestProject } from 'vitest/node';
import { startTestStack } from './test-stack.js';

/**
 * vitest globalSetup of the `e2e` project: one Keycloak (and RabbitMQ) for the whole run,
 * announced in one line; the server's own output goes to its log file.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stack = await startTestStack(process.env, (line) => {
    console.error(`[e2e] ${line}`);
  });
  const { facts } = stack;
  console.error(
    `[e2e] Keycloak ${facts.keycloakVersion} (${facts.runtime}) at ${facts.keycloakUrl}, ` +
      `prepared in ${stack.timings.prepareMs} ms, started in ${stack.timings.startMs} ms` +
      (stack.keycloakLog === undefined ? '' : `; log: ${stack.keycloakLog}`),
  );
  project.provide('testStack', facts);
  return () => stack.stop();
}
