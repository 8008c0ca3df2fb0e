import { readdirSync, readFileSync } from 'node:fs';

/** The processes a burst's CPU time is split among, told apart by their command lines. */
const COMPONENTS: readonly { readonly name: string; readonly matches: (cmd: string) => boolean }[] =
  [
    { name: 'keycloak', matches: (cmd) => cmd.includes('java') && cmd.includes('keycloak') },
    { name: 'scimServer', matches: (cmd) => cmd.includes('scim-server/src/main') },
    { name: 'rabbitmq', matches: (cmd) => cmd.includes('beam.smp') },
  ];

/** Clock ticks per second of /proc/<pid>/stat's utime and stime: 100 on Linux. */
const TICKS_PER_SECOND = 100;

/** CPU milliseconds used so far: by this process (the relay and the bench) and by each component. */
export type CpuSnapshot = Readonly<Record<string, number>>;

export function cpuSnapshot(): CpuSnapshot {
  const own = process.cpuUsage();
  const totals: Record<string, number> = { relayProcess: (own.user + own.system) / 1000 };
  for (const { name } of COMPONENTS) totals[name] = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const component = COMPONENTS.find((c) => c.matches(cmd));
      if (component === undefined) continue;
      // Fields after the command name (which may hold spaces) start after its closing paren.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      totals[component.name] = (totals[component.name] ?? 0) + (ticks * 1000) / TICKS_PER_SECOND;
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return totals;
}

/** CPU milliseconds per event of each component between two snapshots. */
export function cpuPerEvent(
  before: CpuSnapshot,
  after: CpuSnapshot,
  events: number,
): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [name, ms] of Object.entries(after)) {
    result[name] = Number(((ms - (before[name] ?? 0)) / events).toFixed(2));
  }
  return result;
}
