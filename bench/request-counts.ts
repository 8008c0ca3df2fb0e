import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ScimServerControl } from '../packages/scim-server/src/control-client.js';

/** Requests per kind, divided by the events they served. */
export interface RequestsPerEvent {
  readonly keycloakReads: number;
  readonly scimReads: number;
  readonly scimWrites: number;
}

/** What one window of work cost on each side, in requests. */
export interface RequestTally {
  /** GETs of users and groups (the relay's reads of the entities it reconciles). */
  readonly keycloakReads: number;
  /** GETs of the realm's stored events (the backstop, running on its own clock). */
  readonly keycloakEventReads: number;
  /** Token requests and anything else that is not a GET. */
  readonly keycloakOther: number;
  readonly scimReads: number;
  readonly scimWrites: number;
}

interface UndiciRequest {
  readonly origin?: unknown;
  readonly method?: unknown;
  readonly path?: unknown;
}

/**
 * Counts the HTTP requests this process sends to Keycloak, as Node's HTTP client announces each
 * one on the `undici:request:create` diagnostics channel. The relay runs in this process, and the
 * bench sends nothing to Keycloak while a window is open, so what is counted is the relay's.
 */
export class KeycloakRequestCounter {
  private reads = 0;
  private eventReads = 0;
  private other = 0;
  private readonly listener = (message: unknown): void => {
    const request = (message as { request?: UndiciRequest }).request;
    if (request === undefined || String(request.origin) !== this.origin) return;
    const path = String(request.path);
    if (request.method !== 'GET') this.other++;
    else if (/\/(admin-)?events(\?|$)/.test(path)) this.eventReads++;
    else this.reads++;
  };

  constructor(private readonly origin: string) {
    subscribe('undici:request:create', this.listener);
  }

  snapshot(): { reads: number; eventReads: number; other: number } {
    return { reads: this.reads, eventReads: this.eventReads, other: this.other };
  }

  close(): void {
    unsubscribe('undici:request:create', this.listener);
  }
}

/** Opens a counting window: Keycloak from the relay's client, SCIM from the server's log. */
export async function openWindow(
  keycloak: KeycloakRequestCounter,
  scim: ScimServerControl,
): Promise<() => Promise<RequestTally>> {
  const since = (await scim.requests()).at(-1)?.seq ?? 0;
  const before = keycloak.snapshot();
  return async () => {
    const after = keycloak.snapshot();
    const requests = (await scim.requests({ since })).filter((r) => r.scimPath !== null);
    // A search is a read, whatever its method.
    const reads = requests.filter((r) => r.method === 'GET' || r.scimPath?.endsWith('/.search'));
    return {
      keycloakReads: after.reads - before.reads,
      keycloakEventReads: after.eventReads - before.eventReads,
      keycloakOther: after.other - before.other,
      scimReads: reads.length,
      scimWrites: requests.length - reads.length,
    };
  };
}

export function perEvent(tally: RequestTally, events: number): RequestsPerEvent {
  const round = (n: number): number => Number((n / events).toFixed(2));
  return {
    keycloakReads: round(tally.keycloakReads),
    scimReads: round(tally.scimReads),
    scimWrites: round(tally.scimWrites),
  };
}
