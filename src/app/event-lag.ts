import { USER_EVENT_TYPES } from '../domain/keycloak-event.js';
import type { KeycloakReader } from '../keycloak/keycloak-reader.js';
import { legacyDateFrom } from '../sources/event-window.js';
import type { StreamCheckpoint } from './checkpoint-summary.js';

/** Stored events read at most to measure one stream's lag. */
export const PENDING_EVENTS_CAP = 1_000;

/** How far one event stream of the poll source is behind what Keycloak stores. */
export interface StreamLag {
  readonly stream: 'admin' | 'user';
  /** Every event stored before this moment is applied (the last complete poll's start). */
  readonly coveredUntil: number;
  /** Stored events newer than that: not yet read by the relay. */
  readonly pending: number;
  /** `pending` stopped counting at {@link PENDING_EVENTS_CAP}. */
  readonly capped: boolean;
  /**
   * The time of the oldest of them (of the oldest counted, when capped on a Keycloak that
   * lists newest first): the change that has waited longest.
   */
  readonly oldestPendingAt: number | undefined;
}

/**
 * Counts the stored events of `stream` newer than the checkpoint covers, the way the poll
 * source reads them: ascending by epoch ms on Keycloak 26.2+, newest first by whole days
 * before. User events are only those the relay reads.
 */
export async function streamLag(
  keycloak: Pick<KeycloakReader, 'adminEvents' | 'userEvents'>,
  stream: 'admin' | 'user',
  checkpoint: StreamCheckpoint,
): Promise<StreamLag> {
  const coveredUntil = checkpoint.checkedAt;
  const query = checkpoint.modern
    ? { dateFrom: String(coveredUntil), direction: 'asc' as const }
    : { dateFrom: legacyDateFrom(coveredUntil) };
  const events =
    stream === 'admin'
      ? keycloak.adminEvents(query)
      : keycloak.userEvents({ ...query, types: USER_EVENT_TYPES });
  let pending = 0;
  let oldestPendingAt: number | undefined;
  for await (const raw of events) {
    const time: unknown =
      typeof raw === 'object' && raw !== null ? Reflect.get(raw, 'time') : undefined;
    if (typeof time !== 'number') continue;
    if (time <= coveredUntil) {
      // Newest first: the rest are older still. Ascending: not yet at the window.
      if (checkpoint.modern) continue;
      break;
    }
    pending++;
    oldestPendingAt = oldestPendingAt === undefined ? time : Math.min(oldestPendingAt, time);
    if (pending >= PENDING_EVENTS_CAP) break;
  }
  await events.return(undefined);
  return {
    stream,
    coveredUntil,
    pending,
    capped: pending >= PENDING_EVENTS_CAP,
    oldestPendingAt,
  };
}
