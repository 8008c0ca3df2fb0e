import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MemberChange } from './member-draft.js';
import { applyGroupPatch, applyUserPatchTo, type PatchOperation } from './patch.js';
import type { MemberInput } from './records.js';
import type { ScimStore } from './store.js';

/**
 * The generic profile's PATCH: read the resource, wait, apply the operations to what was read,
 * write the whole resource back. Nothing stops another request from writing in between, and
 * the write-back then overwrites it: the lost update of a server without locks, which a client
 * must prevent itself (one PATCH per group at a time, or `If-Match`).
 */
export interface UnlockedPatch {
  /** The window between the read and the write. */
  readonly wait: () => Promise<void>;
  /**
   * Throws 412 unless `If-Match` names this version. Checked at the read and again at the
   * write, where it is what stops a conditional PATCH from overwriting a newer version.
   */
  readonly precondition: (version: number) => void;
}

/** A wait of `delayMs`, or of one macrotask at 0 so that concurrent requests still interleave. */
export function readWriteWindow(delayMs: number): () => Promise<void> {
  return delayMs > 0 ? () => sleep(delayMs) : () => nextMacrotask();
}

export async function patchUserUnlocked(
  store: ScimStore,
  id: string,
  operations: readonly PatchOperation[],
  keepExtras: boolean,
  patch: UnlockedPatch,
): Promise<void> {
  const read = store.getUser(id);
  patch.precondition(read.version);
  const { attributes, extra } = read;
  await patch.wait();
  const result = applyUserPatchTo(attributes, extra, operations, keepExtras);
  patch.precondition(store.getUser(id).version);
  store.replaceUser(id, result.attributes, result.extra);
}

/**
 * The full member list a group PATCH writes back: the members that were read, changed by the
 * PATCH. Members deleted since the read are dropped, as a database's foreign key would, so a
 * stale list never names a user that is gone; members the PATCH adds are kept for the store to
 * refuse if they do not exist.
 */
export function membersToWriteBack(
  read: ReadonlyMap<string, string | undefined>,
  change: MemberChange,
  exists: (userId: string) => boolean,
): MemberInput[] {
  const members: MemberInput[] = [];
  if (!change.cleared) {
    for (const [value, display] of read) {
      if (!change.removed.has(value) && exists(value)) members.push({ value, display });
    }
  }
  for (const [value, display] of change.added) members.push({ value, display });
  return members;
}

export async function patchGroupUnlocked(
  store: ScimStore,
  id: string,
  operations: readonly PatchOperation[],
  patch: UnlockedPatch,
): Promise<void> {
  const read = store.getGroup(id);
  patch.precondition(read.version);
  const { attributes } = read;
  // The store changes its member map in place; the copy is the snapshot this PATCH works on.
  const members = new Map(read.members);
  await patch.wait();
  const result = applyGroupPatch(attributes, members, operations);
  patch.precondition(store.getGroup(id).version);
  store.replaceGroup(
    id,
    result.attributes,
    membersToWriteBack(members, result.members, (userId) => store.hasUser(userId)),
  );
}
