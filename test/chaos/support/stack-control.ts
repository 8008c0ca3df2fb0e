import { createServer, type Server } from 'node:http';

/**
 * The shared stack lives in the globalSetup's process, the scenarios in a worker: a scenario
 * restarts Keycloak or stops the broker by asking this endpoint (127.0.0.1 only, no auth; it
 * lives as long as the run). Each action answers once it is done, with how long it took.
 */
export type StackAction = 'keycloak/stop' | 'keycloak/start' | 'broker/stop' | 'broker/start';

export interface StackControlServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `POST /<action>`; an action's failure answers 500 with its message. */
export async function serveStackControl(
  actions: Readonly<Record<StackAction, () => Promise<void>>>,
): Promise<StackControlServer> {
  // One action at a time: a broker start racing a stop would leave the stack undefined.
  let busy: Promise<unknown> = Promise.resolve();
  const server: Server = createServer((request, response) => {
    const action = (request.url ?? '').replace(/^\//, '') as StackAction;
    const handler = request.method === 'POST' ? actions[action] : undefined;
    if (handler === undefined) {
      response.writeHead(404).end();
      return;
    }
    const began = performance.now();
    const done = busy.then(handler, handler);
    busy = done.catch(() => undefined);
    done.then(
      () => {
        response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ ms: Math.round(performance.now() - began) }));
      },
      (error: unknown) => {
        response
          .writeHead(500, { 'content-type': 'text/plain' })
          .end(error instanceof Error ? error.message : String(error));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no control port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** The scenarios' side of the control endpoint. */
export class StackControl {
  constructor(private readonly url: string) {}

  /** Runs one action on the shared stack; returns how long it took, in ms. */
  async do(action: StackAction): Promise<number> {
    const response = await fetch(`${this.url}/${action}`, {
      method: 'POST',
      signal: AbortSignal.timeout(300_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`stack control ${action} failed: ${text}`);
    const parsed: unknown = JSON.parse(text);
    const ms: unknown =
      typeof parsed === 'object' && parsed !== null ? Reflect.get(parsed, 'ms') : undefined;
    return typeof ms === 'number' ? ms : 0;
  }
}
