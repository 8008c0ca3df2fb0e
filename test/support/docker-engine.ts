import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The outcome of looking for a Docker engine. */
export type DockerEngine =
  { reachable: true; endpoint: string } | { reachable: false; reason: string };

/**
 * Looks for a Docker engine that answers within `timeoutMs`. A `docker` CLI without an engine
 * (as on machines that run Keycloak from the Maven distribution) must be detected quickly, so
 * this pings the engine's socket itself instead of letting testcontainers try every strategy.
 * `KEYCLOAK_TEST_RUNTIME=local` skips the probe.
 */
export async function detectDockerEngine(
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 1_500,
): Promise<DockerEngine> {
  if (env.KEYCLOAK_TEST_RUNTIME === 'local') {
    return { reachable: false, reason: 'KEYCLOAK_TEST_RUNTIME=local' };
  }
  const dockerHost = env.DOCKER_HOST;
  if (dockerHost !== undefined && dockerHost !== '') {
    if (dockerHost.startsWith('unix://')) {
      return pingSocket(dockerHost.slice('unix://'.length), timeoutMs);
    }
    if (dockerHost.startsWith('tcp://')) return probeTcp(dockerHost, timeoutMs);
    return { reachable: false, reason: `DOCKER_HOST ${dockerHost} is not unix:// or tcp://` };
  }
  const candidates = [
    '/var/run/docker.sock',
    ...(env.XDG_RUNTIME_DIR === undefined ? [] : [join(env.XDG_RUNTIME_DIR, 'docker.sock')]),
    join(homedir(), '.docker', 'run', 'docker.sock'),
    join(homedir(), '.docker', 'desktop', 'docker.sock'),
  ].filter((path) => existsSync(path));
  const reasons: string[] = [];
  for (const socketPath of candidates) {
    const engine = await pingSocket(socketPath, timeoutMs);
    if (engine.reachable) return engine;
    reasons.push(engine.reason);
  }
  return {
    reachable: false,
    reason: reasons.length === 0 ? 'no Docker socket found' : reasons.join('; '),
  };
}

/** `GET /_ping` over a unix socket: the engine answers 200 `OK`. */
function pingSocket(socketPath: string, timeoutMs: number): Promise<DockerEngine> {
  return new Promise((resolve) => {
    const req = request(
      { socketPath, path: '/_ping', method: 'GET', timeout: timeoutMs },
      (response) => {
        response.resume();
        resolve(
          response.statusCode === 200
            ? { reachable: true, endpoint: `unix://${socketPath}` }
            : {
                reachable: false,
                reason: `${socketPath} answered /_ping with HTTP ${response.statusCode ?? '?'}`,
              },
        );
      },
    );
    req.on('timeout', () => {
      req.destroy(new Error(`no answer within ${timeoutMs} ms`));
    });
    req.on('error', (error) => {
      resolve({ reachable: false, reason: `${socketPath}: ${error.message}` });
    });
    req.end();
  });
}

/** A TCP engine (often TLS) is only probed for a listening port; testcontainers does the rest. */
function probeTcp(dockerHost: string, timeoutMs: number): Promise<DockerEngine> {
  const { hostname, port } = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port === '' ? 2375 : port) });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      resolve({ reachable: false, reason: `${dockerHost}: no answer within ${timeoutMs} ms` });
    });
    socket.on('connect', () => {
      socket.destroy();
      resolve({ reachable: true, endpoint: dockerHost });
    });
    socket.on('error', (error) => {
      resolve({ reachable: false, reason: `${dockerHost}: ${error.message}` });
    });
  });
}
