import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import type { ScimServerControl } from '../packages/scim-server/src/control-client.js';
import {
  MemorySampler,
  collect,
  memoryOf,
  runMeasured,
  spawnRelay,
  stopChild,
} from './resync-child.js';

/** `users:`/`groups:` of the human report: `created 3, updated 0 (adopted 0), ..., failed 0`. */
function kindCounts(text: string, kind: string): Record<string, number> {
  const line = new RegExp(`^${kind}:\\s+(.*)$`, 'm').exec(text)?.[1];
  if (line === undefined) throw new Error(`the resync report has no "${kind}:" line:\n${text}`);
  const counts: Record<string, number> = {};
  for (const [, name, n] of line.matchAll(/([a-z]+) (\d+)/g)) {
    if (name !== undefined) counts[name] = Number(n);
  }
  return counts;
}

/**
 * Stamps each stderr line of a child with the seconds since it started. The resync prints a
 * line as each phase starts (reading, groups, users, members, prune) when stderr is no
 * terminal: that says where its time goes.
 */
function phaseTimes(child: ChildProcess): Record<string, number> {
  const started = performance.now();
  const times: Record<string, number> = {};
  let rest = '';
  child.stderr?.on('data', (chunk: Buffer | string) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      const phase = /^(reading|groups|users|members|prune)\b/.exec(line)?.[1];
      if (phase !== undefined) times[phase] = Math.round(performance.now() - started) / 1000;
    }
  });
  return times;
}

/** SCIM requests since the log was last cleared, by reads and writes. */
async function requestCounts(
  control: ScimServerControl,
): Promise<{ reads: number; writes: number }> {
  const requests = await control.requests();
  const reads = requests.filter((r) => r.method === 'GET').length;
  return { reads, writes: requests.length - reads };
}

/**
 * One `resync --json` of the real CLI in a child process: its own time (`seconds`, from its
 * report) and its process's (`processSeconds`, start-up and Keycloak login included), its peak
 * RSS, and the SCIM requests the server saw. Fails when the resync reports a failure: a bench
 * that measures a run that did not converge measures nothing.
 */
export async function resyncOnce(
  cli: string,
  env: Record<string, string>,
  concurrency: number,
  control: ScimServerControl,
) {
  // The log would otherwise hold the previous phases' requests: memory and time in the server.
  await control.clearRequests();
  // The human report rather than --json, whose progress stays silent off a terminal.
  const child = spawnRelay(cli, ['resync', '--concurrency', String(concurrency)], env);
  const phases = phaseTimes(child);
  const run = await runMeasured(child);
  if (run.code !== 0) {
    throw new Error(
      `resync exited with ${run.code}: ${run.stderr.slice(-4000)}\n${run.stdout.slice(-4000)}`,
    );
  }
  const counts = await requestCounts(control);
  return {
    seconds: Number(/^time:\s+([\d.]+) s/m.exec(run.stdout)?.[1] ?? Number.NaN),
    processSeconds: run.seconds,
    peakRssMb: run.peakRssMb,
    scimWrites: counts.writes,
    scimReads: counts.reads,
    phaseStartsAtSeconds: phases,
    users: kindCounts(run.stdout, 'users'),
    groups: kindCounts(run.stdout, 'groups'),
    memberships: kindCounts(run.stdout, 'memberships'),
  };
}

/**
 * `run` started on the state the resyncs left, until `/readyz` answers 200, then watched for
 * `idleSeconds`: its RSS at the end is the steady state (the periodic verification's slices
 * included, one a minute), the largest sample of the window shows the slices' spikes.
 */
export async function idleRun(
  cli: string,
  env: Record<string, string>,
  port: number,
  idleSeconds: number,
  control: ScimServerControl,
  say: (line: string) => void,
) {
  await control.clearRequests();
  const child = spawnRelay(cli, ['run'], env);
  const stderr = collect(child.stderr);
  collect(child.stdout);
  const pid = child.pid ?? 0;
  const sampler = new MemorySampler(pid);
  const started = performance.now();
  try {
    while (!(await ready(port))) {
      if (child.exitCode !== null)
        throw new Error(`run exited with ${child.exitCode}: ${stderr.text().slice(-4000)}`);
      await sleep(500);
    }
    const readySeconds = Math.round(performance.now() - started) / 1000;
    const startPeakMb = sampler.peakMb;
    say(
      `run ready in ${readySeconds} s (peak ${startPeakMb} MB so far); idle for ${idleSeconds} s`,
    );
    let idlePeakMb = 0;
    const deadline = performance.now() + idleSeconds * 1000;
    while (performance.now() < deadline) {
      await sleep(1000);
      idlePeakMb = Math.max(idlePeakMb, (await memoryOf(pid))?.rssMb ?? 0);
    }
    const steadyRssMb = (await memoryOf(pid))?.rssMb ?? 0;
    return {
      readySeconds,
      startPeakRssMb: startPeakMb,
      idleSeconds,
      idlePeakRssMb: idlePeakMb,
      steadyRssMb,
      scimWrites: (await requestCounts(control)).writes,
    };
  } finally {
    sampler.stop();
    await stopChild(child, 20_000);
  }
}

async function ready(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`);
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}
