import { createServer } from 'node:net';
import { freePort } from '../../test/support/free-port.js';

/** The ports the demo prefers, as in docker-compose.yml, so that the printed URLs are familiar. */
export const PREFERRED_PORTS = { keycloak: 8080, scimServer: 8880, relay: 9464 } as const;

/** Whether nothing listens on `port` of 127.0.0.1 right now (a bind to it succeeds). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => {
      resolve(false);
    });
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.close(() => {
        resolve(true);
      });
    });
  });
}

/**
 * `preferred` when it is free, else a free port. `undefined` asks for a free port outright, as
 * the browser test does so that it never collides with a demo someone is running.
 */
export async function choosePort(preferred: number | undefined): Promise<number> {
  if (preferred !== undefined && (await isPortFree(preferred))) return preferred;
  return freePort();
}
