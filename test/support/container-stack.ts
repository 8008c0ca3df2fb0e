import { basename } from 'node:path';
import { listenerEnvironment } from './keycloak-listener.js';
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
 * Starts `quay.io/keycloak/keycloak:<version>` in dev mode with the realm imports and the
 * RabbitMQ event listener, and RabbitMQ, in containers. Only used where a Docker engine answers; testcontainers is loaded on demand so
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
  /** The RabbitMQ event listener jar, installed in Keycloak's providers and pointed at the broker. */
  listenerJar: string;
}): Promise<ContainerStack> {
  const { GenericContainer, Network, TestContainers, Wait } = await import('testcontainers');
  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = async (): Promise<void> => {
    // Reverse order, and every container even when one stop fails.
    const results = await Promise.allSettled(stops.reverse().map((stop) => stop()));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  };
  try {
    // Keycloak reaches the broker from inside its container: by a network alias when the stack
    // runs its own, through the host when the broker is the host's.
    const network = await new Network().start();
    stops.push(() => network.stop());
    let amqpUrl = options.amqpUrl;
    let listenerHost: { host: string; port: string };
    if (amqpUrl === undefined) {
      const { RabbitMQContainer } = await import('@testcontainers/rabbitmq');
      const rabbit = await new RabbitMQContainer(RABBITMQ_IMAGE)
        .withNetwork(network)
        .withNetworkAliases('rabbitmq')
        .start();
      stops.push(() => rabbit.stop());
      amqpUrl = rabbit.getAmqpUrl();
      listenerHost = { host: 'rabbitmq', port: '5672' };
    } else {
      const broker = new URL(amqpUrl);
      const port = broker.port === '' ? 5672 : Number(broker.port);
      if (['127.0.0.1', 'localhost', '[::1]'].includes(broker.hostname)) {
        await TestContainers.exposeHostPorts(port);
        listenerHost = { host: 'host.testcontainers.internal', port: String(port) };
      } else {
        listenerHost = { host: broker.hostname, port: String(port) };
      }
    }
    const keycloak = await new GenericContainer(`quay.io/keycloak/keycloak:${options.version}`)
      .withNetwork(network)
      .withEnvironment({
        ...bootstrapAdminEnv(options.version, options.adminUsername, options.adminPassword),
        ...listenerEnvironment(amqpUrl),
        KK_TO_RMQ_URL: listenerHost.host,
        KK_TO_RMQ_PORT: listenerHost.port,
      })
      .withCopyFilesToContainer([
        ...options.importFiles.map((source) => ({
          source,
          target: `/opt/keycloak/data/import/${basename(source)}`,
        })),
        // start-dev re-augments the image's build when it finds the provider.
        {
          source: options.listenerJar,
          target: `/opt/keycloak/providers/${basename(options.listenerJar)}`,
        },
      ])
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
