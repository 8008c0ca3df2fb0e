/**
 * The exit codes of the operator commands (`status`, `parked`, `dead-letter`), one scheme for
 * all of them, so that a script or a probe can act on each of them alike.
 */
export const OPERATOR_EXIT = {
  /** Nothing needs attention; or everything asked for was done. */
  ok: 0,
  /**
   * Something needs attention: parked work or dead letters are there, no relay runs on the
   * state; or some of what was asked for still fails (each with its reason).
   */
  attention: 1,
  /** Bad usage or configuration, or a key or id that names nothing: nothing was done. */
  usage: 2,
  /**
   * The command could not find out or act: the state, Keycloak, SCIM or RabbitMQ did not
   * answer, or a relay runs on the state and a writing command is refused.
   */
  unavailable: 3,
} as const;

export const OPERATOR_EXIT_TEXT = `Exit codes: 0 nothing needs attention (or all done), 1 something needs attention (listed),
2 bad usage or configuration, 3 could not find out or act (a server or the state did not
answer, or a relay runs on the state).`;
