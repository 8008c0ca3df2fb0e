import { setTimeout as sleep } from 'node:timers/promises';
import { describeError } from '../errors.js';

/** The answer of one readiness probe. `detail` is served over HTTP: it must hold no secret. */
export interface ProbeResult {
  readonly ok: boolean;
  readonly detail?: string;
}

/** Every probe's answer, by probe name (e.g. `keycloak`, `source`, `scim`). */
export type ReadinessReport = Readonly<Record<string, ProbeResult>>;

/** What `/readyz` asks: all probes at once. */
export type ReadinessCheck = () => Promise<ReadinessReport>;

/** One readiness probe: a cheap check of one dependency, or a flag the relay keeps current. */
export type Probe = () => ProbeResult | Promise<ProbeResult>;

/** Default time a probe may take before it counts as failing. */
export const DEFAULT_PROBE_TIMEOUT_MS = 3_000;

async function runProbe(probe: Probe, timeoutMs: number): Promise<ProbeResult> {
  const timer = new AbortController();
  try {
    // A probe that hangs (a dependency that accepts connections but never answers) must fail
    // the check, not hang the orchestrator's request.
    return await Promise.race([
      Promise.resolve().then(probe),
      sleep(timeoutMs, undefined, { signal: timer.signal }).then((): ProbeResult => ({
        ok: false,
        detail: `no answer within ${timeoutMs} ms`,
      })),
    ]);
  } catch (error) {
    return { ok: false, detail: describeError(error) };
  } finally {
    timer.abort();
  }
}

/**
 * Turns named probes into one readiness check that runs them in parallel. A probe that throws
 * or takes longer than `timeoutMs` fails with the reason as its detail; the others still answer.
 */
export function readinessFromProbes(
  probes: Readonly<Record<string, Probe>>,
  options: { readonly timeoutMs?: number } = {},
): ReadinessCheck {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  return async () => {
    const entries = Object.entries(probes);
    const results = await Promise.all(entries.map(([, probe]) => runProbe(probe, timeoutMs)));
    return Object.fromEntries(entries.map(([name], i) => [name, results[i] ?? { ok: false }]));
  };
}
