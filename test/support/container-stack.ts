import { basename } from 'node:path';
import { bootstrapAdminEnv } from './keycloak-process.js';

/** Keycloak and RabbitMQ from testcontainers; `stop()` removes both containers. */
export interface ContainerStack {
  keycloakUrl: string;
  amqpUrl: string;
  stop(): Promise<void>;
}

/** The RabbitMQ image used where Docker runs the tests. */
export const RABBITMQ_IMAGE = 'rabbitmq:3.13-management-alpine';

/**
 * Starts `quay.io/keycloak/keycloak:<version>` in dev mode with the realm imports, and RabbitMQ,
 * in containers. Only used where a Docker engine answers; testcontainers is loaded on demand so
 * the local path never pays for it.
 */
export async function startContainerStack(options: {
  version: string;
  adminUsername: string;
  adminPassword: string;
  importFiles: readonly string[];
  /** Realm whose discovery endpoint answering means the import finished. */
  readinessRealm: string;
  /** Skip the RabbitMQ container and use this broker. */
  amqpUrl?: string | undefined;
}): Promise<ContainerStack> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = async (): Promise<void> => {
    // Reverse order, and every container even when one stop fails.
    const results = await Promise.allSettled(stops.reverse().map((stop) => stop()));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  };
  try {
    let amqpUrl = options.amqpUrl;
    if (amqpUrl === undefined) {
      const { RabbitMQContainer } = await import('@testcontainers/rabbitmq');
      const rabbit = await new RabbitMQContainer(RABBITMQ_IMAGE).start();
      stops.push(() => rabbit.stop());
      amqpUrl = rabbit.getAmqpUrl();
    }
    const keycloak = await new GenericContainer(`quay.io/keycloak/keycloak:${options.version}`)
      .withEnvironment(
        bootstrapAdminEnv(options.version, options.adminUsername, options.adminPassword),
      )
      .withCopyFilesToContainer(
        options.importFiles.map((source) => ({
          source,
          target: `/opt/keycloak/data/import/${basename(source)}`,
        })),
      )
      .withCommand(['start-dev', '--import-realm', '--db=dev-mem', '--http-port=8080'])
      .withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp(`/realms/${options.readinessRealm}`, 8080).forStatusCode(200))
      .withStartupTimeout(300_000)
      .start();
    stops.push(() => keycloak.stop());
    return {
      keycloakUrl: `http://${keycloak.getHost()}:${keycloak.getMappedPort(8080)}`,
      amqpUrl,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}
