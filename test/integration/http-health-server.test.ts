import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer, type RunningHttpServer } from '../../src/http/health-server.js';
import { readinessFromProbes, type ProbeResult } from '../../src/http/readiness.js';
import { RelayMetrics } from '../../src/metrics/relay-metrics.js';

const started: RunningHttpServer[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.close()));
});

async function start(
  probes: Record<string, () => ProbeResult | Promise<ProbeResult>>,
  metrics = new RelayMetrics(),
  timeoutMs?: number,
): Promise<string> {
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    metrics: metrics.registry,
    readiness: readinessFromProbes(probes, timeoutMs === undefined ? {} : { timeoutMs }),
  });
  started.push(server);
  return `http://127.0.0.1:${server.port}`;
}

describe('health and metrics endpoint', () => {
  it('answers /healthz with 200 while it serves', async () => {
    const url = await start({});
    const response = await fetch(`${url}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz with 200 when every probe passes', async () => {
    const url = await start({
      keycloak: () => ({ ok: true }),
      scim: () => Promise.resolve({ ok: true, detail: 'answered in 3 ms' }),
    });
    const response = await fetch(`${url}/readyz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await response.json()).toEqual({
      status: 'ready',
      failing: [],
      checks: { keycloak: { ok: true }, scim: { ok: true, detail: 'answered in 3 ms' } },
    });
  });

  it('answers /readyz with 503 naming each failing probe: false, thrown, or too slow', async () => {
    const url = await start(
      {
        keycloak: () => ({ ok: true }),
        source: () => ({ ok: false, detail: 'AMQP connection closed' }),
        scim: () => {
          throw new Error('SCIM GET /ServiceProviderConfig failed with HTTP 503');
        },
        slow: () => new Promise<ProbeResult>(() => undefined),
      },
      new RelayMetrics(),
      200,
    );
    const response = await fetch(`${url}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      status: 'not ready',
      failing: ['source', 'scim', 'slow'],
      checks: {
        keycloak: { ok: true },
        source: { ok: false, detail: 'AMQP connection closed' },
        scim: { ok: false, detail: 'SCIM GET /ServiceProviderConfig failed with HTTP 503' },
        slow: { ok: false, detail: 'no answer within 200 ms' },
      },
    });
  });

  it('follows a probe as it changes: not ready, then ready', async () => {
    let connected = false;
    const url = await start({ source: () => ({ ok: connected }) });
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    connected = true;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

  it('answers 503 with the reason when the readiness check itself throws', async () => {
    const server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      metrics: new RelayMetrics().registry,
      readiness: () => Promise.reject(new Error('relay is shutting down')),
    });
    started.push(server);
    const response = await fetch(`http://127.0.0.1:${server.port}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      status: 'not ready',
      failing: [],
      checks: {},
      error: 'relay is shutting down',
    });
  });

  it('runs the probes once for concurrent /readyz requests', async () => {
    let runs = 0;
    const url = await start({
      keycloak: async () => {
        runs += 1;
        await new Promise((resolve) => setTimeout(resolve, 100));
        return { ok: true };
      },
    });
    const statuses = await Promise.all(
      Array.from({ length: 5 }, async () => (await fetch(`${url}/readyz`)).status),
    );
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(runs).toBe(1);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect(runs).toBe(2);
  });

  it('serves /metrics in the Prometheus text format with the current values', async () => {
    const metrics = new RelayMetrics();
    const url = await start({}, metrics);
    metrics.eventReceived('admin');
    metrics.scimResponse('POST', 201);
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    expect(text).toContain('# TYPE scim_relay_events_received_total counter\n');
    expect(text).toContain('scim_relay_events_received_total{kind="admin"} 1\n');
    expect(text).toContain('scim_relay_scim_responses_total{method="POST",status="201"} 1\n');
    // prom-client's default metrics are served beside the relay's.
    expect(text).toContain('# TYPE process_resident_memory_bytes gauge\n');
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge\n');
  });

  it('answers HEAD without a body, 405 for other methods and 404 elsewhere', async () => {
    const url = await start({});
    const head = await fetch(`${url}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0);
    expect(await head.text()).toBe('');

    const post = await fetch(`${url}/healthz`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');

    const missing = await fetch(`${url}/`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      error: 'no endpoint at /; try /healthz, /readyz or /metrics',
    });
    expect((await fetch(`${url}/healthz?probe=1`)).status).toBe(200);
  });

  it('answers 500 when the metrics cannot be rendered, and keeps serving', async () => {
    const server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      metrics: {
        contentType: 'text/plain; version=0.0.4; charset=utf-8',
        metrics: () => Promise.reject(new Error('broken family')),
      },
      readiness: () => Promise.resolve({}),
    });
    started.push(server);
    const url = `http://127.0.0.1:${server.port}`;
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: 'cannot answer: broken family' });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('reports the address when the port is taken, and closes open connections on close', async () => {
    const first = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      metrics: new RelayMetrics().registry,
      readiness: () => Promise.resolve({}),
    });
    started.push(first);
    await expect(
      startHttpServer({
        host: '127.0.0.1',
        port: first.port,
        metrics: new RelayMetrics().registry,
        readiness: () => Promise.resolve({}),
      }),
    ).rejects.toThrow(`cannot listen on 127.0.0.1:${first.port} (EADDRINUSE)`);

    // A keep-alive connection must not hold close() open.
    await new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: first.port,
          path: '/healthz',
          agent: false,
          headers: { Connection: 'keep-alive' },
        },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end();
    });
    await first.close();
    await first.close();
    await expect(fetch(`http://127.0.0.1:${first.port}/healthz`)).rejects.toThrow();
  });
});
