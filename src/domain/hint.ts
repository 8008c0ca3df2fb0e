/**
 * A hint says "this entity may have changed; go and look". Events become hints; reconciles read
 * Keycloak's current state and make SCIM match it. So a duplicated, reordered or incomplete
 * event can cost a redundant read, never a wrong write.
 */
export type Hint =
  | { readonly kind: 'user'; readonly userId: string }
  /**
   * `subtree`: descendants may have changed too (a rename or move changes every path below).
   * `members`: its members may differ too, e.g. after the relay created or adopted its twin in
   * passing; absent in hints kept by earlier versions, which means false.
   */
  | {
      readonly kind: 'group';
      readonly groupId: string;
      readonly subtree: boolean;
      readonly members?: boolean | undefined;
    }
  | { readonly kind: 'membership'; readonly userId: string; readonly groupId: string };

export const userHint = (userId: string): Hint => ({ kind: 'user', userId });
export const groupHint = (groupId: string, subtree = false, members = false): Hint => ({
  kind: 'group',
  groupId,
  subtree,
  ...(members ? { members } : {}),
});
export const membershipHint = (userId: string, groupId: string): Hint => ({
  kind: 'membership',
  userId,
  groupId,
});

/**
 * The serialisation key: two hints with the same key never run at once, and pending ones with the
 * same key collapse into one. Memberships share their user's key, so a user is provisioned
 * before, never beside, a change to its memberships.
 */
export function hintKey(hint: Hint): string {
  switch (hint.kind) {
    case 'user':
    case 'membership':
      return `user:${hint.userId}`;
    case 'group':
      return `group:${hint.groupId}`;
  }
}

/**
 * The key parked work is kept under: one per piece of work, so that a user's next reconcile
 * succeeding does not clear a membership of that user still parked (they share a `hintKey`).
 */
export function parkKey(hint: Hint): string {
  return hint.kind === 'membership' ? `membership:${hint.userId}:${hint.groupId}` : hintKey(hint);
}

/** A human-readable name for logs, parked items and dead-letter reasons. */
export function describeHint(hint: Hint): string {
  switch (hint.kind) {
    case 'user':
      return `user ${hint.userId}`;
    case 'group':
      return `group ${hint.groupId}${hint.subtree ? ' (and subtree)' : ''}${hint.members === true ? ' (and members)' : ''}`;
    case 'membership':
      return `membership of user ${hint.userId} in group ${hint.groupId}`;
  }
}
