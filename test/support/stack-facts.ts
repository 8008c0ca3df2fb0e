/**
 * What the e2e globalSetup hands to every test file (through vitest's `provide`/`inject`): where
 * the real Keycloak and RabbitMQ are and how to log in as Keycloak's admin.
 */
export interface TestStackFacts {
  /** Keycloak base URL, e.g. `http://127.0.0.1:41234`. */
  keycloakUrl: string;
  keycloakVersion: string;
  /** Master-realm admin created at bootstrap. */
  adminUsername: string;
  adminPassword: string;
  /** The realm imported from keycloak-config/realm-demo.json at start. */
  demoRealm: string;
  /** AMQP URL of the RabbitMQ the tests may use. */
  amqpUrl: string;
  /**
   * Whether Keycloak runs the real RabbitMQ event listener (`keycloak-to-rabbitmq`), pointed at
   * {@link amqpUrl}. Realms publish through it only when they list it: see `createTestRealm`'s
   * `realListener`.
   */
  realListener: boolean;
  /** The exchange the real listener publishes to (`amq.topic`, the listener's default). */
  listenerExchange: string;
  /** Where the stack came from: Keycloak's Maven distribution, or testcontainers. */
  runtime: 'local' | 'docker';
}

declare module 'vitest' {
  export interface ProvidedContext {
    testStack: TestStackFacts;
  }
}
