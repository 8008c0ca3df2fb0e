/**
 * What the chaos suite's globalSetup hands to every scenario file: the shared Keycloak (on
 * PostgreSQL, with the real RabbitMQ listener), the private RabbitMQ node, and where the
 * compiled relay and SCIM server are. Scenarios run in a worker process, so they restart
 * Keycloak and the broker through the stack's control endpoint, not through objects.
 */
export interface ChaosFacts {
  /** Keycloak base URL, e.g. `http://127.0.0.1:41234`. */
  readonly keycloakUrl: string;
  readonly keycloakVersion: string;
  /** Master-realm admin created at bootstrap. */
  readonly adminUsername: string;
  readonly adminPassword: string;
  /** The private RabbitMQ node's URL; never the shared broker on 5672. */
  readonly amqpUrl: string;
  /** Origin of the control endpoint (`stack-control.ts`): restarts Keycloak, stops the broker. */
  readonly controlUrl: string;
  /** The compiled relay entry point (`.../src/cli.js`), run as the container runs it. */
  readonly relayEntry: string;
  /** The compiled SCIM server entry point (`.../scim-server/main.js`). */
  readonly scimServerEntry: string;
  /** Where each scenario appends its result, one JSON line each, for the closing summary. */
  readonly resultsFile: string;
  /** Where scenario logs (relay, SCIM server) go. */
  readonly logDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    chaosStack: ChaosFacts;
  }
}
