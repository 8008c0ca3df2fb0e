import type { FaultSpec } from './test-api-schema.js';

/** A fault picked for one request. */
export interface InjectedFault {
  readonly spec: FaultSpec;
  /** Human-readable, for the request log. */
  readonly description: string;
}

interface QueuedFault {
  readonly id: number;
  readonly spec: FaultSpec;
  remaining: number;
}

function describe(spec: FaultSpec): string {
  const parts: string[] = [];
  if (spec.latencyMs !== undefined) parts.push(`latency ${spec.latencyMs}ms`);
  if (spec.status !== undefined) parts.push(`status ${spec.status}`);
  if (spec.drop === true) parts.push('drop');
  if (spec.status !== undefined || spec.drop === true) parts.push(`(${spec.phase})`);
  return parts.join(' ');
}

/**
 * Faults waiting for requests. Each request takes at most one: the oldest fault that matches
 * it and still has requests left.
 */
export class FaultQueue {
  #nextId = 1;
  #queue: QueuedFault[] = [];

  add(spec: FaultSpec): number {
    const id = this.#nextId++;
    this.#queue.push({ id, spec, remaining: spec.count });
    return id;
  }

  /** `scimPath` is the path below the SCIM base path, undefined for requests outside it. */
  take(method: string, scimPath: string | undefined): InjectedFault | undefined {
    const fault = this.#queue.find(({ spec }) => {
      if (spec.method !== undefined && spec.method.toUpperCase() !== method.toUpperCase()) {
        return false;
      }
      if (spec.pathPrefix === undefined) return true;
      return scimPath !== undefined && scimPath.startsWith(spec.pathPrefix);
    });
    if (fault === undefined) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.#queue = this.#queue.filter((f) => f !== fault);
    return { spec: fault.spec, description: describe(fault.spec) };
  }

  /** The faults still waiting, with how many requests each will still hit. */
  pending(): { id: number; remaining: number; spec: FaultSpec }[] {
    return this.#queue.map(({ id, remaining, spec }) => ({ id, remaining, spec }));
  }

  clear(): void {
    this.#queue = [];
  }
}
