import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import { connect as connectTcp, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A throwaway CA and a certificate it issued for 127.0.0.1, made with the openssl CLI. */
export async function makeCertificates(
  dir: string,
): Promise<{ ca: string; key: string; cert: string }> {
  const path = (name: string) => join(dir, name);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=relay test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    path('ca.key'),
    '-out',
    path('ca.pem'),
  ]);
  await run('openssl', [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    path('server.key'),
    '-out',
    path('server.csr'),
  ]);
  await writeFile(path('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    path('server.csr'),
    '-CA',
    path('ca.pem'),
    '-CAkey',
    path('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    path('ext.cnf'),
    '-out',
    path('server.pem'),
  ]);
  return { ca: path('ca.pem'), key: path('server.key'), cert: path('server.pem') };
}

/** An HTTPS front for a plain-HTTP server, as a TLS-terminating proxy would be. */
export async function startTlsProxy(target: URL, key: string, cert: string): Promise<Server> {
  const server = createServer(
    { key: await readFile(key), cert: await readFile(cert) },
    (incoming, outgoing) => {
      const upstream = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: incoming.url,
          method: incoming.method,
          headers: incoming.headers,
        },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      upstream.on('error', () => {
        outgoing.writeHead(502).end();
      });
      incoming.pipe(upstream);
    },
  );
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve);
  });
  return server;
}

/**
 * A TLS front for a plain TCP service (RabbitMQ's 5672, say), as a TLS-terminating load balancer
 * would be: it proves a client's trust settings against the real service behind it. `close()`
 * also cuts the connections still open, so a test never waits on a client that lingers.
 */
export async function startTlsTcpProxy(
  target: { host: string; port: number },
  key: string,
  cert: string,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createTlsServer(
    { key: await readFile(key), cert: await readFile(cert) },
    (incoming) => {
      const upstream = connectTcp(target.port, target.host);
      for (const socket of [incoming, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        // Either side failing ends the pair; the client sees a closed connection.
        socket.on('error', () => {
          incoming.destroy();
          upstream.destroy();
        });
      }
      incoming.pipe(upstream).pipe(incoming);
    },
  );
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no proxy port');
  return {
    port: address.port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
