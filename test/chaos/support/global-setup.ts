import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import {
  startKeycloakOnPostgres,
  type KeycloakOnPostgres,
} from '../../support/keycloak-postgres.js';
import { createRabbitMqNode, type RabbitMqNode } from '../../support/rabbitmq-node.js';
import type { ChaosFacts } from './chaos-facts.js';
import { buildRelay } from './relay-build.js';
import { readResults, summaryLines } from './scenario-results.js';
import { serveStackControl, type StackControlServer } from './stack-control.js';

/**
 * vitest globalSetup of the `chaos` project. One stack for every scenario: a real Keycloak on
 * the machine's PostgreSQL (a database of this run's own, dropped at the end), so that it can
 * be restarted with its data; the real RabbitMQ listener jar in its providers/, publishing to a
 * RabbitMQ node of the run's own (never the shared one on 5672), so that it can be stopped;
 * the relay and SCIM server compiled once. At the end it prints the scenarios' summary table.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const began = Date.now();
  const report = (line: string): void => {
    console.error(`[chaos] ${line}`);
  };
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logDir = join(tmpdir(), 'keycloak-scim-relay-chaos', stamp);
  await mkdir(logDir, { recursive: true });

  let broker: RabbitMqNode | undefined;
  let keycloak: KeycloakOnPostgres | undefined;
  let control: StackControlServer | undefined;
  const cleanup = async (): Promise<void> => {
    await control?.close();
    // Keycloak first: its database is dropped with it, and its listener talks to the broker.
    await keycloak?.cleanup().catch((error: unknown) => {
      report(`stopping Keycloak or dropping its database failed: ${String(error)}`);
    });
    await broker?.cleanup().catch((error: unknown) => {
      report(`stopping the RabbitMQ node failed: ${String(error)}`);
    });
  };

  try {
    // The broker's URL must be final before Keycloak's listener is pointed at it; the relay
    // compiles meanwhile.
    const node = await createRabbitMqNode({ namePrefix: 'chaos' });
    broker = node;
    const [build] = await Promise.all([buildRelay(), node.start()]);
    report(`private RabbitMQ node ${node.nodeName} at ${node.url} (log ${node.logFile})`);
    report(`relay compiled to ${build.relayEntry}`);

    const server = await startKeycloakOnPostgres({
      // No realm import: every scenario creates its own realm through the admin API.
      importFiles: [],
      listenerAmqpUrl: node.url,
      databasePrefix: 'chaos_keycloak',
      // A first start on an empty database creates the schema, and may build itself first.
      startTimeoutMs: 420_000,
      report,
    });
    keycloak = server;
    report(`Keycloak log ${server.logFile}`);

    control = await serveStackControl({
      'keycloak/stop': () => server.stop(),
      'keycloak/start': async () => {
        await server.start();
      },
      'broker/stop': () => node.stop(),
      'broker/start': async () => {
        await node.start();
      },
    });

    const facts: ChaosFacts = {
      keycloakUrl: server.keycloakUrl,
      keycloakVersion: server.version,
      adminUsername: server.adminUsername,
      adminPassword: server.adminPassword,
      amqpUrl: node.url,
      controlUrl: control.url,
      relayEntry: build.relayEntry,
      scimServerEntry: build.scimServerEntry,
      resultsFile: join(logDir, 'results.jsonl'),
      logDir,
    };
    project.provide('chaosStack', facts);
    report(`stack ready in ${Math.round((Date.now() - began) / 1000)} s; logs in ${logDir}`);
  } catch (error) {
    await cleanup();
    throw error;
  }

  return async () => {
    const results = await readResults(join(logDir, 'results.jsonl'));
    const lines = summaryLines(results, Date.now() - began);
    for (const line of lines) report(line);
    const summary = `${lines.join('\n')}\n`;
    // A stable name for the closing note, and a copy beside the run's logs.
    const summaryFile = join(tmpdir(), 'keycloak-scim-relay-chaos-summary.txt');
    await writeFile(summaryFile, summary);
    await writeFile(join(logDir, 'summary.txt'), summary);
    report(`summary written to ${summaryFile}`);
    await cleanup();
  };
}
